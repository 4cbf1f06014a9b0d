package pickle

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTruncatedWhileRead: a file truncated after it was opened (torch.save rewriting a
// checkpoint in place truncates it first) makes its tensors' reads fail with an error
// saying so, read through a memory map (Open, where the system maps files: a fault,
// not a crash of the process) or through ReadAt (NewReader).
func TestTruncatedWhileRead(t *testing.T) {
	b, err := os.ReadFile("../testdata/charlstm/checkpoint.pt")
	if err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"Open", "NewReader"} {
		path := filepath.Join(t.TempDir(), "checkpoint.pt")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		var f *File
		switch how {
		case "Open":
			f, err = Open(path, nil)
		case "NewReader":
			var osf *os.File
			if osf, err = os.Open(path); err != nil {
				t.Fatal(err)
			}
			defer osf.Close()
			f, err = NewReader(osf, int64(len(b)), nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		leaves, err := Leaves(f.Root)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 20000); err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, l := range leaves {
			tt, ok := l.Value.(*Tensor)
			if !ok {
				continue
			}
			if _, err := tt.WriteTo(io.Discard); err != nil {
				failed++
				if !strings.Contains(err.Error(), "truncated or rewritten while it was read") {
					t.Errorf("%s, %s: %v, want an error saying the file was truncated or rewritten", how, l.Name, err)
				}
			}
		}
		if failed == 0 {
			t.Errorf("%s: every tensor read after the file was cut to 20000 of its %d bytes", how, len(b))
		}
	}
}
