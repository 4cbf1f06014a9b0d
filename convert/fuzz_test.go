package convert_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/internal/fuzzcheck"
	"github.com/ptport/ptport/pickle"
)

// FuzzCheckpoint feeds arbitrary bytes to the readers of every input format and reads
// every tensor found: no input may panic, hang or allocate without bound.
func FuzzCheckpoint(f *testing.F) {
	dir := f.TempDir()
	for _, name := range []string{"rnn_tanh.pt", "nested_checkpoint.pt", "dataparallel_legacy.pt"} {
		b, err := os.ReadFile(fixture.Convert(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		cp, err := convert.NewCheckpoint(name, bytes.NewReader(b), int64(len(b)), nil)
		if err != nil {
			f.Fatal(err)
		}
		for _, format := range []convert.Format{convert.Safetensors, convert.NPZ, convert.JSON} {
			out := filepath.Join(dir, name+format.Ext())
			if err := convert.Export(context.Background(), out, format, cp); err != nil {
				f.Fatal(err)
			}
			b, _ := os.ReadFile(out)
			f.Add(b)
		}
	}
	// The hostile files of every format, those small enough to fuzz.
	hostile, _ := filepath.Glob("../testdata/hostile/*.*")
	for _, name := range hostile {
		if b, err := os.ReadFile(name); err == nil && len(b) < 64<<10 && !strings.HasSuffix(name, ".gz") && !strings.HasSuffix(name, ".py") {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The readers' budgets (the pickle's 32 MiB + 160 × its size, the bytes read
		// from tensors within max(64 × the file's size, 16 MiB)) and Load's copies.
		fuzzcheck.Budget(t, 160<<20+512*uint64(len(b)), func() {
			cp, err := convert.NewCheckpoint("fuzz", bytes.NewReader(b), int64(len(b)), &pickle.Options{AllowObjects: true})
			if err != nil {
				return
			}
			defer cp.Close()
			for _, l := range cp.Leaves {
				if tn, ok := l.Value.(*pickle.Tensor); ok && tn.NumBytes() < 1<<24 {
					tn.Bytes()
				}
			}
			convert.Load(cp, convert.Options{})
		})
	})
}
