package export

import (
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// TestMetadata writes a checkpoint with metadata in every format and reads the metadata
// back exactly, a JSON object and a plain string alike; the keys a format keeps for
// itself are refused.
func TestMetadata(t *testing.T) {
	w, err := pickle.NewTensor(pickle.F32, []int{2}, []byte{0, 0, 128, 63, 0, 0, 0, 64})
	if err != nil {
		t.Fatal(err)
	}
	leaves := []pickle.Leaf{{Name: "w", Value: w}, {Name: "epoch", Value: int64(2)}}
	root := &pickle.Dict{Ordered: true, Entries: []pickle.DictEntry{{Key: "w", Value: w}, {Key: "epoch", Value: int64(2)}}}
	meta := map[string]string{"source": `{"size":1,"mtime_ns":2,"sha256":"ab"}`, "note": "plain \"text\", {not JSON"}
	reserved := map[string][]string{Safetensors: {"", "values"}, NPZ: {"", "metadata", "a/b"}, JSON: {"", "tensors", "values"}}
	for _, f := range []string{Safetensors, NPZ, JSON, PT} {
		t.Run(f, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out."+f)
			file, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := Write(file, f, path, root, leaves, meta); err != nil {
				t.Fatal(err)
			}
			if err := file.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := ReadMetadata(context.Background(), path, f)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, meta) {
				t.Errorf("metadata %q, want %q", got, meta)
			}
			for _, k := range reserved[f] {
				if err := Write(io.Discard, f, path, root, leaves, map[string]string{k: "x"}); err == nil {
					t.Errorf("metadata key %q accepted", k)
				}
			}
		})
	}
}
