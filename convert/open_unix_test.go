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
	"github.com/ptport/ptport/convert/internal/fixture"
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

// TestOpenBesideNotRegularIndex: an index beside a file that is a named pipe with no
// writer is not waited on while Open looks for the index that names the file: it names
// no shard, and the file opens.
func TestOpenBesideNotRegularIndex(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "model.safetensors.index.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fixture.Path("training", "sharded_st", "model-00001-of-00003.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "model-00001-of-00001.safetensors")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		cp, err := convert.Open(file, nil)
		if err == nil {
			cp.Close()
		}
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Open(%s): still waiting after 10 s", file)
	}
	if err != nil {
		t.Errorf("Open(%s) beside a named pipe named as an index: %v, want it opened", file, err)
	}
}
