//go:build unix

package convert_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// TestOpenNotRegular: Open refuses a named pipe and a device as what they are, not as
// empty files.
func TestOpenNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "model.safetensors")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // a writer, so that opening it does not block
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, path := range []string{fifo, os.DevNull} {
		_, err := convert.Open(path, nil)
		var fe *pickle.FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Open(%s): %v, want a FormatError saying it is not a regular file", path, err)
		}
	}
}
