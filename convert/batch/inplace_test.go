package batch

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
)

// TestBatchIntoInputFolder: outputs written into the folders of the inputs (the output
// folder being an input folder, one of its subfolders holding inputs, or the working
// directory both) convert every input; a rerun finds the outputs, which record their
// source, and takes none of them as an input, so that it converts nothing.
func TestBatchIntoInputFolder(t *testing.T) {
	for _, to := range []convert.Format{convert.Safetensors, convert.PT} {
		for _, c := range []struct{ in, out string }{
			{"zoo", "zoo"},
			{"zoo", "zoo/sub"}, // a subfolder holding inputs of its own
			{".", "."},
		} {
			t.Run(string(to)+":"+c.in+"->"+c.out, func(t *testing.T) {
				root := t.TempDir()
				copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/rnn.pth")
				copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "zoo/sub/lstm.pth")
				copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "zoo/sub/deeper/gru.ckpt")
				t.Chdir(root)
				opts := Options{Inputs: []string{c.in}, OutDir: c.out, To: to}
				plan, err := NewPlan(opts)
				if err != nil {
					t.Fatal(err)
				}
				sum, results := runBatch(t, opts)
				if plan.Files != 3 || sum.OK != 3 || sum.Files != 3 {
					t.Fatalf("plan %+v, summary %+v, want the 3 inputs converted", plan, sum)
				}
				for in, r := range results {
					sameTensors(t, in, r.Output)
				}
				if plan, err := NewPlan(opts); err != nil || plan.Files != 3 {
					t.Errorf("plan of the rerun %+v, %v: want the 3 inputs, not their outputs", plan, err)
				}
				if sum, results := runBatch(t, opts); sum.Skipped != 3 || sum.Files != 3 {
					t.Errorf("rerun %+v, want the 3 inputs up to date: %v", sum, results)
				}
			})
		}
	}
}

// TestBatchOutputsAsInputs: the outputs of a batch are the inputs of a batch into
// another folder, but not of one into their own folder, whatever its format.
func TestBatchOutputsAsInputs(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "raw/rnn.pth")
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "raw/sub/lstm.ckpt")
	conv := filepath.Join(root, "conv")
	if sum, _ := runBatch(t, Options{Inputs: []string{filepath.Join(root, "raw")}, OutDir: conv, To: convert.PT}); sum.OK != 2 {
		t.Fatalf("%+v", sum)
	}
	sum, results := runBatch(t, Options{Inputs: []string{conv}, OutDir: filepath.Join(root, "st"), To: convert.Safetensors})
	if sum.OK != 2 || sum.Files != 2 {
		t.Fatalf("%+v, want the 2 .pt outputs converted to safetensors", sum)
	}
	for in, r := range results {
		sameTensors(t, in, r.Output)
	}
	if sum, results := runBatch(t, Options{Inputs: []string{conv}, OutDir: conv, To: convert.Safetensors}); sum.Files != 0 {
		t.Errorf("%+v %v: want no input, the .pt files being outputs in their output folder", sum, results)
	}
}

// TestBatchNeverOverInput: an output that would be an input file itself (a .pt into its
// own folder as .pt, named or found by a walk) fails that input, which stays as it
// was; a file there that records no source is an input, never taken for an output and
// written over: beside another input of its output, both fail.
func TestBatchNeverOverInput(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/own.pt")
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/pair.pt")
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "zoo/pair.pth")
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "zoo/new.pth")
	zoo := filepath.Join(root, "zoo")
	before := map[string][]byte{}
	for _, name := range []string{"own.pt", "pair.pt", "pair.pth"} {
		before[name], _ = os.ReadFile(filepath.Join(zoo, name))
	}
	for run := range 2 {
		sum, results := runBatch(t, Options{Inputs: []string{zoo}, OutDir: zoo, To: convert.PT})
		if r := results[filepath.Join(zoo, "own.pt")]; r.Status != StatusFailed || !strings.Contains(r.Error, "would be the input itself") {
			t.Errorf("run %d: own.pt: %+v", run, r)
		}
		for _, name := range []string{"pair.pt", "pair.pth"} {
			if r := results[filepath.Join(zoo, name)]; r.Status != StatusFailed || !strings.Contains(r.Error, "inputs would write") {
				t.Errorf("run %d: %s: %+v, want a collision", run, name, r)
			}
		}
		want := StatusOK
		if run > 0 {
			want = StatusSkipped // and new.pt, its output, is not an input
		}
		if r := results[filepath.Join(zoo, "new.pth")]; r.Status != want || sum.Files != 4 {
			t.Errorf("run %d: new.pth: %+v, want %s; %+v", run, r, want, sum)
		}
	}
	for name, b := range before {
		if now, _ := os.ReadFile(filepath.Join(zoo, name)); !bytes.Equal(now, b) {
			t.Errorf("%s was written over", name)
		}
	}
	_, results := runBatch(t, Options{Inputs: []string{filepath.Join(zoo, "own.pt")}, OutDir: zoo, To: convert.PT})
	if r := results[filepath.Join(zoo, "own.pt")]; r.Status != StatusFailed || !strings.Contains(r.Error, "would be the input itself") {
		t.Errorf("own.pt named: %+v", r)
	}
}

// TestBatchIntoInputFolderShards: shards writing into the folder of their inputs, one
// after the other, take each input once, never an output another shard wrote.
func TestBatchIntoInputFolderShards(t *testing.T) {
	root := t.TempDir()
	for i, name := range []string{"rnn_tanh", "lstm_proj_bi", "gru_batch_first", "module_rnn", "nested_checkpoint"} {
		copyInto(t, root, fixture.Convert(name+".pt"), filepath.Join("zoo", string(rune('a'+i)), name+".pth"))
	}
	zoo := filepath.Join(root, "zoo")
	seen := map[string]int{}
	for k := range 3 {
		_, results := runBatch(t, Options{Inputs: []string{zoo}, OutDir: zoo, To: convert.PT, Shard: k, Shards: 3})
		for in, r := range results {
			if r.Status != StatusOK {
				t.Errorf("shard %d/3: %s: %+v", k, in, r)
			}
			seen[in]++
		}
	}
	if len(seen) != 5 {
		t.Errorf("the shards took %v, want the 5 inputs", seen)
	}
	for in, n := range seen {
		if n != 1 {
			t.Errorf("%s taken %d times", in, n)
		}
	}
	if sum, _ := runBatch(t, Options{Inputs: []string{zoo}, OutDir: zoo, To: convert.PT}); sum.Files != 5 || sum.Skipped != 5 {
		t.Errorf("rerun %+v, want the 5 inputs up to date", sum)
	}
}

// TestBatchInPlaceEveryFormat: into the input folder to .pt, then to every other
// format, each batch converts the inputs alone (ptport's outputs of every format,
// which record their source, are not inputs) and its rerun converts nothing; outputs
// in a subfolder of the output folder are not inputs either.
func TestBatchInPlaceEveryFormat(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/a.pth")
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "zoo/b.ckpt")
	zoo := filepath.Join(root, "zoo")
	inputs := []string{filepath.Join(zoo, "a.pth"), filepath.Join(zoo, "b.ckpt")}
	for _, to := range []convert.Format{convert.PT, convert.Safetensors, convert.NPZ, convert.JSON} {
		opts := Options{Inputs: []string{zoo}, OutDir: zoo, To: to, Include: []string{"*"}}
		for run, want := range []string{StatusOK, StatusSkipped} {
			sum, results := runBatch(t, opts)
			if sum.Files != 2 {
				t.Errorf("--to %s, run %d: %+v %v, want the 2 inputs alone", to, run, sum, results)
			}
			for _, in := range inputs {
				if r := results[in]; r.Status != want {
					t.Errorf("--to %s, run %d: %s: %+v, want %s", to, run, in, r, want)
				}
			}
		}
	}
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "z2/a.ckpt")
	z2 := filepath.Join(root, "z2")
	if sum, _ := runBatch(t, Options{Inputs: []string{z2}, OutDir: filepath.Join(z2, "pt"), To: convert.PT}); sum.OK != 1 {
		t.Fatalf("into z2/pt: %+v", sum)
	}
	sum, results := runBatch(t, Options{Inputs: []string{z2}, OutDir: z2, To: convert.Safetensors})
	if r := results[filepath.Join(z2, "a.ckpt")]; sum.Files != 1 || r.Status != StatusOK {
		t.Errorf("after outputs in z2/pt: %+v %v, want a.ckpt alone converted", sum, results)
	}
}

// TestBatchListInPlace: a list of every file of the output folder (find -type f) takes
// ptport's outputs there as skipped, each with its line, by one shard of many: a rerun
// converts nothing and fails nothing.
func TestBatchListInPlace(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "zoo/a.pt")
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "zoo/b.pth")
	t.Chdir(root)
	list := func() *bytes.Reader {
		var b bytes.Buffer
		entries, _ := os.ReadDir("zoo")
		for _, e := range entries {
			b.WriteString("zoo/" + e.Name() + "\n")
		}
		return bytes.NewReader(b.Bytes())
	}
	if sum, _ := runBatch(t, Options{List: list(), OutDir: ".", To: convert.Safetensors}); sum.OK != 2 {
		t.Fatalf("%+v", sum)
	}
	for run := range 2 {
		seen := map[string]Result{}
		for k := range 3 {
			_, results := runBatch(t, Options{List: list(), OutDir: ".", To: convert.Safetensors, Shard: k, Shards: 3})
			for in, r := range results {
				if _, dup := seen[in]; dup {
					t.Errorf("run %d: %s reported by two shards", run, in)
				}
				seen[in] = r
			}
		}
		for in, want := range map[string]string{
			"zoo/a.pt": "", "zoo/b.pth": "",
			"zoo/a.safetensors": "ptport's output of zoo/a.pt, not an input",
			"zoo/b.safetensors": "ptport's output of zoo/b.pth, not an input",
		} {
			if r := seen[in]; r.Status != StatusSkipped || r.Error != want {
				t.Errorf("run %d: %s: %+v, want skipped (%q)", run, in, r, want)
			}
		}
		if len(seen) != 4 {
			t.Errorf("run %d: %d inputs reported, want the 4 listed", run, len(seen))
		}
	}
}

// TestBatchOutputBesideItsInput: after an in-place conversion to .pt, a run into a new
// folder takes zoo/m.pt, ptport's output of zoo/m.pth beside it, for what it is:
// skipped, naming its input, which is converted once, where the two collided and both
// failed; a .pt output in a folder of its own is still an input (chaining), and a user's
// checkpoint beside another of the same name still collides with it.
func TestBatchOutputBesideItsInput(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/m.pth")
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "zoo/sub/n.ckpt")
	t.Chdir(root)
	if sum, _ := runBatch(t, Options{Inputs: []string{"zoo"}, OutDir: "zoo", To: convert.PT}); sum.OK != 2 {
		t.Fatalf("in place: %+v", sum)
	}
	sum, results := runBatch(t, Options{Inputs: []string{"zoo"}, OutDir: "fresh", To: convert.Safetensors})
	if sum.OK != 2 || sum.Skipped != 2 || sum.Failed != 0 {
		t.Errorf("into a new folder: %+v, want 2 ok and their outputs skipped: %v", sum, results)
	}
	for out, in := range map[string]string{"zoo/m.pt": "zoo/m.pth", "zoo/sub/n.pt": "zoo/sub/n.ckpt"} {
		if r := results[out]; r.Status != StatusSkipped || r.Error != "ptport's output of "+in+", converted from it instead" {
			t.Errorf("%s: %+v", out, r)
		}
		if r := results[in]; r.Status != StatusOK {
			t.Errorf("%s: %+v", in, r)
		}
	}
	sameTensors(t, "zoo/m.pth", "fresh/m.safetensors")
	// Chaining: the .pt outputs in a folder of their own are the next run's inputs.
	if sum, _ := runBatch(t, Options{Inputs: []string{"zoo"}, OutDir: "pt", To: convert.PT}); sum.OK != 2 || sum.Skipped != 2 {
		t.Fatalf("to pt: %+v", sum)
	}
	if sum, _ := runBatch(t, Options{Inputs: []string{"pt"}, OutDir: "st", To: convert.Safetensors}); sum.OK != 2 {
		t.Errorf("chained: %+v, want the 2 .pt outputs converted", sum)
	}
	// A checkpoint of the user's beside one of the same name collides as before.
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "user/m.pth")
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "user/m.pt")
	if sum, _ := runBatch(t, Options{Inputs: []string{"user"}, OutDir: "u", To: convert.Safetensors}); sum.Failed != 2 {
		t.Errorf("two checkpoints of one name: %+v, want both failed", sum)
	}
}

// TestBatchOrphanOutputs: ptport's .pt outputs in place are passed over by a walk and
// counted (Summary.PassedOver), and those whose input is not beside them, gone or of
// another tree (Summary.Orphans), apart; one named says that its input is not beside
// it and how to convert it, without naming a flag; into another folder they are
// converted.
func TestBatchOrphanOutputs(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/a.ckpt")
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "zoo/sub/b.pth")
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "zoo/c.pth")
	t.Chdir(root)
	if sum, _ := runBatch(t, Options{Inputs: []string{"zoo"}, OutDir: "zoo", To: convert.PT}); sum.OK != 3 {
		t.Fatalf("to pt in place: %+v", sum)
	}
	os.Remove("zoo/a.ckpt")
	os.Remove("zoo/sub/b.pth")
	opts := Options{Inputs: []string{"zoo"}, OutDir: "zoo", To: convert.Safetensors}
	sum, results := runBatch(t, opts)
	if sum.Files != 1 || sum.OK != 1 || sum.PassedOver != 3 || sum.Orphans != 2 {
		t.Errorf("in place: %+v %v, want c.pth converted and 3 outputs passed over, 2 without their input", sum, results)
	}
	passed := 0
	for k := range 2 {
		sum, _ := runBatch(t, Options{Inputs: []string{"zoo"}, OutDir: "zoo", To: convert.Safetensors, Shard: k, Shards: 2})
		passed += sum.PassedOver
	}
	if passed != 3 {
		t.Errorf("shards 0/2 and 1/2 passed over %d outputs, want the 3 once", passed)
	}
	for _, c := range []struct{ in, want string }{
		{"zoo/sub/b.pt", "ptport's output of sub/b.pth, not an input (its input is not beside it: to convert this file, write to another output folder)"},
		{"zoo/c.pt", "ptport's output of c.pth, not an input"},
	} {
		_, results := runBatch(t, Options{Inputs: []string{c.in}, OutDir: "zoo", To: convert.Safetensors})
		if r := results[c.in]; r.Status != StatusSkipped || r.Error != c.want {
			t.Errorf("%s named: %+v, want %q", c.in, r, c.want)
		}
	}
	if sum, _ := runBatch(t, Options{Inputs: []string{"zoo"}, OutDir: "st", To: convert.Safetensors}); sum.OK != 3 || sum.Skipped != 1 || sum.PassedOver != 0 {
		t.Errorf("into another folder: %+v, want c.pth and the 2 orphans converted, c.pt skipped as c.pth's", sum)
	}
	sameTensors(t, "zoo/sub/b.pt", "st/sub/b.safetensors")
}

// TestBatchOutputsOfTheRunsInputs: ptport's outputs in a subfolder of OutDir whose
// inputs are inputs of the run (zoo/pt/m.pt of zoo/m.pth, in a run over zoo) are
// passed over but are not orphans, which a run into another folder would convert a
// second time; one whose input is gone is, in every shard layout.
func TestBatchOutputsOfTheRunsInputs(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/m.pth")
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "zoo/n.pth")
	t.Chdir(root)
	if sum, _ := runBatch(t, Options{Inputs: []string{"zoo"}, OutDir: "zoo/pt", To: convert.PT}); sum.OK != 2 {
		t.Fatalf("to pt into zoo/pt: %+v", sum)
	}
	opts := Options{Inputs: []string{"zoo"}, OutDir: "zoo", To: convert.Safetensors}
	if sum, _ := runBatch(t, opts); sum.OK != 2 || sum.PassedOver != 2 || sum.Orphans != 0 {
		t.Errorf("in place: %+v, want m.pth and n.pth converted, their outputs in zoo/pt passed over, no orphan", sum)
	}
	os.Remove("zoo/n.pth")
	orphans := 0
	for k := range 2 {
		opts.Shard, opts.Shards = k, 2
		sum, _ := runBatch(t, opts)
		orphans += sum.Orphans
	}
	if orphans != 1 {
		t.Errorf("n.pth gone: shards 0/2 and 1/2 counted %d orphans, want zoo/pt/n.pt once", orphans)
	}
}
