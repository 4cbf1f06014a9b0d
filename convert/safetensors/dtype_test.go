package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/safetensors"
	"github.com/ptport/ptport/pickle"
)

// TestTorch2DTypes writes the tensors of torch 2.x's dtypes that safetensors names and
// reads them back: the same dtype, shape and bytes, F4 counting its 4-bit values in the
// header; each dtype safetensors does not name is refused with a *DTypeError naming the
// tensor.
func TestTorch2DTypes(t *testing.T) {
	f, err := pickle.Open(fixture.Path("pickle", "torch2", "dtypes_v3.pt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := pickle.Leaves(f.Root)
	if err != nil {
		t.Fatal(err)
	}
	var named []pickle.Leaf
	refused := 0
	for _, l := range all {
		tt := l.Value.(*pickle.Tensor)
		if safetensors.DTypes[tt.DType] {
			named = append(named, l)
			continue
		}
		err := safetensors.Write(&bytes.Buffer{}, []pickle.Leaf{l}, nil)
		var de *safetensors.DTypeError
		if !errors.As(err, &de) || de.DType != tt.DType || !strings.Contains(err.Error(), l.Name) {
			t.Errorf("%s (%s): error %v, want a *DTypeError naming it", l.Name, tt.DType, err)
		}
		refused++
	}
	if refused == 0 || len(named) < 9 {
		t.Fatalf("%d tensors written, %d refused: the fixture lacks dtypes", len(named), refused)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, named, nil); err != nil {
		t.Fatal(err)
	}
	var hdr map[string]json.RawMessage
	n := int(binary.LittleEndian.Uint64(buf.Bytes()))
	if err := json.Unmarshal(buf.Bytes()[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	if want := `{"dtype":"F4","shape":[2,8],"data_offsets"`; !strings.HasPrefix(string(hdr["shared.float4_e2m1fn_x2"]), want) {
		t.Errorf("F4 header %s, want it to start %s", hdr["shared.float4_e2m1fn_x2"], want)
	}
	back, err := safetensors.Read("x.safetensors", bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(named) {
		t.Fatalf("%d tensors read back, want %d", len(back), len(named))
	}
	for i, l := range named {
		w, g := l.Value.(*pickle.Tensor), back[i].Value.(*pickle.Tensor)
		wb, err1 := w.Bytes()
		gb, err2 := g.Bytes()
		if back[i].Name != l.Name || g.DType != w.DType || !equal(g.Shape, w.Shape) || err1 != nil || err2 != nil || !bytes.Equal(gb, wb) {
			t.Errorf("%s %s %v read back as %s %s %v (%v, %v)", l.Name, w.DType, w.Shape, back[i].Name, g.DType, g.Shape, err1, err2)
		}
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
