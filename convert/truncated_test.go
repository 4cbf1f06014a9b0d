package convert

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportTruncated converts a checkpoint cut short after it was opened (torch.save
// rewriting it in place truncates it first) to every format: each conversion fails
// saying the file was truncated or rewritten while it was read, naming the tensor (the
// storage, for .pt), and leaves nothing in the output folder.
func TestExportTruncated(t *testing.T) {
	b, err := os.ReadFile("../testdata/charlstm/checkpoint.pt")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Formats {
		path := filepath.Join(t.TempDir(), "checkpoint.pt")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		cp, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 20000); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		err = Export(context.Background(), filepath.Join(out, "model."+string(f)), f, cp)
		cp.Close()
		name := "tensor model.lstm.weight_hh_l0: "
		if f == PT {
			name = "storage "
		}
		if err == nil || !strings.Contains(err.Error(), "truncated or rewritten while it was read") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want an error naming %q and saying the file was truncated or rewritten", f, err, name)
		}
		if left, _ := os.ReadDir(out); len(left) != 0 {
			t.Errorf("%s: %d files left in the output folder", f, len(left))
		}
	}
}
