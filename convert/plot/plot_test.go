package plot_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/convert/plot"
)

func TestSave(t *testing.T) {
	r, err := parity.Check(context.Background(), fixture.Open(t, "drifted.pt"), fixture.Open(t, "drifted.ref.pt"), parity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".svg", ".png"} {
		out := filepath.Join(t.TempDir(), "err"+ext)
		if err := plot.Save(r, out); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(out); err != nil || fi.Size() < 1000 {
			t.Errorf("plot %s: %v", out, err)
		}
	}
}

// TestCheckPath: an unsupported extension is refused before any drawing, by the check a
// caller makes before its work.
func TestCheckPath(t *testing.T) {
	for path, ok := range map[string]bool{"a.svg": true, "b.PNG": true, "c.pdf": false, "d": false, "e.svg.txt": false} {
		if err := plot.CheckPath(path); (err == nil) != ok {
			t.Errorf("CheckPath(%q) = %v", path, err)
		}
	}
	if err := plot.Save(&parity.Report{}, filepath.Join(t.TempDir(), "x.jpg")); err == nil || !strings.Contains(err.Error(), ".svg or .png") {
		t.Errorf("Save to .jpg: %v", err)
	}
}
