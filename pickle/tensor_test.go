package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strings"
	"testing"
)

// opaqueSource hides the direct access of a source, so reads go through
// ReadAt as they do for an os.File.
type opaqueSource struct{ r io.ReaderAt }

func (o opaqueSource) ReadAt(p []byte, off int64) (int, error) { return o.r.ReadAt(p, off) }

// refGather computes a view's C-order bytes element by element.
func refGather(data []byte, e int, shape, strides []int, offset int) []byte {
	n := 1
	for _, d := range shape {
		n *= d
	}
	out := make([]byte, 0, n*e)
	if n == 0 {
		return out
	}
	idx := make([]int, len(shape))
	for {
		p := offset
		for i := range idx {
			p += idx[i] * strides[i]
		}
		out = append(out, data[p*e:(p+1)*e]...)
		i := len(idx) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return out
		}
	}
}

// maxWriter records the largest single write.
type maxWriter struct {
	bytes.Buffer
	max int
}

func (w *maxWriter) Write(p []byte) (int, error) {
	w.max = max(w.max, len(p))
	return w.Buffer.Write(p)
}

func TestViews(t *testing.T) {
	views := []struct {
		name    string
		n       int // storage elements
		shape   []int
		strides []int
		offset  int
	}{
		{"contiguous", 24, []int{4, 6}, []int{6, 1}, 0},
		{"transposed", 24, []int{6, 4}, []int{1, 6}, 0},
		{"sliced columns", 24, []int{4, 3}, []int{6, 2}, 1},
		{"offset rows", 24, []int{2, 6}, []int{6, 1}, 12},
		{"scalar", 24, []int{}, []int{}, 8},
		{"empty", 24, []int{0, 6}, []int{6, 1}, 0},
		{"empty with offset past end", 4, []int{3, 0}, []int{1, 1}, 9},
		{"expanded", 3, []int{4, 3}, []int{0, 1}, 0},
		{"size-1 dims with odd strides", 24, []int{1, 4, 1, 6}, []int{99, 6, 7, 1}, 0},
		{"permuted 3-d", 60, []int{5, 3, 4}, []int{1, 20, 5}, 0},
		{"inner contiguous block", 64, []int{2, 2, 8}, []int{32, 8, 1}, 3},
		{"large transposed (many chunks)", 700 * 500, []int{500, 700}, []int{1, 500}, 0},
		{"large sparse rows", 3 * 400000, []int{3, 100000}, []int{400000, 3}, 1},
		{"large contiguous run", 600000, []int{2, 300000}, []int{300000, 1}, 0},
		{"very sparse", 900002, []int{2, 4}, []int{1, 300000}, 0},
	}
	dtypes := []DType{U8, I16, F32, F64, C128}
	for _, v := range views {
		for _, dt := range dtypes {
			e := dt.Size()
			data := seq(v.n, e)
			want := refGather(data, e, v.shape, v.strides, v.offset)
			be := append([]byte(nil), data...)
			swapBytes(be, dt.swapUnit())
			sources := []struct {
				name string
				s    *Storage
			}{
				{"direct", &Storage{DType: dt, Len: int64(v.n), src: memSource(data)}},
				{"readerat", &Storage{DType: dt, Len: int64(v.n), src: opaqueSource{memSource(data)}}},
				{"big-endian", &Storage{DType: dt, Len: int64(v.n), src: memSource(be), swap: true}},
				{"big-endian readerat", &Storage{DType: dt, Len: int64(v.n), src: opaqueSource{memSource(be)}, swap: true}},
			}
			for _, src := range sources {
				tt := &Tensor{DType: dt, Shape: v.shape, Strides: v.strides, Offset: v.offset, Storage: src.s}
				name := v.name + "/" + string(dt) + "/" + src.name
				got, err := tt.Bytes()
				if err != nil {
					t.Errorf("%s: Bytes: %v", name, err)
					continue
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: Bytes differ from the element-by-element gather", name)
				}
				var w maxWriter
				n, err := tt.WriteTo(&w)
				if err != nil || n != int64(len(want)) || !bytes.Equal(w.Bytes(), want) {
					t.Errorf("%s: WriteTo wrote %d bytes (err %v), want the %d bytes of Bytes", name, n, err, len(want))
				}
				if w.max > chunkSize {
					t.Errorf("%s: WriteTo made a write of %d bytes, more than %d", name, w.max, chunkSize)
				}
				if got := tt.NumBytes(); got != int64(len(want)) {
					t.Errorf("%s: NumBytes = %d, want %d", name, got, len(want))
				}
			}
		}
	}
}

// hugeDim is a dimension far beyond any budget: 2^40 on 64-bit platforms, 2^28 on 32-bit.
const hugeDim = 1 << (28 + 12*(bits.UintSize/64))

func TestViewErrors(t *testing.T) {
	s := &Storage{DType: F32, Len: 10, src: memSource(seq(10, 4)), key: "0"}
	tests := []struct {
		name    string
		tensor  *Tensor
		wantErr string
	}{
		{"past end", &Tensor{DType: F32, Shape: []int{3, 4}, Strides: []int{4, 1}, Storage: s}, "exceeds storage"},
		{"offset past end", &Tensor{DType: F32, Shape: []int{1}, Strides: []int{1}, Offset: 10, Storage: s}, "exceeds storage"},
		{"negative stride", &Tensor{DType: F32, Shape: []int{2}, Strides: []int{-1}, Offset: 5, Storage: s}, "negative stride"},
		{"negative dim", &Tensor{DType: F32, Shape: []int{-2}, Strides: []int{1}, Storage: s}, "negative size -2 in [-2]"},
		{"stride count", &Tensor{DType: F32, Shape: []int{2, 2}, Strides: []int{1}, Storage: s}, "strides for"},
		{"overflow", &Tensor{DType: F32, Shape: []int{math.MaxInt, math.MaxInt, math.MaxInt}, Strides: []int{1, 1, 1}, Storage: s}, "the product of its sizes other than 0 is more than"},
		{"huge stride", &Tensor{DType: F32, Shape: []int{3}, Strides: []int{math.MaxInt / 2}, Storage: s}, fmt.Sprintf("reaches element %d, which exceeds storage", 2*(math.MaxInt/2))},
		{"huge expand", &Tensor{DType: F32, Shape: []int{hugeDim}, Strides: []int{0}, Storage: s}, "refusing to materialise"},
		{"unknown dtype", &Tensor{DType: "U4", Shape: []int{1}, Strides: []int{1}, Storage: s}, "unknown dtype"},
		{"nil storage", &Tensor{DType: F32, Shape: []int{1}}, "nil storage"},
		{"no data", &Tensor{DType: F32, Shape: []int{1}, Storage: &Storage{DType: F32, Len: 1}}, "no data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.tensor.Bytes()
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.wantErr)) {
				t.Errorf("Bytes error %v, want one containing %q", err, tc.wantErr)
			}
			if _, err := tc.tensor.WriteTo(io.Discard); err == nil {
				t.Error("WriteTo succeeded")
			}
			if _, err := tc.tensor.Float64s(); err == nil {
				t.Error("Float64s succeeded")
			}
		})
	}
}

func TestShortSource(t *testing.T) {
	// The storage claims more bytes than its source holds (a file
	// truncated after opening): reads fail instead of returning garbage.
	s := &Storage{DType: F32, Len: 8, src: opaqueSource{memSource(seq(4, 4))}}
	tt := &Tensor{DType: F32, Shape: []int{8}, Storage: s}
	if _, err := tt.Bytes(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Bytes error %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestIsContiguous(t *testing.T) {
	tests := []struct {
		shape, strides []int
		want           bool
	}{
		{[]int{2, 3}, []int{3, 1}, true},
		{[]int{2, 3}, []int{1, 2}, false},
		{[]int{2, 1, 3}, []int{3, 99, 1}, true},
		{[]int{}, []int{}, true},
		{[]int{0, 3}, []int{7, 7}, true},
		{[]int{3}, []int{0}, false},
		{[]int{2, 3}, nil, true},
		{[]int{2, 3}, []int{3}, false},
	}
	for _, tc := range tests {
		tt := &Tensor{DType: F32, Shape: tc.shape, Strides: tc.strides}
		if got := tt.IsContiguous(); got != tc.want {
			t.Errorf("shape %v strides %v: IsContiguous = %v, want %v", tc.shape, tc.strides, got, tc.want)
		}
	}
}

func TestNewTensor(t *testing.T) {
	data := seq(6, 4)
	tt, err := NewTensor(I32, []int{2, 3}, data)
	if err != nil {
		t.Fatal(err)
	}
	if !tt.IsContiguous() || tt.NumElements() != 6 || tt.Storage.Len != 6 {
		t.Errorf("NewTensor gave %+v", tt)
	}
	got, err := tt.Bytes()
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("Bytes = %x, %v; want %x", got, err, data)
	}
	for _, bad := range []struct {
		dt    DType
		shape []int
		data  []byte
	}{
		{I32, []int{2, 2}, data},
		{I32, []int{-6}, data},
		{"X", []int{6}, data},
		{I32, []int{6}, data[:23]},
	} {
		if _, err := NewTensor(bad.dt, bad.shape, bad.data); err == nil {
			t.Errorf("NewTensor(%s, %v, %d bytes) succeeded", bad.dt, bad.shape, len(bad.data))
		}
	}
}

// refFloat decodes one little-endian element as float64 by its dtype's
// definition.
func refFloat(dt DType, b []byte) float64 {
	le := binary.LittleEndian
	switch dt {
	case F64:
		return math.Float64frombits(le.Uint64(b))
	case F32:
		return float64(math.Float32frombits(le.Uint32(b)))
	case F16:
		v, nan := refHalf(le.Uint16(b), 5, 10)
		if nan {
			return math.NaN()
		}
		return v
	case BF16:
		v, nan := refHalf(le.Uint16(b), 8, 7)
		if nan {
			return math.NaN()
		}
		return v
	case I64:
		return float64(int64(le.Uint64(b)))
	case I32:
		return float64(int32(le.Uint32(b)))
	case I16:
		return float64(int16(le.Uint16(b)))
	case I8:
		return float64(int8(b[0]))
	case U8:
		return float64(b[0])
	case BOOL:
		if b[0] != 0 {
			return 1
		}
		return 0
	}
	panic("no reference for " + dt)
}

func TestFloatConversions(t *testing.T) {
	for _, dt := range []DType{F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL} {
		e := dt.Size()
		const n = 3000
		data := seq(n, e)
		// A transposed view, so conversion goes through the strided path.
		tt := &Tensor{DType: dt, Shape: []int{50, 60}, Strides: []int{1, 50}, Storage: &Storage{DType: dt, Len: n, src: memSource(data)}}
		raw, err := tt.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		f32, err := tt.Float32s()
		if err != nil {
			t.Fatalf("%s: Float32s: %v", dt, err)
		}
		f64, err := tt.Float64s()
		if err != nil {
			t.Fatalf("%s: Float64s: %v", dt, err)
		}
		if len(f32) != n || len(f64) != n {
			t.Fatalf("%s: got %d and %d values, want %d", dt, len(f32), len(f64), n)
		}
		for i := 0; i < n; i++ {
			want := refFloat(dt, raw[i*e:(i+1)*e])
			if math.IsNaN(want) {
				if !math.IsNaN(f64[i]) || !math.IsNaN(float64(f32[i])) {
					t.Errorf("%s[%d]: got %v, %v; want NaN", dt, i, f32[i], f64[i])
				}
				continue
			}
			if f64[i] != want || f32[i] != float32(want) {
				t.Errorf("%s[%d]: got %v (f32), %v (f64); want %v", dt, i, f32[i], f64[i], want)
				break
			}
		}
	}
	c := &Tensor{DType: C64, Shape: []int{1}, Storage: &Storage{DType: C64, Len: 1, src: memSource(seq(1, 8))}}
	if _, err := c.Float32s(); err == nil {
		t.Error("Float32s of a complex tensor succeeded")
	}
}

func TestInt64s(t *testing.T) {
	le := binary.LittleEndian
	for _, dt := range []DType{I64, I32, I16, I8, U8, U16, U32, U64, BOOL} {
		e := dt.Size()
		const n = 3000
		data := seq(n, e)
		if dt == U64 {
			for i := 0; i < n; i++ {
				data[i*8+7] &= 0x7f // within the int64 range
			}
		}
		tt := &Tensor{DType: dt, Shape: []int{50, 60}, Strides: []int{1, 50}, Storage: &Storage{DType: dt, Len: n, src: memSource(data)}}
		raw, err := tt.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		got, err := tt.Int64s()
		if err != nil || len(got) != n {
			t.Fatalf("%s: Int64s: %d values, %v", dt, len(got), err)
		}
		for i := 0; i < n; i++ {
			b := raw[i*e : (i+1)*e]
			var want int64
			switch dt {
			case I64, U64:
				want = int64(le.Uint64(b))
			case U32:
				want = int64(le.Uint32(b))
			case U16:
				want = int64(le.Uint16(b))
			default:
				want = int64(refFloat(dt, b))
			}
			if got[i] != want {
				t.Errorf("%s[%d]: got %d, want %d", dt, i, got[i], want)
				break
			}
		}
	}
	big := &Tensor{DType: U64, Shape: []int{1}, Storage: &Storage{DType: U64, Len: 1, src: memSource([]byte{0, 0, 0, 0, 0, 0, 0, 0x80})}}
	if _, err := big.Int64s(); err == nil || !strings.Contains(err.Error(), "beyond the int64 range") {
		t.Errorf("Int64s of 2^63: %v", err)
	}
	f := &Tensor{DType: F32, Shape: []int{1}, Storage: &Storage{DType: F32, Len: 1, src: memSource(seq(1, 4))}}
	if _, err := f.Int64s(); err == nil || !strings.Contains(err.Error(), "F32 elements are not integers") {
		t.Errorf("Int64s of a float tensor: %v", err)
	}
}

func TestStorageReadAt(t *testing.T) {
	data := seq(10, 8)
	be := append([]byte(nil), data...)
	swapBytes(be, 8)
	for _, s := range []*Storage{
		{DType: I64, Len: 10, src: memSource(data)},
		{DType: I64, Len: 10, src: memSource(be), swap: true},
	} {
		// Unaligned reads in the middle of elements.
		for _, r := range [][2]int{{0, 80}, {3, 9}, {13, 1}, {79, 1}, {70, 20}} {
			p := make([]byte, r[1])
			n, err := s.ReadAt(p, int64(r[0]))
			wantN := min(r[1], 80-r[0])
			if n != wantN || !bytes.Equal(p[:n], data[r[0]:r[0]+wantN]) {
				t.Errorf("swap=%v ReadAt(%d bytes at %d) = %d, %v; want %d bytes of the data", s.swap, r[1], r[0], n, err, wantN)
			}
			if (wantN < r[1]) != (err == io.EOF) {
				t.Errorf("swap=%v ReadAt(%d bytes at %d): err %v", s.swap, r[1], r[0], err)
			}
		}
	}
}
