//go:build unix

package pickle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenNotRegular: a named pipe is refused as what it is, before anything is read
// from it (not as an empty file: its size is 0 only because it has none), and so is a
// device; a folder, as a directory.
func TestOpenNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "model.pt")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Open on a pipe with no writer would block in open(2); a writer that never writes
	// keeps it open.
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, c := range []struct{ path, want string }{
		{fifo, "not a regular file"},
		{os.DevNull, "not a regular file"},
		{t.TempDir(), "is a directory"},
	} {
		_, err := Open(c.path, nil)
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "empty") {
			t.Errorf("Open(%s): %v, want a FormatError saying %q", c.path, err, c.want)
		}
	}
}
