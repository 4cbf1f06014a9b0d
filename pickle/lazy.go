package pickle

import (
	"encoding/binary"
	"fmt"
	"io"
)

// each streams the tensor's elements through fn as layout.each does, with the lazy
// conjugate and negative bits applied to each piece. A read that does not check the
// CRC-32 of the storage's record as it goes (l.checksRecord) checks it first
// (Storage.Verify), so that no bytes of a corrupt record reach fn.
func (t *Tensor) each(l *layout, chunk int64, fn func(p []byte) error) error {
	if l.n > 0 && !l.checksRecord() {
		if err := l.s.Verify(); err != nil {
			return err
		}
	}
	op := t.lazyOp()
	if op == nil {
		return l.each(chunk, fn)
	}
	return l.each(chunk, func(p []byte) error {
		op(p)
		return fn(p)
	})
}

// lazyOp returns the function that applies the tensor's conjugate and negative
// bits to whole little-endian elements in place, or nil when no bit is set.
func (t *Tensor) lazyOp() func(p []byte) {
	if !t.Conj && !t.Neg {
		return nil
	}
	d := t.DType
	if d.IsComplex() {
		// Conjugation negates the imaginary part, negation both parts.
		half := d.Size() / 2
		flipRe, flipIm := t.Neg, t.Neg != t.Conj
		neg := func(p []byte) { p[len(p)-1] ^= 0x80 }
		if d == C32 {
			neg = negHalf
		}
		return func(p []byte) {
			for i := 0; i+2*half <= len(p); i += 2 * half {
				if flipRe {
					neg(p[i : i+half])
				}
				if flipIm {
					neg(p[i+half : i+2*half])
				}
			}
		}
	}
	if !t.Neg {
		return nil
	}
	switch d {
	case F64, F32:
		size := d.Size()
		return func(p []byte) {
			for i := size - 1; i < len(p); i += size {
				p[i] ^= 0x80
			}
		}
	case F16:
		return func(p []byte) {
			for i := 0; i+2 <= len(p); i += 2 {
				negHalf(p[i : i+2])
			}
		}
	case BF16:
		return func(p []byte) {
			for i := 0; i+2 <= len(p); i += 2 {
				if h := binary.LittleEndian.Uint16(p[i:]); h&0x7fff > 0x7f80 {
					// torch negates through float32 and rounds a NaN back
					// to bfloat16's canonical NaN.
					binary.LittleEndian.PutUint16(p[i:], 0x7fc0)
				} else {
					p[i+1] ^= 0x80
				}
			}
		}
	case I8, U8:
		return func(p []byte) {
			for i := range p {
				p[i] = -p[i]
			}
		}
	case I16:
		return func(p []byte) {
			for i := 0; i+2 <= len(p); i += 2 {
				binary.LittleEndian.PutUint16(p[i:], -binary.LittleEndian.Uint16(p[i:]))
			}
		}
	case I32:
		return func(p []byte) {
			for i := 0; i+4 <= len(p); i += 4 {
				binary.LittleEndian.PutUint32(p[i:], -binary.LittleEndian.Uint32(p[i:]))
			}
		}
	case I64:
		return func(p []byte) {
			for i := 0; i+8 <= len(p); i += 8 {
				binary.LittleEndian.PutUint64(p[i:], -binary.LittleEndian.Uint64(p[i:]))
			}
		}
	}
	return nil
}

// negHalf negates the float16 in p as torch does, through float32: the sign
// flips, and a NaN comes back with float16's canonical payload.
func negHalf(p []byte) {
	h := binary.LittleEndian.Uint16(p) ^ 0x8000
	if h&0x7fff > 0x7c00 {
		h = h&0x8000 | 0x7e00
	}
	binary.LittleEndian.PutUint16(p, h)
}

// negatable reports whether torch can set the negative bit on a tensor of d:
// the floating-point, complex and signed integer types, and uint8 (negated
// modulo 256, as torch's neg is).
func negatable(d DType) bool {
	switch d {
	case F64, F32, F16, BF16, C32, C64, C128, I64, I32, I16, I8, U8:
		return true
	}
	return false
}

func (t *Tensor) decoder32() (func([]float32, []byte) []float32, error) {
	if err := t.checkFloat(); err != nil {
		return nil, err
	}
	return decoder[float32](t.DType)
}

func (t *Tensor) decoder64() (func([]float64, []byte) []float64, error) {
	if err := t.checkFloat(); err != nil {
		return nil, err
	}
	return decoder[float64](t.DType)
}

// checkFloat refuses the tensors whose elements have no floating-point value
// without more than a conversion.
func (t *Tensor) checkFloat() error {
	if t.Quantization != nil {
		return fmt.Errorf("pickle: a quantized (%s) tensor holds integers and quantization parameters, not values; read its Bytes and Quantization", t.Quantization.DType)
	}
	return nil
}

// lazyKey identifies the storage of a tensor's elements with its lazy bits applied.
type lazyKey struct {
	s          *Storage
	dtype      DType
	conj, negb bool
}

// resolvedStorage returns a storage holding t's storage with t's conjugate and
// negative bits applied to every element (of t's dtype), read on demand, so that the
// view t describes over it holds the values t's reading methods return. cache makes
// tensors with the same storage and bits share one storage.
func resolvedStorage(t *Tensor, cache map[lazyKey]*Storage) (*Storage, error) {
	k := lazyKey{t.Storage, t.DType, t.Conj, t.Neg}
	if s, ok := cache[k]; ok {
		return s, nil
	}
	nb, err := t.Storage.nbytes()
	if err != nil {
		return nil, err
	}
	e := int64(t.DType.Size())
	if e == 0 || nb%e != 0 {
		return nil, fmt.Errorf("pickle: storage %q of %d bytes is not a whole number of %s elements", t.Storage.key, nb, t.DType)
	}
	src := &lazySource{base: t.Storage, op: t.lazyOp(), e: e, n: nb}
	s := &Storage{DType: t.Storage.DType, Len: t.Storage.Len, Device: t.Storage.Device, key: t.Storage.key, src: src, expansion: t.Storage.expansion}
	cache[k] = s
	return s, nil
}

// lazySource reads a storage's little-endian bytes with op applied to each whole
// element of e bytes.
type lazySource struct {
	base *Storage
	op   func([]byte)
	e, n int64
}

func (l *lazySource) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= l.n {
		if len(p) == 0 && off >= 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), l.n)
	lo, hi := off-off%l.e, end
	if r := hi % l.e; r != 0 {
		hi += l.e - r
	}
	buf := make([]byte, hi-lo)
	if _, err := l.base.ReadAt(buf, lo); err != nil && err != io.EOF {
		return 0, err
	}
	if l.op != nil {
		l.op(buf)
	}
	n := copy(p, buf[off-lo:end-lo])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// storageOf returns the storage the writer writes for a strided tensor t: its own, or
// for a tensor with a lazy bit the storage with the bit applied (torch before 2.0 reads
// no lazy bits).
func (p *pickler) storageOf(t *Tensor) (*Storage, error) {
	if t.Conj || t.Neg {
		return resolvedStorage(t, p.lazy)
	}
	return t.Storage, nil
}
