//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package pickle

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMappedFileTruncated: a file truncated after Open mapped it (torch.save rewriting
// a checkpoint in place truncates it first) makes its tensors' reads fail with an
// error saying so, not a crash of the process on the fault.
func TestMappedFileTruncated(t *testing.T) {
	b, err := os.ReadFile("../testdata/charlstm/checkpoint.pt")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "checkpoint.pt")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	leaves, err := Leaves(f.Root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	tensors := 0
	for _, l := range leaves {
		tt, ok := l.Value.(*Tensor)
		if !ok {
			continue
		}
		tensors++
		_, err := tt.WriteTo(io.Discard)
		if err == nil || !strings.Contains(err.Error(), "truncated or rewritten while it was read") {
			t.Errorf("%s: %v, want an error saying the file was truncated or rewritten", l.Name, err)
		}
	}
	if tensors == 0 {
		t.Fatal("no tensors")
	}
}
