//go:build unix

package batch

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
)

// TestBatchLinks: a symbolic link to nothing, and one to a folder, that the patterns
// take from a folder are inputs that fail, saying what they are, as a FIFO is.
func TestBatchLinks(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/good.pt")
	zoo := filepath.Join(root, "zoo")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("nowhere.pt", filepath.Join(zoo, "dangling.pt")))
	must(os.Mkdir(filepath.Join(root, "folder"), 0o755))
	must(os.Symlink(filepath.Join(root, "folder"), filepath.Join(zoo, "dir.pt")))
	must(syscall.Mkfifo(filepath.Join(zoo, "fifo.pt"), 0o600))
	for _, check := range []bool{false, true} {
		sum, results := runBatch(t, Options{Inputs: []string{zoo}, OutDir: t.TempDir(), To: convert.Safetensors, Check: check})
		for name, want := range map[string]string{
			"dangling.pt": "a symbolic link to nothing",
			"dir.pt":      "a symbolic link to a folder",
			"fifo.pt":     "not a regular file",
		} {
			if r := results[filepath.Join(zoo, name)]; r.Status != StatusFailed || !strings.Contains(r.Error, want) {
				t.Errorf("check %v: %s: %+v, want failed: %s", check, name, r, want)
			}
		}
		if sum.Files != 4 || sum.Failed != 3 {
			t.Errorf("check %v: %+v", check, sum)
		}
	}
}
