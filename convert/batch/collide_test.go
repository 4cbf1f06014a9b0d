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
