package convert

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// FuzzCheckpoint feeds arbitrary bytes to the readers of every input format and reads
// every tensor found: no input may panic, hang or allocate without bound.
func FuzzCheckpoint(f *testing.F) {
	dir := f.TempDir()
	for _, name := range []string{"rnn_tanh.pt", "nested_checkpoint.pt", "dataparallel_legacy.pt"} {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		cp, err := NewCheckpoint(name, bytes.NewReader(b), int64(len(b)), nil)
		if err != nil {
			f.Fatal(err)
		}
		for _, format := range []Format{Safetensors, NPZ, JSON} {
			out := filepath.Join(dir, name+format.Ext())
			if err := Export(out, format, cp); err != nil {
				f.Fatal(err)
			}
			b, _ := os.ReadFile(out)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := NewCheckpoint("fuzz", bytes.NewReader(b), int64(len(b)), &pickle.Options{AllowObjects: true})
		if err != nil {
			return
		}
		defer cp.Close()
		for _, l := range cp.Leaves {
			if tn, ok := l.Value.(*pickle.Tensor); ok && tn.NumBytes() < 1<<24 {
				tn.Bytes()
			}
		}
		Load(cp, Options{})
	})
}
