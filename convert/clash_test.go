package convert_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// TestExportClash: every format, and a sharded safetensors export, refuses leaves that
// share a name before writing a byte, with a *convert.ClashError whose kind and hint say
// which clash it is: two leaves of one name, or a dotted name that is also the path of a
// value nested in another leaf.
func TestExportClash(t *testing.T) {
	f32 := func(x byte) *pickle.Tensor {
		tt, err := pickle.NewTensor(pickle.F32, []int{2}, []byte{0, 0, 0x80, x, 0, 0, 0x80, x})
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	const same, dotted = "the checkpoint holds two entries of it", "is also the path of the value nested in the leaf \"a\""
	nested := &pickle.Dict{Ordered: true, Entries: []pickle.DictEntry{{Key: "b", Value: int64(5)}}}
	for _, tc := range []struct {
		what   string
		leaves []pickle.Leaf
		name   string
		kind   convert.Clash
		hint   string
	}{
		{"two tensors", []pickle.Leaf{{Name: "a", Value: f32(0x3f)}, {Name: "a", Value: f32(0x40)}}, "a", convert.SameName, same},
		{"a tensor and a value", []pickle.Leaf{{Name: "a", Value: f32(0x3f)}, {Name: "a", Value: int64(5)}}, "a", convert.SameName, same},
		{"dotted tensors", []pickle.Leaf{{Name: "a.b", Value: f32(0x3f)}, {Name: "a.b", Value: f32(0x40)}}, "a.b", convert.SameName, same},
		{"a dotted name and a nested value", []pickle.Leaf{{Name: "a.b", Value: f32(0x3f)}, {Name: "a", Value: nested}}, "a.b", convert.DottedKey, dotted},
	} {
		cp := convert.FromLeaves("in.json", tc.leaves)
		check := func(how string, err error, written int) {
			t.Helper()
			var ce *convert.ClashError
			if !errors.As(err, &ce) || ce.Name != tc.name || ce.Kind != tc.kind || !strings.Contains(err.Error(), tc.hint) || written != 0 {
				t.Errorf("%s, %s: %v after %d bytes, want a *ClashError of %q (%s) before any byte", tc.what, how, err, written, tc.name, tc.hint)
			}
			if tc.kind == convert.SameName && strings.Contains(err.Error(), `a["b"]`) {
				t.Errorf("%s, %s: %v: the hint of a dotted key for two leaves of one name", tc.what, how, err)
			}
		}
		for _, f := range convert.Formats {
			var buf bytes.Buffer
			check(string(f), convert.Encode(context.Background(), &buf, f, cp), buf.Len())
			dir := t.TempDir()
			_, err := convert.ExportFiles(context.Background(), filepath.Join(dir, "out"+f.Ext()), f, cp, convert.ExportOptions{})
			files, _ := os.ReadDir(dir)
			check(string(f)+" file", err, len(files))
		}
		// Shards of 8 bytes put each tensor in a shard of its own, where the writer
		// of one shard sees no clash.
		dir := t.TempDir()
		_, err := convert.ExportFiles(context.Background(), filepath.Join(dir, "model.safetensors"), convert.Safetensors, cp, convert.ExportOptions{MaxShardSize: 8})
		files, _ := os.ReadDir(dir)
		check("shards", err, len(files))
	}
}
