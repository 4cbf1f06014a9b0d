package atomicfile

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestCommitAfterWrite: an output is invisible under its name until committed, and a
// discarded one leaves nothing.
func TestCommitAfterWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	write := func(w io.Writer) error { _, err := w.Write([]byte("complete")); return err }
	tmp, err := Write(path, Options{}, write)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("output visible before commit")
	}
	if err := tmp.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "complete" {
		t.Fatalf("after commit: %q, %v", b, err)
	}
	tmp, err = Write(filepath.Join(dir, "other.bin"), Options{}, write)
	if err != nil {
		t.Fatal(err)
	}
	tmp.Discard()
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("after discard the folder holds %d files, want 1", len(entries))
	}
}
