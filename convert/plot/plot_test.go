package plot_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/convert/plot"
)

func TestSave(t *testing.T) {
	m, err := convert.Load(fixture.Open(t, "drifted.pt"), convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := parity.Check(context.Background(), m, fixture.Open(t, "drifted.ref.pt"), parity.DefaultTolerance)
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
