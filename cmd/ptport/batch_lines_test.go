package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
