package convert_test

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// TestExportContent writes checkpoints holding numpy values, objects and
// Python 2 pickles in every format and reads them back: numpy arrays are
// tensors with the same bytes, and numpy scalars keep their dtype and value
// (a float32 stays a float32) through every format. (C128 tensors, which
// safetensors has no name for, are left out.)
func TestExportContent(t *testing.T) {
	for _, name := range []string{"numpy_values.pt", "numpy2.pt", "py2_state_dict.pt", "objects.pt"} {
		src, err := convert.Open(filepath.Join("..", "testdata", "pickle", "content", name), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var kept []pickle.Leaf
		scalars := 0
		for _, l := range src.Leaves {
			if tt, ok := l.Value.(*pickle.Tensor); ok && tt.DType == pickle.C128 {
				continue
			}
			if _, ok := l.Value.(pickle.Scalar); ok {
				scalars++
			}
			kept = append(kept, l)
		}
		if name == "numpy_values.pt" && scalars < 12 {
			t.Fatalf("%s: %d numpy scalars", name, scalars)
		}
		cp := convert.FromLeaves(name, kept)
		for _, f := range convert.Formats {
			t.Run(name+f.Ext(), func(t *testing.T) {
				back := exported(t, cp, f)
				got := map[string]any{}
				for _, l := range back.Leaves {
					got[l.Name] = l.Value
				}
				for _, l := range kept {
					switch w := l.Value.(type) {
					case *pickle.Tensor:
						g, ok := got[l.Name].(*pickle.Tensor)
						if !ok || g.DType != w.DType || len(g.Shape) != len(w.Shape) || !reflect.DeepEqual(append([]int{}, g.Shape...), append([]int{}, w.Shape...)) {
							t.Errorf("%s: got %v, want a %s %v tensor", l.Name, got[l.Name], w.DType, w.Shape)
							continue
						}
						wb, err1 := w.Bytes()
						gb, err2 := g.Bytes()
						if err1 != nil || err2 != nil || !bytes.Equal(wb, gb) {
							t.Errorf("%s: bytes differ (%v, %v)", l.Name, err1, err2)
						}
					case pickle.Scalar:
						if !reflect.DeepEqual(got[l.Name], w) {
							t.Errorf("%s: got %#v, want the numpy scalar %#v", l.Name, got[l.Name], w)
						}
					}
				}
			})
		}
	}
}
