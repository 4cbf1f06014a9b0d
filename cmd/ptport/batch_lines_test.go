package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
