package convert

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// TestExportRoundTrip writes torch-made checkpoints in every format and reads them back:
// the same tensors under the same names, byte for byte, and the same non-tensor values
// (safetensors, npz and .pt keep them exactly; JSON too, here, with no NaN among them).
// BF16 goes through npz as float32, so there only the values are compared.
func TestExportRoundTrip(t *testing.T) {
	inputs := []string{"nested_checkpoint.pt", "lstm_proj_bi.pt", "module_sequential.pt", "rnn_bf16.pt", "dataparallel_legacy.pt"}
	for _, name := range inputs {
		cp := openFixture(t, name)
		for _, f := range Formats {
			t.Run(name+f.Ext(), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out"+f.Ext())
				if err := Export(out, f, cp); err != nil {
					t.Fatal(err)
				}
				back, err := Open(out, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer back.Close()
				sameLeaves(t, cp.Leaves, back.Leaves, f)

				// And once more: a converted file converts to .pt and back unchanged.
				again := filepath.Join(t.TempDir(), "again.pt")
				if err := Export(again, PT, back); err != nil {
					t.Fatal(err)
				}
				back2, err := Open(again, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer back2.Close()
				sameLeaves(t, back.Leaves, back2.Leaves, PT)
			})
		}
	}
}

func sameLeaves(t *testing.T, want, got []pickle.Leaf, f Format) {
	t.Helper()
	wt, wv := split(want)
	gt, gv := split(got)
	if len(gt) != len(wt) {
		t.Fatalf("%d tensors, want %d", len(gt), len(wt))
	}
	for i := range wt {
		a, b := wt[i].Value.(*pickle.Tensor), gt[i].Value.(*pickle.Tensor)
		if gt[i].Name != wt[i].Name || !reflect.DeepEqual(a.Shape, b.Shape) {
			t.Fatalf("tensor %d: %s %v, want %s %v", i, gt[i].Name, b.Shape, wt[i].Name, a.Shape)
		}
		if f == NPZ && a.DType == pickle.BF16 {
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

// TestHalfConversions checks float32ToHalf against pickle.Float16To32 over every half: each
// converts back to itself, and each midpoint between neighbours rounds to the even one.
func TestHalfConversions(t *testing.T) {
	for h := range 1 << 16 {
		f := pickle.Float16To32(uint16(h))
		got := float32ToHalf(f)
		if f != f {
			if pickle.Float16To32(got) == pickle.Float16To32(got) {
				t.Fatalf("NaN %#04x became %#04x", h, got)
			}
			continue
		}
		if got != uint16(h) {
			t.Fatalf("%#04x -> %g -> %#04x", h, f, got)
		}
		next := uint16(h) + 1
		g := pickle.Float16To32(next)
		if h&0x7fff >= 0x7c00-1 || next&0x7fff == 0 {
			continue // Inf, NaN, or the sign changes
		}
		mid := (f + g) / 2
		want := uint16(h)
		if h&1 == 1 {
			want = next
		}
		if got := float32ToHalf(mid); got != want {
			t.Fatalf("midpoint of %#04x and %#04x (%g) -> %#04x, want %#04x", h, next, mid, got, want)
		}
	}
	for _, b := range []uint16{0, 0x8000, 0x3f80, 0x7f7f, 0x0001, 0x7f80, 0xff80} {
		if got := float32ToBF16(math.Float32frombits(uint32(b) << 16)); got != b {
			t.Errorf("bf16 %#04x -> %#04x", b, got)
		}
	}
}
