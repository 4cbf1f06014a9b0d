package batch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/export"
	"github.com/ptport/ptport/convert/internal/fixture"
)

// TestBatchNeverReplacesForeign: a file at an output path that ptport did not write (it
// records no source: a config of the user's, an npz or safetensors that ptport convert
// wrote, a JSON document whose first key is named "source" but is not a source) is
// never replaced, with or without Force, whether the output folder holds the inputs or
// not: the input fails with a *ReplaceError naming the file, which is left as it was.
func TestBatchNeverReplacesForeign(t *testing.T) {
	cp, err := convert.Open(fixture.Convert("rnn_tanh.pt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	for _, inPlace := range []bool{true, false} {
		root := t.TempDir()
		copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "zoo/model.pt")
		zoo := filepath.Join(root, "zoo")
		out := zoo
		if !inPlace {
			out = filepath.Join(root, "out")
			os.MkdirAll(out, 0o755)
		}
		foreign := map[convert.Format]string{
			convert.JSON: `{"lr": 0.01, "note": "my precious config"}`,
		}
		for _, f := range []convert.Format{convert.Safetensors, convert.NPZ} {
			p := filepath.Join(out, "model"+f.Ext())
			if err := convert.Export(context.Background(), p, f, cp); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(p)
			foreign[f] = string(b)
		}
		for _, doc := range []string{"", `{"source": {"size": 1, "sha256": "not a hash"}, "lr": 1}`} {
			if doc != "" {
				foreign[convert.JSON] = doc
			}
			os.WriteFile(filepath.Join(out, "model.json"), []byte(foreign[convert.JSON]), 0o644)
			for f, content := range foreign {
				for _, force := range []bool{false, true} {
					sum, results := runBatch(t, Options{Inputs: []string{zoo}, OutDir: out, To: f, Force: force})
					path := filepath.Join(out, "model"+f.Ext())
					r := results[filepath.Join(zoo, "model.pt")]
					var re *ReplaceError
					if sum.Files != 1 || r.Status != StatusFailed || !errors.As(r.Err, &re) || re.Path != path || re.Recorded {
						t.Errorf("in place %v, --to %s, force %v: %+v, want a *ReplaceError for %s", inPlace, f, force, r, path)
					}
					if now, _ := os.ReadFile(path); !bytes.Equal(now, []byte(content)) {
						t.Errorf("in place %v, --to %s: %s was replaced", inPlace, f, path)
					}
				}
			}
		}
	}
}

// TestBatchReplacesOnlyItsInput: ptport's output is replaced only by a conversion of
// the input it records (by its path relative to its root), when that input changed;
// one that records another input (m.pt made from m.ckpt elsewhere, copied beside
// m.pth) is a collision: the input fails with a *ReplaceError naming both, and the
// file stays.
func TestBatchReplacesOnlyItsInput(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "orig/m.ckpt")
	if sum, _ := runBatch(t, Options{Inputs: []string{filepath.Join(root, "orig")}, OutDir: filepath.Join(root, "conv"), To: convert.PT}); sum.OK != 1 {
		t.Fatalf("%+v", sum)
	}
	copyInto(t, root, filepath.Join(root, "conv", "m.pt"), "zoo/m.pt")
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "zoo/m.pth")
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/new.pth")
	zoo := filepath.Join(root, "zoo")
	gru, _ := os.ReadFile(filepath.Join(zoo, "m.pt"))
	opts := Options{Inputs: []string{zoo}, OutDir: zoo, To: convert.PT}
	for run, want := range []string{StatusOK, StatusSkipped, StatusOK} {
		if run == 2 { // new.pth changes: its output is converted again
			copyInto(t, root, fixture.Convert("module_rnn.pt"), "zoo/new.pth")
		}
		sum, results := runBatch(t, opts)
		r := results[filepath.Join(zoo, "m.pth")]
		var re *ReplaceError
		if !errors.As(r.Err, &re) || re.Path != filepath.Join(zoo, "m.pt") || !re.Recorded || re.Of != "m.ckpt" {
			t.Errorf("run %d: m.pth: %+v, want a *ReplaceError naming m.pt, ptport's output of m.ckpt", run, r)
		}
		if r := results[filepath.Join(zoo, "new.pth")]; r.Status != want || sum.Files != 2 {
			t.Errorf("run %d: new.pth: %+v, want %s; %+v", run, r, want, sum)
		}
		if now, _ := os.ReadFile(filepath.Join(zoo, "m.pt")); !bytes.Equal(now, gru) {
			t.Fatalf("run %d: m.pt was replaced", run)
		}
	}
	sameTensors(t, filepath.Join(zoo, "new.pth"), filepath.Join(zoo, "new.pt"))
	// The same input listed as zoo/new.pth into the folder above, once changed, is
	// converted again to the same output.
	t.Chdir(root)
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "zoo/new.pth")
	_, results := runBatch(t, Options{List: strings.NewReader("zoo/new.pth\n"), OutDir: ".", To: convert.PT})
	if r := results["zoo/new.pth"]; r.Status != StatusOK || r.Output != filepath.Join("zoo", "new.pt") {
		t.Errorf("listed: %+v, want zoo/new.pt converted again", r)
	}
	sameTensors(t, filepath.Join(zoo, "new.pth"), filepath.Join(zoo, "new.pt"))
}

// TestBatchOlderOutputs: an output of an older version records its source without the
// input's name: it is up to date for an input of that content, and otherwise not
// replaced, since nothing says whose output it is.
func TestBatchOlderOutputs(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/m.pt")
	zoo, out := filepath.Join(root, "zoo"), filepath.Join(root, "out")
	in := filepath.Join(zoo, "m.pt")
	old := filepath.Join(out, "m.safetensors")
	written := writeOlderOutput(t, in, "", old) // as older versions recorded it, naming no input
	opts := Options{Inputs: []string{zoo}, OutDir: out, To: convert.Safetensors}
	if _, results := runBatch(t, opts); results[in].Status != StatusSkipped {
		t.Errorf("unchanged input: %+v, want it up to date", results[in])
	}
	// Forced while its input is unchanged, it is rewritten naming its input (the
	// upgrade path that the error says), and so is replaced once the input changes.
	forced := opts
	forced.Force = true
	if _, results := runBatch(t, forced); results[in].Status != StatusOK {
		t.Errorf("unchanged input, forced: %+v, want it converted", results[in])
	}
	if src, _, err := readSource(context.Background(), old, convert.Safetensors, false); err != nil || src.Input != "m.pt" || src.Place == "" {
		t.Errorf("forced: the output records %+v, %v: want its input", src, err)
	}
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "zoo/m.pt")
	if _, results := runBatch(t, opts); results[in].Status != StatusOK {
		t.Errorf("changed after the forced run: %+v, want it converted", results[in])
	}
	os.WriteFile(old, written, 0o644) // the older version's again
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "zoo/m.pt")
	_, results := runBatch(t, opts)
	var re *ReplaceError
	if r := results[in]; !errors.As(r.Err, &re) || !re.Recorded || re.Of != "" {
		t.Errorf("changed input: %+v, want a *ReplaceError for an output that names no input", r)
	}
	if now, _ := os.ReadFile(old); !bytes.Equal(now, written) {
		t.Error("the older output was replaced")
	}
}

// writeOlderOutput writes the safetensors output at path of the input in, as older
// versions recorded its source: naming the input rel, or no input when rel is "", and
// never its place; it returns the bytes written.
func writeOlderOutput(t *testing.T, in, rel, path string) []byte {
	t.Helper()
	fi, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := fileSourceOf(context.Background(), inputFile{path: in, size: fi.Size(), mod: fi.ModTime()})
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := (&source{fileSource: fs, Input: rel}).metadata()
	cp, err := convert.Open(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	var buf bytes.Buffer
	if err := export.Write(&buf, "safetensors", path, cp.Root, cp.Leaves, meta); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBatchNeverReplacesForeignShards: an output in shards replaces, or removes, only
// the shards of its own earlier output: a file beside it named as one of its shards
// that no index of ptport's names, or an index that records no source, fails the
// input and stays.
func TestBatchNeverReplacesForeignShards(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "zoo/m.pt")
	zoo, out := filepath.Join(root, "zoo"), filepath.Join(root, "out")
	opts := Options{Inputs: []string{zoo}, OutDir: out, To: convert.Safetensors, MaxShardSize: 512}
	if sum, _ := runBatch(t, opts); sum.OK != 1 {
		t.Fatalf("%+v", sum)
	}
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/m.pt") // changed: converted again
	if sum, results := runBatch(t, opts); sum.OK != 1 {
		t.Fatalf("the changed input: %+v %v", sum, results)
	}
	for _, name := range []string{"m-00007-of-00009.safetensors", "m.safetensors.index.json"} {
		path := filepath.Join(out, name)
		os.WriteFile(path, []byte("the user's"), 0o644)
		if name == "m.safetensors.index.json" { // an index of the user's, without ptport's shards
			entries, _ := os.ReadDir(out)
			for _, e := range entries {
				if e.Name() != name {
					os.Remove(filepath.Join(out, e.Name()))
				}
			}
		}
		copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "zoo/m.pt")
		_, results := runBatch(t, opts)
		var re *ReplaceError
		if r := results[filepath.Join(zoo, "m.pt")]; !errors.As(r.Err, &re) || re.Path != path || re.Recorded {
			t.Errorf("%s: %+v, want a *ReplaceError naming it", name, r)
		}
		if b, _ := os.ReadFile(path); string(b) != "the user's" {
			t.Errorf("%s was replaced or removed", name)
		}
		os.Remove(path)
	}
}

// TestReplaceErrorSaysWhatToDo: each refusal to replace a file says how to convert the
// input anyway, without naming a flag.
func TestReplaceErrorSaysWhatToDo(t *testing.T) {
	for _, e := range []*ReplaceError{
		{Path: "zoo/model.json"},
		{Path: "zoo/m.pt", Recorded: true, Of: "m.ckpt"},
		{Path: "out/m.safetensors", Recorded: true, Of: "m.pt", Elsewhere: true},
		{Path: "zoo/m.pt", Recorded: true},
	} {
		msg := e.Error()
		if !strings.Contains(msg, "remove the file") || strings.Contains(msg, "--") {
			t.Errorf("%+v: %q: want a remedy that names no flag", e, msg)
		}
		if e.Recorded && e.Of == "" && !strings.Contains(msg, "forced conversion") {
			t.Errorf("%+v: %q: want the upgrade path of an older version's output", e, msg)
		}
	}
}
