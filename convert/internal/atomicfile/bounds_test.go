//go:build unix

package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestTargets(t *testing.T) {
	dir := t.TempDir()
	write := func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, dir, "/dev/null"} {
		var nr *NotRegularError
		if _, _, err := Target(path); !errors.As(err, &nr) {
			t.Errorf("Target(%s): %v, want a *NotRegularError", path, err)
		}
	}
	if err := WriteFile(fifo, Options{}, write); err == nil {
		t.Errorf("writing onto a FIFO succeeded")
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v, %v", fi.Mode(), err)
	}

	// An existing file keeps its permissions; through a symbolic link, the file it names
	// is replaced and the link stays.
	private := filepath.Join(dir, "private.bin")
	if err := os.WriteFile(private, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(private, 0o600)
	link := filepath.Join(dir, "link.bin")
	if err := os.Symlink("private.bin", link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{private, link} {
		if err := WriteFile(path, Options{}, write); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(private)
		if b, _ := os.ReadFile(private); err != nil || string(b) != "new" || fi.Mode().Perm() != 0o600 {
			t.Errorf("after writing %s: %q, mode %v", path, b, fi.Mode())
		}
		if li, err := os.Lstat(link); err != nil || li.Mode()&os.ModeSymlink == 0 {
			t.Errorf("after writing %s, the link is gone", path)
		}
		os.WriteFile(private, []byte("old"), 0o600)
	}
	fresh := filepath.Join(dir, "fresh.bin")
	if err := WriteFile(fresh, Options{}, write); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o644 {
		t.Errorf("a new output has mode %v, want 0644", fi.Mode())
	}
}
