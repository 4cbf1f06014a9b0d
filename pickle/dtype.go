package pickle

import "math"

// DType is an element type, named as safetensors names it.
type DType string

// The element types a checkpoint can hold.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	BOOL DType = "BOOL"
	C64  DType = "C64"
	C128 DType = "C128"
)

// Size returns the number of bytes of one element, or 0 if d is unknown.
func (d DType) Size() int {
	switch d {
	case F64, I64, C64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, BOOL:
		return 1
	case C128:
		return 16
	}
	return 0
}

// swapUnit is the width of the byte-swapped unit of d: the element size,
// or the size of one component for complex types.
func (d DType) swapUnit() int {
	switch d {
	case C64:
		return 4
	case C128:
		return 8
	}
	return d.Size()
}

// torchDTypes maps the names of torch dtype objects (torch.float32, ...)
// to DTypes.
var torchDTypes = map[string]DType{
	"float64": F64, "double": F64,
	"float32": F32, "float": F32,
	"float16": F16, "half": F16,
	"bfloat16": BF16,
	"int64":    I64, "long": I64,
	"int32": I32, "int": I32,
	"int16": I16, "short": I16,
	"int8":      I8,
	"uint8":     U8,
	"bool":      BOOL,
	"complex64": C64, "cfloat": C64,
	"complex128": C128, "cdouble": C128,
}

// storageDTypes maps torch's legacy storage class names to DTypes.
var storageDTypes = map[string]DType{
	"DoubleStorage":        F64,
	"FloatStorage":         F32,
	"HalfStorage":          F16,
	"BFloat16Storage":      BF16,
	"LongStorage":          I64,
	"IntStorage":           I32,
	"ShortStorage":         I16,
	"CharStorage":          I8,
	"ByteStorage":          U8,
	"BoolStorage":          BOOL,
	"ComplexFloatStorage":  C64,
	"ComplexDoubleStorage": C128,
	"UntypedStorage":       U8,
}

// Float16To32 decodes an IEEE 754 binary16 (torch.float16) value exactly: signed zeros,
// subnormals and infinities are preserved, and a NaN keeps its sign and
// payload and is quieted, as torch's (and the F16C hardware's) conversion
// does.
func Float16To32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f && mant == 0: // infinity
		return math.Float32frombits(sign | 0x7f800000)
	case exp == 0x1f: // NaN: payload in the top mantissa bits, quiet bit set
		return math.Float32frombits(sign | 0x7fc00000 | mant<<13)
	case exp != 0: // normal: rebias 15 -> 127
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: normalise the mantissa into a float32 normal.
	e := uint32(113) // exponent of 2^-14 in float32, before shifting
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// bf16to32 decodes a bfloat16 value exactly (it is the top half
// of a float32).
func bf16to32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}
