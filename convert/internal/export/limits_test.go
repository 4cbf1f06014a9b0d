package export

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert/internal/atomicfile"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/convert/internal/limittest"
	"github.com/ptport/ptport/pickle"
)

// TestIndexLimit writes the largest index of a sharded output that the limit allows,
// which reads back, and refuses one of longer names before writing any shard. The limit
// is lowered so that the files stay small.
func TestIndexLimit(t *testing.T) {
	defer func(m int64) { maxIndex = m }(maxIndex)
	maxIndex = 1024
	write := func(k int) (string, error) {
		dir := t.TempDir()
		var leaves []pickle.Leaf
		for i := range 4 {
			x, err := pickle.NewTensor(pickle.F32, []int{2}, make([]byte, 8))
			if err != nil {
				t.Fatal(err)
			}
			leaves = append(leaves, pickle.Leaf{Name: string(rune('a'+i)) + strings.Repeat("x", k), Value: x})
		}
		_, err := WriteFiles(filepath.Join(dir, "m.safetensors"), Safetensors, nil, leaves, nil, 8, atomicfile.Options{})
		return dir, err
	}
	lo := limittest.Largest(0, int(maxIndex), func(k int) bool { _, err := write(k); return err == nil })
	dir, err := write(lo)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := readIndexFile(context.Background(), filepath.Join(dir, "m.safetensors"+IndexSuffix))
	if err != nil {
		t.Fatalf("largest index written is not read back: %v", err)
	}
	if n := int64(len(raw)); n > maxIndex || n <= maxIndex-4 {
		t.Errorf("largest index written has %d bytes, want %d or up to 3 fewer (4 names a byte longer)", n, maxIndex)
	}
	dir, err = write(lo + 1)
	var tl *leaf.TooLargeError
	if !errors.As(err, &tl) || tl.Limit != maxIndex {
		t.Fatalf("names a byte longer: error %v, want a *leaf.TooLargeError", err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("names a byte longer: %d files written, want none", len(files))
	}
}

// TestRecordLimit refuses a .pt output whose metadata record would be longer than
// ReadMetadata reads, and writes one of the longest length.
func TestRecordLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.pt")
	root := &pickle.Dict{Ordered: true}
	for _, n := range []int{maxRecord, maxRecord + 1} {
		meta := map[string]string{"note": strings.Repeat("x", n)}
		err := atomicfile.WriteFile(path, atomicfile.Options{}, func(w io.Writer) error { return Write(w, PT, path, root, nil, meta) })
		var tl *leaf.TooLargeError
		if n > maxRecord {
			if !errors.As(err, &tl) {
				t.Errorf("a record of %d bytes: error %v, want a *leaf.TooLargeError", n, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadMetadata(context.Background(), path, PT)
		if err != nil || got["note"] != meta["note"] {
			t.Errorf("a record of %d bytes: read back %d bytes, error %v", n, len(got["note"]), err)
		}
	}
}
