package convert_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/pickle"
)

// TestExportRoundTrip writes torch-made checkpoints in every format and reads them back:
// the same tensors under the same names, byte for byte, and the same non-tensor values
// (safetensors, npz and .pt keep them exactly; JSON too, here, with no NaN among them).
// BF16 goes through npz as float32, so there only the values are compared.
func TestExportRoundTrip(t *testing.T) {
	inputs := []string{"nested_checkpoint.pt", "lstm_proj_bi.pt", "module_sequential.pt", "rnn_bf16.pt", "dataparallel_legacy.pt"}
	for _, name := range inputs {
		cp := fixture.Open(t, name)
		for _, f := range convert.Formats {
			t.Run(name+f.Ext(), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out"+f.Ext())
				if err := convert.Export(context.Background(), out, f, cp); err != nil {
					t.Fatal(err)
				}
				back, err := convert.Open(out, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer back.Close()
				sameLeaves(t, cp.Leaves, back.Leaves, f)

				// And once more: a converted file converts to .pt and back unchanged.
				again := filepath.Join(t.TempDir(), "again.pt")
				if err := convert.Export(context.Background(), again, convert.PT, back); err != nil {
					t.Fatal(err)
				}
				back2, err := convert.Open(again, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer back2.Close()
				sameLeaves(t, back.Leaves, back2.Leaves, convert.PT)
			})
		}
	}
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
		if f == convert.NPZ && a.DType == pickle.BF16 {
			x, _ := a.Float32s()
			y, _ := b.Float32s()
			if !reflect.DeepEqual(x, y) {
				t.Errorf("%s: values differ", wt[i].Name)
			}
			continue
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
