package ptjson

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// TestFloatsRoundTrip writes every float16 and bfloat16 bit pattern, and half a million
// float32 and float64 ones (random, the edges of each class and their neighbours, NaNs
// of every sign and many payloads), in tensors of every float dtype, and reads them
// back: every bit of every element survives.
func TestFloatsRoundTrip(t *testing.T) {
	le := binary.LittleEndian
	rng := rand.New(rand.NewPCG(1, 2))
	all16 := make([]byte, 0, 2<<16)
	for h := range 1 << 16 {
		all16 = le.AppendUint16(all16, uint16(h))
	}
	patterns := func(size int, edges []uint64, n int) []byte {
		var b []byte
		put := func(x uint64) {
			b = le.AppendUint64(b, x)[:len(b)+size]
		}
		for _, e := range edges {
			for _, sign := range []uint64{0, 1 << (8*size - 1)} {
				for d := uint64(0); d < 3; d++ {
					put(e | sign + d)
					put(e | sign - d)
				}
			}
		}
		expBits := uint64(0x7ff) << 52
		if size == 4 {
			expBits = 0xff << 23
		}
		for range n {
			x := rng.Uint64()
			if rng.IntN(4) == 0 {
				x |= expBits // a NaN or an infinity
			}
			put(x)
		}
		return b
	}
	f32 := patterns(4, []uint64{0, 1, 0x7fffff, 0x800000, 0x3f800000, 0x7f7fffff, 0x7f800000, 0x7fc00000, 0x7fffffff}, 250_000)
	f64 := patterns(8, []uint64{0, 1, 0xfffffffffffff, 0x10000000000000, 0x3ff0000000000000, 0x7fefffffffffffff,
		0x7ff0000000000000, 0x7ff8000000000000, 0x7fffffffffffffff}, 250_000)
	var leaves []pickle.Leaf
	for _, tc := range []struct {
		dt   pickle.DType
		data []byte
	}{
		{pickle.F16, all16}, {pickle.BF16, all16}, {pickle.F32, f32}, {pickle.F64, f64},
		{pickle.C64, f32}, {pickle.C128, f64},
	} {
		tensor, err := pickle.NewTensor(tc.dt, []int{len(tc.data) / tc.dt.Size()}, tc.data)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, pickle.Leaf{Name: string(tc.dt), Value: tensor})
	}
	var doc bytes.Buffer
	if err := Write(&doc, leaves, nil); err != nil {
		t.Fatal(err)
	}
	back, err := Read("floats.json", bytes.NewReader(doc.Bytes()), int64(doc.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range leaves {
		want, _ := l.Value.(*pickle.Tensor).Bytes()
		got, err := back[i].Value.(*pickle.Tensor).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < len(want); k += 2 {
			if !bytes.Equal(got[k:k+2], want[k:k+2]) {
				e := k / l.Value.(*pickle.Tensor).DType.Size()
				t.Errorf("%s: element %d changed (bytes %x, want %x)", l.Name, e, got[k:k+2], want[k:k+2])
				break
			}
		}
	}
}

// TestReadNaN checks what "NaN", which every NaN was before the bits of others were
// written, reads as: the dtype's canonical quiet NaN, torch.tensor(float("nan"))'s.
func TestReadNaN(t *testing.T) {
	for _, tc := range []struct {
		dtype, data string
		want        []byte
	}{
		{"F64", `"NaN"`, []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f}},
		{"F32", `"NaN"`, []byte{0, 0, 0xc0, 0x7f}},
		{"F16", `"NaN"`, []byte{0, 0x7e}},
		{"BF16", `"NaN"`, []byte{0xc0, 0x7f}},
		{"C64", `["NaN", "NaN:0xffc00001"]`, []byte{0, 0, 0xc0, 0x7f, 1, 0, 0xc0, 0xff}},
		{"BF16", `"NaN:0xffff"`, []byte{0xff, 0xff}},
	} {
		doc := `{"tensors": [{"name": "x", "dtype": "` + tc.dtype + `", "shape": [1], "data": [` + tc.data + `]}]}`
		leaves, err := Read("nan.json", strings.NewReader(doc), int64(len(doc)))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if got, _ := leaves[0].Value.(*pickle.Tensor).Bytes(); !bytes.Equal(got, tc.want) {
			t.Errorf("%s %s read as %x, want %x", tc.dtype, tc.data, got, tc.want)
		}
	}
}
