package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/batch"
	"github.com/ptport/ptport/pickle"
)

// TestBatchUsageMistakes: a malformed --exclude pattern, and shards asked of another
// format than safetensors, are usage errors before any input is read, whatever
// --allow-failed says, and the latter says why.
func TestBatchUsageMistakes(t *testing.T) {
	root := zoo(t, 2, "rnn_tanh.pt")
	out := filepath.Join(t.TempDir(), "out")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--exclude", "[", "--allow-failed"}, `exclude pattern "[": syntax error in pattern`},
		{[]string{"--strip-prefix", "."}, "an empty prefix to strip"},
		{[]string{"--to", "json", "--max-shard-size", "5MB"}, "shards are written as safetensors only, not json"},
	} {
		code, _, errs := runCLI(t, append([]string{"batch", root, "-o", out}, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) || strings.Contains(errs, "failed") {
			t.Errorf("%v: exit %d, want 2 saying %q and no input failed:\n%s", c.args, code, c.want, errs)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("the output folder was made")
	}
}

// TestBatchIntoItsInputs: batch DIR -o DIR converts DIR's checkpoints beside them, and
// a rerun finds them up to date.
func TestBatchIntoItsInputs(t *testing.T) {
	root := zoo(t, 2, "rnn_tanh.pt")
	for run, want := range []string{"2 inputs: 2 ok, 0 skipped, 0 failed", "2 inputs: 0 ok, 2 skipped, 0 failed"} {
		code, _, errs := runCLI(t, "batch", root, "-o", root)
		if code != 0 || !strings.Contains(errs, want) {
			t.Errorf("run %d: exit %d, want 0 and %q:\n%s", run, code, want, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "d00", "0-rnn_tanh.safetensors")); err != nil {
		t.Error(err)
	}
}

// TestBatchErrorLines: the error of a failed input that lists items on lines of its own
// (an unusable reference) prints them a line each, indented under the input, never as a
// literal \n.
func TestBatchErrorLines(t *testing.T) {
	dir := t.TempDir()
	for from, to := range map[string]string{"lstm.pt": "m.pt", "misspelled.ref.pt": "m.ref.pt"} {
		b, err := os.ReadFile(parityDir + from)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, to), b, 0o644)
	}
	code, _, errs := runCLI(t, "batch", "--check", dir)
	want := "failed   " + filepath.Join(dir, "m.pt") + ": " + filepath.Join(dir, "m.ref.pt") + ": not a usable reference\n" +
		"           hn: not a reference entry; did you mean h_n?\n" +
		"           cn: not a reference entry; did you mean c_n?\n"
	if code != 1 || !strings.Contains(errs, want) || strings.Contains(errs, `\n`) {
		t.Errorf("exit %d, want 1 and\n%s\ngot:\n%s", code, want, errs)
	}
}

// TestBatchCheckHints: a failure line of batch --check ends with the hint check gives
// for an unusable reference, escaped alike, and the entries it names are left out by
// batch's --ignore as by check's.
func TestBatchCheckHints(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(parityDir + "lstm.pt")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "m.pt"), b, 0o644)
	cp, err := convert.Open(parityDir+"misspelled.ref.pt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	ref := filepath.Join(dir, "m.ref.pt")
	leaves := append(slices.Clone(cp.Leaves), pickle.Leaf{Name: "ep\x1b[2Koch", Value: int64(3)})
	if err := convert.Export(context.Background(), ref, convert.PT, convert.FromLeaves(ref, leaves)); err != nil {
		t.Fatal(err)
	}
	const hint = `(to leave them out: --ignore hn,cn,ep\x1b[2Koch)`
	code, _, errs := runCLI(t, "check", filepath.Join(dir, "m.pt"), ref)
	if code != 2 || !strings.Contains(errs, "\n  "+hint+"\n") {
		t.Fatalf("check: exit %d, want 2 and %s:\n%s", code, hint, errs)
	}
	code, _, errs = runCLI(t, "batch", "--check", dir)
	if want := "(known: input, h0, c0, hx, hidden, output, h_n, c_n, batch_first, nonlinearity)\n           " + hint + "\n"; code != 1 || !strings.Contains(errs, want) || raw(errs) {
		t.Errorf("batch --check: exit %d, want 1 and\n%s\ngot:\n%s", code, want, errs)
	}
	code, _, errs = runCLI(t, "batch", "--check", dir, "--ignore", "hn,cn,ep\x1b[2Koch")
	if code != 0 || !strings.Contains(errs, "1 ok, 0 skipped, 0 failed") {
		t.Errorf("batch --check --ignore: exit %d:\n%s", code, errs)
	}
	code, _, errs = runCLI(t, "batch", dir, "-o", t.TempDir(), "--ignore", "epoch")
	if code != 2 || !strings.Contains(errs, "a conversion has no reference") {
		t.Errorf("batch --ignore without --check: exit %d:\n%s", code, errs)
	}
}

// TestBatchKeepsForeignFile: a file of the user's at an output path (a model.json
// config beside model.pt) fails the input, naming the file, which stays as it was, with
// --force too.
func TestBatchKeepsForeignFile(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(parityDir + "lstm.pt")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "model.pt"), b, 0o644)
	config := []byte(`{"lr": 0.01, "note": "my precious config"}`)
	cfg := filepath.Join(dir, "model.json")
	os.WriteFile(cfg, config, 0o644)
	for _, force := range []string{"--force=false", "--force"} {
		code, _, errs := runCLI(t, "batch", dir, "-o", dir, "--to", "json", force)
		want := "would replace " + cfg + ", which ptport did not write"
		if code != 1 || !strings.Contains(errs, want) || !strings.Contains(errs, "0 ok, 0 skipped, 1 failed") {
			t.Errorf("%s: exit %d, want 1 and %q:\n%s", force, code, want, errs)
		}
		if now, _ := os.ReadFile(cfg); string(now) != string(config) {
			t.Fatalf("%s: the config was replaced", force)
		}
	}
}

// TestBatchListIntoItsFolder: find zoo -type f | ptport batch - -o . converts the
// checkpoints, and run again says of each output that it is ptport's, converting and
// failing nothing; in place to .pt then to safetensors, each run converts the inputs
// alone.
func TestBatchListIntoItsFolder(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "zoo"), 0o755)
	for from, to := range map[string]string{"lstm.pt": "zoo/a.pt", "hidden_gru.pt": "zoo/b.pth"} {
		b, err := os.ReadFile(parityDir + from)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, to), b, 0o644)
	}
	list := func() []byte {
		entries, _ := os.ReadDir(filepath.Join(dir, "zoo"))
		var b []byte
		for _, e := range entries {
			b = append(b, "zoo/"+e.Name()+"\n"...)
		}
		return b
	}
	if code, _, errs := childIn(t, dir, list(), "batch", "-", "-o", "."); code != 0 || !strings.Contains(string(errs), "2 ok, 0 skipped, 0 failed") {
		t.Fatalf("exit %d:\n%s", code, errs)
	}
	code, _, errs := childIn(t, dir, list(), "batch", "-", "-o", ".")
	for _, want := range []string{
		"skipped  zoo/a.safetensors: ptport's output of zoo/a.pt, not an input",
		"skipped  zoo/b.pth -> zoo/b.safetensors (up to date)",
		"4 inputs: 0 ok, 4 skipped, 0 failed",
	} {
		if code != 0 || !strings.Contains(string(errs), want) {
			t.Errorf("rerun: exit %d, want 0 and %q:\n%s", code, want, errs)
		}
	}
	z := filepath.Join(dir, "z")
	os.MkdirAll(z, 0o755)
	for from, to := range map[string]string{"lstm.pt": "a.pth", "hidden_gru.pt": "b.ckpt"} {
		b, _ := os.ReadFile(parityDir + from)
		os.WriteFile(filepath.Join(z, to), b, 0o644)
	}
	for _, to := range []string{"pt", "safetensors", "npz", "json"} {
		for _, want := range []string{"2 inputs: 2 ok, 0 skipped, 0 failed", "2 inputs: 0 ok, 2 skipped, 0 failed"} {
			if code, _, errs := runCLI(t, "batch", z, "-o", z, "--to", to); code != 0 || !strings.Contains(errs, want) {
				t.Errorf("--to %s: exit %d, want 0 and %q:\n%s", to, code, want, errs)
			}
		}
	}
}

// TestBatchOutputsLeftAlone: in place, ptport's .pt outputs whose inputs are gone are
// counted in the summary, which says how to convert them; one named says it on its
// line; an older version's output in the way of a changed input names --force as the
// upgrade path; an input of another tree of the same name never replaces the output
// of the first.
func TestBatchOutputsLeftAlone(t *testing.T) {
	dir := t.TempDir()
	for from, to := range map[string]string{"lstm.pt": "zoo/a.ckpt", "hidden_gru.pt": "zoo/b.pth", "f64.pt": "other/b.pth"} {
		b, err := os.ReadFile(parityDir + from)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, to)), 0o755)
		os.WriteFile(filepath.Join(dir, to), b, 0o644)
	}
	zoo := filepath.Join(dir, "zoo")
	if code, _, errs := runCLI(t, "batch", zoo, "-o", zoo, "--to", "pt"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errs)
	}
	os.Remove(filepath.Join(zoo, "a.ckpt"))
	code, _, errs := runCLI(t, "batch", zoo, "-o", zoo)
	want := "converted 1 input: 1 ok, 0 skipped, 0 failed; "
	if code != 0 || !strings.Contains(errs, want) || !strings.Contains(errs, "; 2 passed over as ptport's outputs (1 whose input is neither beside them nor an input of this run: -o another folder converts them)") {
		t.Errorf("in place: exit %d, want 0, %q and the outputs passed over:\n%s", code, want, errs)
	}
	code, stdout, _ := runCLI(t, "batch", zoo, "-o", zoo, "--json")
	if _, sum := batchJSON(t, stdout); code != 0 || sum.PassedOver != 2 || sum.Orphans != 1 {
		t.Errorf("--json: exit %d, %s: want 2 passed over, 1 orphan", code, stdout)
	}
	code, _, errs = runCLI(t, "batch", filepath.Join(zoo, "a.pt"), "-o", zoo)
	if code != 0 || !strings.Contains(errs, "ptport's output of a.ckpt, not an input (its input is not beside it: to convert this file, write to another output folder)") {
		t.Errorf("named: exit %d:\n%s", code, errs)
	}
	out := filepath.Join(dir, "out")
	if code, _, errs := runCLI(t, "batch", zoo, "-o", out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errs)
	}
	code, _, errs = runCLI(t, "batch", filepath.Join(dir, "other"), "-o", out)
	if code != 1 || !strings.Contains(errs, "ptport's output of an input b.pth at another place from it") || !strings.Contains(errs, "(--force replaces it, if this is the same tree seen from another mount point: the outputs then record this one)") {
		t.Errorf("another tree: exit %d, want 1 and a refusal:\n%s", code, errs)
	}
	// Both trees into out: a new layout, which says that the earlier outputs stay.
	code, _, errs = runCLI(t, "batch", zoo, filepath.Join(dir, "other"), "-o", out)
	if code != 0 || !strings.Contains(errs, "\n         note: its output of a run with other inputs (another layout of OUTDIR) is still there: "+filepath.Join(out, "b.safetensors")+" (remove it if you no longer need it)") {
		t.Errorf("both trees: exit %d, want 0 and a note of the earlier layout:\n%s", code, errs)
	}
}

// TestBatchOlderOutputHint: the line of an input whose output an older version wrote
// says, under it, that --force on an unchanged input rewrites such outputs.
func TestBatchOlderOutputHint(t *testing.T) {
	line := resultLine(batch.Result{Input: "zoo/m.pt", Status: batch.StatusFailed, Err: &batch.ReplaceError{Path: "out/m.safetensors", Recorded: true}}, false)
	if !strings.Contains(line, "\n           (--force on an input still unchanged rewrites an older version's output, naming its input)") {
		t.Errorf("%q", line)
	}
}

// TestBatchShardLines: the line of a lone shard (its index not beside it) names it
// once, where it read "failed   m-00001-of-00002.safetensors: m-00001-of-00002.safetensors
// is shard 1 of 2 ..."; a sharded checkpoint's line names its index, then the shard
// that failed, as before.
func TestBatchShardLines(t *testing.T) {
	dir := t.TempDir()
	cp, err := convert.Open(fixtures+"char_lstm.pt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	whole := filepath.Join(dir, "whole", "m.safetensors")
	if err := os.MkdirAll(filepath.Dir(whole), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := convert.ExportFiles(context.Background(), whole, convert.Safetensors, cp, convert.ExportOptions{MaxShardSize: 1024})
	if err != nil || len(files) < 3 {
		t.Fatalf("export in shards: %v, %d files", err, len(files))
	}
	first, second := files[0], files[1]
	lone := filepath.Join(dir, "lone", filepath.Base(first))
	if err := os.MkdirAll(filepath.Dir(lone), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lone, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(second, 100); err != nil {
		t.Fatal(err)
	}
	index := files[len(files)-1]
	for _, c := range []struct{ in, want string }{
		{lone, "failed   " + lone + ": it is shard 1 of "},
		{index, "failed   " + index + ": " + second + ": "},
	} {
		code, _, errs := runCLI(t, "batch", c.in, "-o", filepath.Join(dir, "out"))
		line, _, _ := strings.Cut(errs, "\n")
		if code != 1 || !strings.HasPrefix(line, c.want) || strings.Count(line, filepath.Base(c.in)) != 1 {
			t.Errorf("batch %s: exit %d, line %q; want 1 and a line starting %q, naming it once", c.in, code, line, c.want)
		}
	}
}
