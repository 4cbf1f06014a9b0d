package batch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
)

func TestBatchCollisions(t *testing.T) {
	root := t.TempDir()
	model, err := os.ReadFile(fixture.Convert("rnn_tanh.pt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"a/m.pt", "b/m.pt", "c/w.pt", "c/w.pth", "c/alone.pt"} {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, model, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(root, "out")
	for _, shards := range []int{0, 2} {
		for shard := 0; shard < max(shards, 1); shard++ {
			os.RemoveAll(out)
			sum, results := runBatch(t, Options{
				Inputs: []string{filepath.Join(root, "a/m.pt"), filepath.Join(root, "b/m.pt"), filepath.Join(root, "c")},
				OutDir: out, To: convert.Safetensors, Jobs: 2, Shard: shard, Shards: shards,
			})
			for in, r := range results {
				alone := strings.HasSuffix(in, "alone.pt")
				if alone != (r.Status == StatusOK) || !alone && !strings.Contains(r.Error, "inputs would write the output") {
					t.Errorf("shard %d/%d: %s: %s %s", shard, shards, in, r.Status, r.Error)
				}
			}
			if shards == 0 && (sum.Failed != 4 || sum.OK != 1) {
				t.Errorf("%+v", sum)
			}
			for _, name := range []string{"m.safetensors", "c/w.safetensors"} {
				if _, err := os.Stat(filepath.Join(out, name)); err == nil {
					t.Errorf("shard %d/%d: %s was written", shard, shards, name)
				}
			}
		}
	}
}

// TestBatchSameInputTwice: a file named twice, by one path or by two (a symbolic link,
// ./ in front), and a folder given twice, are each taken once, not a collision with
// themselves; a list naming a file twice too.
func TestBatchSameInputTwice(t *testing.T) {
	root := t.TempDir()
	model, err := os.ReadFile(fixture.Convert("rnn_tanh.pt"))
	if err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(root, "a", "m.pt")
	os.MkdirAll(filepath.Dir(m), 0o755)
	if err := os.WriteFile(m, model, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "m.pt")
	if err := os.Symlink(m, link); err != nil {
		t.Fatal(err)
	}
	dotted := filepath.Join(root, "a", ".", "m.pt")
	for _, c := range []struct {
		name   string
		inputs []string
		list   string
	}{
		{"same path", []string{m, m}, ""},
		{"a link and its file", []string{m, link}, ""},
		{"two spellings", []string{dotted, m}, ""},
		{"a folder twice", []string{filepath.Join(root, "a"), filepath.Join(root, "a") + "/"}, ""},
		{"a list", nil, m + "\n" + link + "\n" + m + "\n"},
	} {
		out := filepath.Join(root, "out")
		os.RemoveAll(out)
		opts := Options{Inputs: c.inputs, OutDir: out, To: convert.Safetensors, Jobs: 2}
		if c.list != "" {
			opts.List = strings.NewReader(c.list)
		}
		sum, results := runBatch(t, opts)
		if sum.Files != 1 || sum.OK != 1 {
			t.Errorf("%s: %+v %v; want one input, converted", c.name, sum, results)
		}
	}
}
