//go:build unix

package regfile

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestOpen: Open returns a regular file open, and a named pipe without a writer, a
// device, a folder and a socket at once as what they are, closed.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "model.pt")
	if err := os.WriteFile(file, []byte("weights"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.pt")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.pt")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	f, fi, err := Open(file)
	if err != nil || f == nil || !fi.Mode().IsRegular() || fi.Size() != 7 {
		t.Fatalf("Open(regular file): %v, %v, %v", f, fi, err)
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(b) != "weights" {
		t.Errorf("reading the regular file: %q, %v", b, err)
	}

	for _, c := range []struct {
		name string
		mode os.FileMode
	}{{fifo, os.ModeNamedPipe}, {os.DevNull, os.ModeDevice}, {dir, os.ModeDir}, {sock, os.ModeSocket}} {
		done := make(chan struct{})
		var (
			f   *os.File
			fi  os.FileInfo
			err error
		)
		go func() {
			f, fi, err = Open(c.name)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Open(%s) still waiting after 10 s", c.name)
		}
		if err != nil || f != nil || fi == nil || fi.Mode()&c.mode == 0 {
			t.Errorf("Open(%s): %v, %v, %v; want no file, a FileInfo of mode %v and no error", c.name, f, fi, err, c.mode)
		}
	}
}
