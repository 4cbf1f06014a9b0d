//go:build unix

package pickle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpenNotRegular: a named pipe is refused as what it is, at once, before anything
// is read from it (not as an empty file: its size is 0 only because it has none), even
// with no writer, for which os.Open waits; and so is a device; a folder, as a
// directory.
func TestOpenNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "model.pt")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{fifo, "not a regular file"},
		{os.DevNull, "not a regular file"},
		{t.TempDir(), "is a directory"},
	} {
		done := make(chan error, 1)
		go func() {
			_, err := Open(c.path, nil)
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Open(%s): still waiting after 10 s", c.path)
		}
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "empty") {
			t.Errorf("Open(%s): %v, want a FormatError saying %q", c.path, err, c.want)
		}
	}
}
