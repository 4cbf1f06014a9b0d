//go:build unix

package convert_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// TestOpenNotRegular: Open refuses a named pipe and a device as what they are, not as
// empty files, and at once: a named pipe with no writer too, for which os.Open waits.
func TestOpenNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "model.safetensors")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{fifo: "a named pipe", os.DevNull: "a character device"}
	for _, path := range []string{fifo, os.DevNull} {
		done := make(chan error, 1)
		go func() {
			_, err := convert.Open(path, nil)
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Open(%s): still waiting after 10 s", path)
		}
		var fe *pickle.FormatError
		want := path + ": " + kinds[path] + ", not a regular file: a checkpoint is read at any offset, which it does not allow; copy it to a regular file first"
		if !errors.As(err, &fe) || err.Error() != want {
			t.Errorf("Open(%s): %v, want a FormatError: %s", path, err, want)
		}
	}
}
