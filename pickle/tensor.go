package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// Tensor is a strided view on a Storage, as torch.Tensor is: element i of
// the C-order index (i0, i1, ...) is storage element Offset + Σ ik×Strides[k].
//
// The reading methods check the view against its storage and return an
// error for an invalid one (negative sizes or strides, elements outside the
// storage). They are safe for concurrent use. A view with zero strides
// (torch's expand) may be larger than its storage. Reads of the tensors of a
// file may materialise max(64 × the file's size, 16 MiB) bytes in all, every
// read counted (Options.ExpandLimit), and a read past that is a
// *LimitError; a tensor on a storage of NewStorage or NewStorageAt may
// materialise at most max(64 × its storage's bytes, 16 MiB) a read.
//
// Conj and Neg are torch's lazy conjugate and negative bits (torch.Tensor.is_conj and
// is_neg): the tensor's elements are its storage's elements conjugated (complex types
// only) and negated. The reading methods return the elements with both applied, as
// torch's resolve_conj and resolve_neg would, and Span reports no span.
//
// A quantized tensor (torch.qint8, quint8, qint32) has a non-nil Quantization and the
// DType of its stored integers (I8, U8, I32): Bytes and WriteTo give those integers,
// and Float32s and Float64s refuse it. Leaves names its parameters (see Leaves).
//
// A tensor on torch's meta device has a shape and no data: its Storage has Device
// "meta", and reading it is an error that wraps ErrNoData.
type Tensor struct {
	DType        DType
	Shape        []int
	Strides      []int    // elements; nil means C-contiguous
	Offset       int      // storage offset, elements
	Storage      *Storage // tensors sharing a storage share the pointer
	RequiresGrad bool
	Conj, Neg    bool
	Quantization *Quantization
}

// chunkSize is the size of the buffer WriteTo streams through.
const chunkSize = 1 << 20

// NewTensor returns a contiguous tensor over a new in-memory storage
// holding data (little-endian, not copied, not to be modified).
func NewTensor(dtype DType, shape []int, data []byte) (*Tensor, error) {
	s, err := NewStorage(dtype, data)
	if err != nil {
		return nil, err
	}
	n, ok := numel(shape)
	if !ok {
		return nil, fmt.Errorf("pickle: invalid shape %v", shape)
	}
	if n != s.Len {
		return nil, fmt.Errorf("pickle: shape %v needs %d elements, data holds %d", shape, n, s.Len)
	}
	return &Tensor{DType: dtype, Shape: append([]int(nil), shape...), Strides: contiguousStrides(shape), Storage: s}, nil
}

// numel returns the product of shape, or false if a dimension is negative, the product
// of the sizes other than 0 is more than an int64 holds, or a stride of the shape's
// contiguous layout (the product of the sizes after the first, those of 0 counting 1) is
// more than an int holds: an empty tensor's strides too are ints. Where int has 64 bits
// the last follows from the second.
func numel(shape []int) (int64, bool) {
	n, empty := uint64(1), false
	for i, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			empty = true
			continue
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		n = lo
		if i == 0 {
			continue
		}
		if stride := n / uint64(max(shape[0], 1)); stride > math.MaxInt {
			return 0, false
		}
	}
	if empty {
		return 0, true
	}
	return int64(n), true
}

func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		if shape[i] > 1 {
			acc *= shape[i]
		}
	}
	return st
}

// NumElements returns the number of elements (the product of Shape; 1 for
// a 0-d tensor), or 0 if Shape is invalid or the number exceeds the range
// of an int (2^31-1 where int has 32 bits).
func (t *Tensor) NumElements() int {
	n, ok := numel(t.Shape)
	if !ok {
		return 0
	}
	i, ok := asInt(n)
	if !ok {
		return 0
	}
	return i
}

// NumBytes returns the number of elements times the element size, or 0 if
// Shape is invalid; it is exact on every platform.
func (t *Tensor) NumBytes() int64 {
	n, ok := numel(t.Shape)
	if !ok {
		return 0
	}
	hi, lo := bits.Mul64(uint64(n), uint64(t.DType.Size()))
	if hi != 0 || lo > math.MaxInt64 {
		return 0
	}
	return int64(lo)
}

// IsContiguous reports whether the tensor is C-contiguous (dimensions of
// size 1 are ignored, as torch does).
func (t *Tensor) IsContiguous() bool {
	if t.Strides == nil {
		return true
	}
	if len(t.Strides) != len(t.Shape) {
		return false
	}
	if n, ok := numel(t.Shape); !ok || n == 0 {
		return ok
	}
	want := 1
	for i := len(t.Shape) - 1; i >= 0; i-- {
		if t.Shape[i] == 1 {
			continue
		}
		if t.Strides[i] != want {
			return false
		}
		want *= t.Shape[i]
	}
	return true
}

// layout is a validated plan for reading a tensor in C order: runs of run
// contiguous elements at storage positions base + Σ idx[i]*strides[i]
// over the outer dims.
type layout struct {
	s       *Storage
	e       int64 // bytes per element
	n       int64 // elements
	base    int64
	sizes   []int64
	strides []int64
	run     int64
}

func (t *Tensor) layout() (*layout, error) {
	if t == nil {
		return nil, errors.New("pickle: nil tensor")
	}
	e := int64(t.DType.Size())
	if e == 0 {
		return nil, fmt.Errorf("pickle: tensor has unknown dtype %q", t.DType)
	}
	nb, err := t.Storage.nbytes()
	if err != nil {
		return nil, err
	}
	strides := t.Strides
	if strides == nil {
		strides = contiguousStrides(t.Shape)
	}
	if err := checkView(t.Shape, strides, t.Offset, e, nb, fmt.Sprintf("storage %q (%d bytes)", t.Storage.key, nb)); err != nil {
		return nil, fmt.Errorf("pickle: %v", err)
	}
	n, _ := numel(t.Shape)
	l := &layout{s: t.Storage, e: e, n: n, base: int64(t.Offset), run: 1}
	if n == 0 {
		return l, nil
	}
	if err := t.Storage.expand(n*e, nb); err != nil {
		return nil, err
	}
	// Collapse: drop size-1 dims, merge dims that are contiguous with the
	// next inner one.
	var sz, st []int64
	for i := len(t.Shape) - 1; i >= 0; i-- {
		d, s := int64(t.Shape[i]), int64(strides[i])
		if d == 1 {
			continue
		}
		if k := len(sz) - 1; k >= 0 && s == st[k]*sz[k] {
			sz[k] *= d // the merged dim keeps the inner stride
			continue
		}
		sz = append(sz, d)
		st = append(st, s)
	}
	// sz/st are innermost-first; the innermost with stride 1 is the run.
	if len(sz) > 0 && st[0] == 1 {
		l.run = sz[0]
		sz, st = sz[1:], st[1:]
	}
	for i, j := 0, len(sz)-1; i < j; i, j = i+1, j-1 {
		sz[i], sz[j] = sz[j], sz[i]
		st[i], st[j] = st[j], st[i]
	}
	l.sizes, l.strides = sz, st
	return l, nil
}

// checksRecord reports whether reading l in C order checks the CRC-32 of the record
// that holds its storage as it goes (see recordSum), or there is none to check: the
// tensor is one run of the record's bytes that ends at the record's end and starts at
// or before where the reads so far have checked it.
func (l *layout) checksRecord() bool {
	s := l.s
	sum, off := s.sum, s.off
	if r, ok := s.src.(*recordReader); ok {
		sum = r.sum
	} else if sum != nil {
		off -= sum.base
	}
	if sum == nil {
		return true
	}
	if len(l.sizes) > 0 {
		return sum.done() // runs out of order check nothing
	}
	lo := off + l.base*l.e
	return sum.completedBy(lo, lo+l.n*l.e)
}

// each calls fn with consecutive pieces of the tensor's bytes in C order,
// little-endian. Pieces are at most chunk bytes (or one element if an
// element is larger) and buf is reused between calls.
func (l *layout) each(chunk int64, fn func(p []byte) error) error {
	if l.n == 0 {
		return nil
	}
	rb := l.run * l.e // bytes per run
	if rb >= chunk {
		// Long runs: stream each run in pieces.
		buf := make([]byte, chunk)
		return l.runs(func(pos int64) error {
			for k := int64(0); k < rb; k += chunk {
				m := min(chunk, rb-k)
				if err := l.s.readRaw(buf[:m], pos*l.e+k); err != nil {
					return err
				}
				if err := fn(buf[:m]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	per := chunk / rb
	if total := l.n / l.run; per > total {
		per = total
	}
	buf := make([]byte, per*rb)
	pos := make([]int64, 0, per)
	var window []byte
	flush := func() error {
		if len(pos) == 0 {
			return nil
		}
		dst := buf[:int64(len(pos))*rb]
		if err := l.gather(dst, pos, rb, &window); err != nil {
			return err
		}
		pos = pos[:0]
		return fn(dst)
	}
	err := l.runs(func(p int64) error {
		pos = append(pos, p)
		if int64(len(pos)) == per {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// runs calls fn with the storage position (elements) of each run, in C
// order.
func (l *layout) runs(fn func(pos int64) error) error {
	nd := len(l.sizes)
	idx := make([]int64, nd)
	p := l.base
	for {
		if err := fn(p); err != nil {
			return err
		}
		i := nd - 1
		for ; i >= 0; i-- {
			idx[i]++
			p += l.strides[i]
			if idx[i] < l.sizes[i] {
				break
			}
			p -= idx[i] * l.strides[i]
			idx[i] = 0
		}
		if i < 0 {
			return nil
		}
	}
}

// gather copies the runs at positions pos (each rb bytes) into dst.
func (l *layout) gather(dst []byte, pos []int64, rb int64, window *[]byte) error {
	lo, hi := pos[0], pos[0]
	for _, p := range pos {
		lo, hi = min(lo, p), max(hi, p)
	}
	loB, hiB := lo*l.e, hi*l.e+rb
	s := l.s
	if d, ok := s.src.(directSource); ok && (!s.swap || s.DType.swapUnit() <= 1) {
		var sumErr error
		err := d.access(s.off+loB, hiB-loB, func(b []byte) {
			for i, p := range pos {
				copy(dst[int64(i)*rb:int64(i+1)*rb], b[p*l.e-loB:])
			}
			sumErr = s.summed(loB, b)
		})
		if err != nil {
			return err
		}
		return sumErr
	}
	if span := hiB - loB; span <= 4*int64(len(dst))+64<<10 {
		if int64(cap(*window)) < span {
			*window = make([]byte, span)
		}
		w := (*window)[:span]
		if err := s.readRaw(w, loB); err != nil {
			return err
		}
		for i, p := range pos {
			copy(dst[int64(i)*rb:int64(i+1)*rb], w[p*l.e-loB:])
		}
		return nil
	}
	// Sparse runs: read each group of adjacent runs directly.
	for i := 0; i < len(pos); {
		j := i + 1
		for j < len(pos) && pos[j] == pos[j-1]+l.run {
			j++
		}
		if err := s.readRaw(dst[int64(i)*rb:int64(j)*rb], pos[i]*l.e); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// Bytes returns a C-contiguous little-endian copy of the tensor's
// elements (bf16 and f16 as their bit patterns, BOOL as 0/1 bytes,
// complex as real/imaginary pairs). Contiguous runs are copied as blocks.
func (t *Tensor) Bytes() ([]byte, error) {
	l, err := t.layout()
	if err != nil {
		return nil, err
	}
	n, err := sliceLen(l.n, l.e)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, n*int(l.e))
	err = t.each(l, max(min(4*chunkSize, l.n*l.e), l.e), func(p []byte) error {
		out = append(out, p...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// WriteTo writes the bytes Bytes would return to w, streaming through a
// buffer of at most 1 MiB.
func (t *Tensor) WriteTo(w io.Writer) (int64, error) {
	l, err := t.layout()
	if err != nil {
		return 0, err
	}
	var n int64
	err = t.each(l, max(min(chunkSize, l.n*l.e), l.e), func(p []byte) error {
		m, err := w.Write(p)
		n += int64(m)
		if err == nil && m != len(p) {
			err = io.ErrShortWrite
		}
		return err
	})
	return n, err
}

// Float32s returns the elements converted to float32: F16, BF16 and the 8-bit floats
// exactly, F64 rounded to nearest, integers and BOOL (0 or 1) as Go converts them.
// Complex, F4, BITS* and quantized tensors are an error.
func (t *Tensor) Float32s() ([]float32, error) {
	l, err := t.layout()
	if err != nil {
		return nil, err
	}
	dec, err := t.decoder32()
	if err != nil {
		return nil, err
	}
	n, err := sliceLen(l.n, 4)
	if err != nil {
		return nil, err
	}
	out := make([]float32, 0, n)
	err = t.each(l, max(min(chunkSize, l.n*l.e), l.e), func(p []byte) error {
		out = dec(out, p)
		return nil
	})
	return out, err
}

// Float64s returns the elements converted to float64 (exactly, except
// for I64 and U64 values beyond 2^53, rounded to nearest). Complex, F4,
// BITS* and quantized tensors are an error.
func (t *Tensor) Float64s() ([]float64, error) {
	l, err := t.layout()
	if err != nil {
		return nil, err
	}
	dec, err := t.decoder64()
	if err != nil {
		return nil, err
	}
	n, err := sliceLen(l.n, 8)
	if err != nil {
		return nil, err
	}
	out := make([]float64, 0, n)
	err = t.each(l, max(min(chunkSize, l.n*l.e), l.e), func(p []byte) error {
		out = dec(out, p)
		return nil
	})
	return out, err
}

// Int64s returns the elements of an integer or BOOL tensor (0 or 1) as int64s, exactly,
// as the indices an embedding looks up are read. Floating-point, complex and quantized
// tensors are an error, and so is a U64 element above the int64 range.
func (t *Tensor) Int64s() ([]int64, error) {
	if t.Quantization != nil {
		return nil, fmt.Errorf("pickle: a quantized (%s) tensor holds quantized values, not integers", t.Quantization.DType)
	}
	var dec func([]int64, []byte) []int64
	le := binary.LittleEndian
	switch t.DType {
	case I64, U64:
		dec = func(o []int64, p []byte) []int64 {
			for i := 0; i+8 <= len(p); i += 8 {
				o = append(o, int64(le.Uint64(p[i:])))
			}
			return o
		}
	case I32:
		dec = func(o []int64, p []byte) []int64 {
			for i := 0; i+4 <= len(p); i += 4 {
				o = append(o, int64(int32(le.Uint32(p[i:]))))
			}
			return o
		}
	case U32:
		dec = func(o []int64, p []byte) []int64 {
			for i := 0; i+4 <= len(p); i += 4 {
				o = append(o, int64(le.Uint32(p[i:])))
			}
			return o
		}
	case I16:
		dec = func(o []int64, p []byte) []int64 {
			for i := 0; i+2 <= len(p); i += 2 {
				o = append(o, int64(int16(le.Uint16(p[i:]))))
			}
			return o
		}
	case U16:
		dec = func(o []int64, p []byte) []int64 {
			for i := 0; i+2 <= len(p); i += 2 {
				o = append(o, int64(le.Uint16(p[i:])))
			}
			return o
		}
	case I8:
		dec = func(o []int64, p []byte) []int64 {
			for _, b := range p {
				o = append(o, int64(int8(b)))
			}
			return o
		}
	case U8:
		dec = func(o []int64, p []byte) []int64 {
			for _, b := range p {
				o = append(o, int64(b))
			}
			return o
		}
	case BOOL:
		dec = func(o []int64, p []byte) []int64 {
			for _, b := range p {
				o = append(o, int64(min(b, 1)))
			}
			return o
		}
	default:
		return nil, fmt.Errorf("pickle: %s elements are not integers", t.DType)
	}
	l, err := t.layout()
	if err != nil {
		return nil, err
	}
	n, err := sliceLen(l.n, 8)
	if err != nil {
		return nil, err
	}
	out := make([]int64, 0, n)
	err = t.each(l, max(min(chunkSize, l.n*l.e), l.e), func(p []byte) error {
		n := len(out)
		out = dec(out, p)
		if t.DType == U64 {
			for _, v := range out[n:] {
				if v < 0 {
					return fmt.Errorf("pickle: U64 element %d is beyond the int64 range", uint64(v))
				}
			}
		}
		return nil
	})
	return out, err
}

func decoder[T float32 | float64](d DType) (func([]T, []byte) []T, error) {
	le := binary.LittleEndian
	switch d {
	case F32:
		return func(o []T, p []byte) []T {
			for i := 0; i+4 <= len(p); i += 4 {
				o = append(o, T(math.Float32frombits(le.Uint32(p[i:]))))
			}
			return o
		}, nil
	case F64:
		return func(o []T, p []byte) []T {
			for i := 0; i+8 <= len(p); i += 8 {
				o = append(o, T(math.Float64frombits(le.Uint64(p[i:]))))
			}
			return o
		}, nil
	case F16:
		return func(o []T, p []byte) []T {
			for i := 0; i+2 <= len(p); i += 2 {
				o = append(o, T(Float16To32(le.Uint16(p[i:]))))
			}
			return o
		}, nil
	case BF16:
		return func(o []T, p []byte) []T {
			for i := 0; i+2 <= len(p); i += 2 {
				o = append(o, T(bf16to32(le.Uint16(p[i:]))))
			}
			return o
		}, nil
	case I64:
		return func(o []T, p []byte) []T {
			for i := 0; i+8 <= len(p); i += 8 {
				o = append(o, T(int64(le.Uint64(p[i:]))))
			}
			return o
		}, nil
	case I32:
		return func(o []T, p []byte) []T {
			for i := 0; i+4 <= len(p); i += 4 {
				o = append(o, T(int32(le.Uint32(p[i:]))))
			}
			return o
		}, nil
	case I16:
		return func(o []T, p []byte) []T {
			for i := 0; i+2 <= len(p); i += 2 {
				o = append(o, T(int16(le.Uint16(p[i:]))))
			}
			return o
		}, nil
	case I8:
		return func(o []T, p []byte) []T {
			for _, b := range p {
				o = append(o, T(int8(b)))
			}
			return o
		}, nil
	case U8:
		return func(o []T, p []byte) []T {
			for _, b := range p {
				o = append(o, T(b))
			}
			return o
		}, nil
	case U16:
		return func(o []T, p []byte) []T {
			for i := 0; i+2 <= len(p); i += 2 {
				o = append(o, T(le.Uint16(p[i:])))
			}
			return o
		}, nil
	case U32:
		return func(o []T, p []byte) []T {
			for i := 0; i+4 <= len(p); i += 4 {
				o = append(o, T(le.Uint32(p[i:])))
			}
			return o
		}, nil
	case U64:
		return func(o []T, p []byte) []T {
			for i := 0; i+8 <= len(p); i += 8 {
				o = append(o, T(le.Uint64(p[i:])))
			}
			return o
		}, nil
	case F8E4M3, F8E5M2, F8E4M3FNUZ, F8E5M2FNUZ, F8E8M0:
		var table [256]float32
		for i := range table {
			table[i] = float8To32(d, uint8(i))
		}
		return func(o []T, p []byte) []T {
			for _, b := range p {
				o = append(o, T(table[b]))
			}
			return o
		}, nil
	case BOOL:
		return func(o []T, p []byte) []T {
			for _, b := range p {
				if b != 0 {
					o = append(o, 1)
				} else {
					o = append(o, 0)
				}
			}
			return o
		}, nil
	}
	return nil, fmt.Errorf("pickle: cannot convert %s elements to floating point", d)
}
