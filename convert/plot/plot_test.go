package plot_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/convert/plot"
)

func TestSave(t *testing.T) {
	for _, c := range []struct{ model, ref string }{
		{fixture.Convert("drifted.pt"), fixture.Convert("drifted.ref.pt")},
		// An infinity in the reference: an error that is not finite.
		{fixture.Path("parity", "ref_inf.pt"), fixture.Path("parity", "ref_inf.ref.pt")},
		// NaN outputs on both sides.
		{fixture.Path("parity", "nan_input.pt"), fixture.Path("parity", "nan_input.ref.pt")},
	} {
		model, ref := openPath(t, c.model), openPath(t, c.ref)
		r, err := parity.Check(context.Background(), model, ref, parity.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{".svg", ".png"} {
			out := filepath.Join(t.TempDir(), "err"+ext)
			if err := plot.Save(r, out); err != nil {
				t.Fatalf("%s: %v", c.ref, err)
			}
			if fi, err := os.Stat(out); err != nil || fi.Size() < 1000 {
				t.Errorf("plot %s of %s: %v", out, c.ref, err)
			}
		}
	}
}

func openPath(t *testing.T, path string) *convert.Checkpoint {
	t.Helper()
	cp, err := convert.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	return cp
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
