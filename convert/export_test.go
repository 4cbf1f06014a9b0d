package convert_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/internal/jsonvalue"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/pickle"
)

// TestExportRoundTrip writes torch-made checkpoints in every format and reads them back:
// the same tensors under the same names and dtypes, byte for byte (BF16 too, which an
// npz holds as float32 and records as BF16), and the same non-tensor values.
func TestExportRoundTrip(t *testing.T) {
	inputs := []string{"nested_checkpoint.pt", "lstm_proj_bi.pt", "module_sequential.pt", "rnn_bf16.pt", "dataparallel_legacy.pt"}
	for _, name := range inputs {
		cp := fixture.Open(t, name)
		for _, f := range convert.Formats {
			t.Run(name+f.Ext(), func(t *testing.T) {
				back := exported(t, cp, f)
				sameLeaves(t, cp.Leaves, back.Leaves, f)
				// And once more: a converted file converts to .pt and back unchanged.
				sameLeaves(t, back.Leaves, exported(t, back, convert.PT).Leaves, convert.PT)
			})
		}
	}
}

// exported writes cp in format f to a temporary file and opens what it wrote (closed
// when the test ends).
func exported(t *testing.T, cp *convert.Checkpoint, f convert.Format) *convert.Checkpoint {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out"+f.Ext())
	if err := convert.Export(context.Background(), out, f, cp); err != nil {
		t.Fatal(err)
	}
	back, err := convert.Open(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	return back
}

func sameLeaves(t *testing.T, want, got []pickle.Leaf, f convert.Format) {
	t.Helper()
	wt, wv := leaf.Split(want)
	gt, gv := leaf.Split(got)
	if len(gt) != len(wt) {
		t.Fatalf("%d tensors, want %d", len(gt), len(wt))
	}
	for i := range wt {
		a, b := wt[i].Value.(*pickle.Tensor), gt[i].Value.(*pickle.Tensor)
		if gt[i].Name != wt[i].Name || !reflect.DeepEqual(a.Shape, b.Shape) {
			t.Fatalf("tensor %d: %s %v, want %s %v", i, gt[i].Name, b.Shape, wt[i].Name, a.Shape)
		}
		ab, err := a.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		bb, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if a.DType != b.DType || !bytes.Equal(ab, bb) {
			t.Errorf("%s: %s with different bytes, want %s", wt[i].Name, b.DType, a.DType)
		}
	}
	if len(gv) != len(wv) {
		t.Fatalf("%d values, want %d: %v vs %v", len(gv), len(wv), gv, wv)
	}
	for i := range wv {
		if gv[i].Name != wv[i].Name || fmt.Sprint(gv[i].Value) != fmt.Sprint(wv[i].Value) || fmt.Sprintf("%T", gv[i].Value) != fmt.Sprintf("%T", wv[i].Value) {
			t.Errorf("value %d: %s = %#v, want %s = %#v", i, gv[i].Name, gv[i].Value, wv[i].Name, wv[i].Value)
		}
	}
}

// TestExportSpecialFloats writes testdata/convert/special_floats.pt, which torch made of
// the float bit patterns and values that JSON and NumPy have no form of their own for
// (gen_special.py), in every format, reads each back and converts that to .pt and back:
// every tensor keeps its dtype and every bit (NaNs' signs and payloads, BF16 through an
// npz), every value its type and every bit (NaN floats, bytes, complex, numpy NaNs).
func TestExportSpecialFloats(t *testing.T) {
	cp := fixture.Open(t, "special_floats.pt")
	// Empty containers are values of their own, which every format keeps, under any
	// key: the empty key too, at the root ("") and below.
	empty := map[string]bool{"empty_dict": true, "empty_list": true, "optimizer.state": true, "optimizer.param_groups.0.params": true,
		"": true, "empty_key.": true, "empty_key.deeper..": true}
	for _, l := range cp.Leaves {
		delete(empty, l.Name)
	}
	if len(empty) > 0 {
		t.Errorf("no leaves %v", empty)
	}
	for _, f := range convert.Formats {
		t.Run(string(f), func(t *testing.T) {
			back := exported(t, cp, f)
			sameBits(t, cp.Leaves, back.Leaves)
			sameBits(t, cp.Leaves, exported(t, back, convert.PT).Leaves)
		})
	}
}

// sameBits checks that got holds want's leaves, by name: tensors of the same dtype and
// bytes, values of the same Go type written the same way in typed JSON (which holds
// every bit of a float).
func sameBits(t *testing.T, want, got []pickle.Leaf) {
	t.Helper()
	byName := map[string]any{}
	for _, l := range got {
		byName[l.Name] = l.Value
	}
	if len(got) != len(want) {
		t.Errorf("%d leaves, want %d", len(got), len(want))
	}
	for _, w := range want {
		g, ok := byName[w.Name]
		if !ok {
			t.Errorf("%s: missing", w.Name)
			continue
		}
		if wt, ok := w.Value.(*pickle.Tensor); ok {
			gt, ok := g.(*pickle.Tensor)
			if !ok {
				t.Errorf("%s: %T, want a tensor", w.Name, g)
				continue
			}
			wb, err1 := wt.Bytes()
			gb, err2 := gt.Bytes()
			if err1 != nil || err2 != nil || gt.DType != wt.DType || !bytes.Equal(gb, wb) {
				t.Errorf("%s: %s %x, want %s %x (%v, %v)", w.Name, gt.DType, gb, wt.DType, wb, err2, err1)
			}
			continue
		}
		gj, wj := jsonvalue.Append(nil, g), jsonvalue.Append(nil, w.Value)
		if reflect.TypeOf(g) != reflect.TypeOf(w.Value) || !bytes.Equal(gj, wj) {
			t.Errorf("%s: %T %s, want %T %s", w.Name, g, gj, w.Value, wj)
		}
	}
}

// TestKeyClash opens checkpoints whose keys give two leaves one name, which torch made
// (clash/gen.py): the error says which clash it is, a key holding a dot against nested
// keys or keys that print alike, and not the other.
func TestKeyClash(t *testing.T) {
	const dotted, alike = `a key holding a dot, such as "a.b", names the path of nested keys`, `dict keys that print alike, such as 1 and "1"`
	for _, tc := range []struct{ file, name, why, not string }{
		{"dotted.pt", "a.b", dotted, alike},
		{"alike.pt", "m.1", alike, dotted},
		{"emptykey.pt", ".", dotted, alike},
	} {
		_, err := convert.Open(fixture.Path("convert", "clash", tc.file), nil)
		if err == nil || !strings.Contains(err.Error(), tc.name+": two leaves have this name ("+tc.why) || strings.Contains(err.Error(), tc.not) {
			t.Errorf("%s: %v, want %s: ... (%s", tc.file, err, tc.name, tc.why)
		}
	}
}

// TestDepthThroughMemo reads the trees that torch.save writes as deep as a tree may,
// pickle.MaxDepth levels, and one level deeper, through dicts it pickled before
// (deep/gen.py): a shared dict counts from each place that refers to it. The first
// converts to every format and reads back the same; the second is refused.
func TestDepthThroughMemo(t *testing.T) {
	cp, err := convert.Open(fixture.Path("convert", "deep", "memo1000.pt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	deepest := "y" + strings.Repeat(".a", pickle.MaxDepth-1)
	if len(cp.Leaves) != 3 || cp.Leaves[2].Name != deepest {
		t.Fatalf("%d leaves, want x, m and the tensor %d levels deep in y", len(cp.Leaves), pickle.MaxDepth)
	}
	for _, f := range convert.Formats {
		sameBits(t, cp.Leaves, exported(t, cp, f).Leaves)
	}
	if _, err := convert.Open(fixture.Path("convert", "deep", "memo1001.pt"), nil); err == nil || !strings.Contains(err.Error(), "depth exceeds 1000 (through shared values)") {
		t.Errorf("memo1001.pt: %v, want the depth limit", err)
	}
}

// TestDepthLimit reads checkpoints of each format but .pt whose value nests as deep as a
// tree may, pickle.MaxDepth levels, and one level deeper (deep/gen.py; torch.save writes
// no tree that deep but through shared values): the first converts to every format, .pt too, and reads back the
// same; the second is refused by each reader, and a value one level deeper than the
// first is refused by each writer, so that every format agrees.
func TestDepthLimit(t *testing.T) {
	deeper := fmt.Sprintf("nested deeper than %d levels", pickle.MaxDepth)
	for _, ext := range []string{".json", ".npz", ".safetensors"} {
		cp, err := convert.Open(fixture.Path("convert", "deep", "d1000"+ext), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []convert.Format{convert.Safetensors, convert.NPZ, convert.JSON} {
			sameBits(t, cp.Leaves, exported(t, cp, f).Leaves)
		}
		// In a .pt file, the lists are the tree's, around its leaf: the innermost.
		innermost := "v" + strings.Repeat(".0", pickle.MaxDepth-1)
		back := exported(t, cp, convert.PT)
		if len(back.Leaves) != 2 || back.Leaves[1].Name != innermost || !reflect.DeepEqual(back.Leaves[1].Value, pickle.List{}) {
			t.Errorf("%s as .pt: %d leaves, want w and the empty list %.20q... (%d bytes)", ext, len(back.Leaves), innermost, len(innermost))
		}
		if _, err := convert.Open(fixture.Path("convert", "deep", "d1001"+ext), nil); err == nil || !strings.Contains(err.Error(), `"v": `+deeper) {
			t.Errorf("d1001%s: %v, want %q", ext, err, deeper)
		}
		leaves := slices.Clone(cp.Leaves)
		for i, l := range leaves {
			if l.Name == "v" {
				leaves[i].Value = pickle.List{l.Value}
			}
		}
		for _, f := range convert.Formats {
			var buf bytes.Buffer
			if err := convert.Encode(context.Background(), &buf, f, convert.FromLeaves("d1001", leaves)); err == nil || !strings.Contains(err.Error(), deeper) {
				t.Errorf("d1000%s one level deeper as %s: %v, want %q", ext, f, err, deeper)
			}
		}
	}
}
