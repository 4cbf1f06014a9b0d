package pickle

import "math"

// DType is an element type, named as safetensors names it where safetensors has a name.
//
// The names of ptport's own, for torch dtypes that safetensors does not name, are
// C128 (torch.complex128), C32 (torch.complex32: two float16 halves, real first),
// F8_E4M3FNUZ and F8_E5M2FNUZ (torch.float8_e4m3fnuz and float8_e5m2fnuz), and
// BITS8, BITS16, BITS1X8, BITS2X4, BITS4X2 (torch's opaque bits dtypes). F4 is
// torch.float4_e2m1fn_x2: one element is one byte holding two E2M1 values, the first in
// the low nibble, and shapes count bytes as torch's do; safetensors' F4 counts the 4-bit
// values, so a safetensors shape has its last dimension doubled.
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
	U64  DType = "U64"
	U32  DType = "U32"
	U16  DType = "U16"
	U8   DType = "U8"
	BOOL DType = "BOOL"
	C64  DType = "C64"
	C128 DType = "C128"
	C32  DType = "C32"

	F8E4M3     DType = "F8_E4M3"     // torch.float8_e4m3fn
	F8E5M2     DType = "F8_E5M2"     // torch.float8_e5m2
	F8E4M3FNUZ DType = "F8_E4M3FNUZ" // torch.float8_e4m3fnuz
	F8E5M2FNUZ DType = "F8_E5M2FNUZ" // torch.float8_e5m2fnuz
	F8E8M0     DType = "F8_E8M0"     // torch.float8_e8m0fnu
	F4         DType = "F4"          // torch.float4_e2m1fn_x2

	Bits8   DType = "BITS8"
	Bits16  DType = "BITS16"
	Bits1x8 DType = "BITS1X8"
	Bits2x4 DType = "BITS2X4"
	Bits4x2 DType = "BITS4X2"
)

// Size returns the number of bytes of one element, or 0 if d is unknown.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64, C64:
		return 8
	case F32, I32, U32, C32:
		return 4
	case F16, BF16, I16, U16, Bits16:
		return 2
	case I8, U8, BOOL, F8E4M3, F8E5M2, F8E4M3FNUZ, F8E5M2FNUZ, F8E8M0, F4,
		Bits8, Bits1x8, Bits2x4, Bits4x2:
		return 1
	case C128:
		return 16
	}
	return 0
}

// IsComplex reports whether d is a complex type (C32, C64, C128).
func (d DType) IsComplex() bool { return d == C32 || d == C64 || d == C128 }

// isFloating reports whether d is a real floating-point type (torch's is_floating_point).
func isFloating(d DType) bool {
	switch d {
	case F64, F32, F16, BF16, F8E4M3, F8E5M2, F8E4M3FNUZ, F8E5M2FNUZ, F8E8M0, F4:
		return true
	}
	return false
}

// swapUnit is the width of the byte-swapped unit of d: the element size,
// or the size of one component for complex types.
func (d DType) swapUnit() int {
	if d.IsComplex() {
		return d.Size() / 2
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
	"uint64":    U64,
	"uint32":    U32,
	"uint16":    U16,
	"uint8":     U8,
	"bool":      BOOL,
	"complex64": C64, "cfloat": C64,
	"complex128": C128, "cdouble": C128,
	"complex32": C32, "chalf": C32,
	"float8_e4m3fn":    F8E4M3,
	"float8_e5m2":      F8E5M2,
	"float8_e4m3fnuz":  F8E4M3FNUZ,
	"float8_e5m2fnuz":  F8E5M2FNUZ,
	"float8_e8m0fnu":   F8E8M0,
	"float4_e2m1fn_x2": F4,
	"bits8":            Bits8,
	"bits16":           Bits16,
	"bits1x8":          Bits1x8,
	"bits2x4":          Bits2x4,
	"bits4x2":          Bits4x2,
}

// dtypeNames names the torch dtype of each DType, as torch pickles a dtype (GLOBAL
// torch.<name>).
var dtypeNames = map[DType]string{
	F64: "float64", F32: "float32", F16: "float16", BF16: "bfloat16",
	I64: "int64", I32: "int32", I16: "int16", I8: "int8",
	U64: "uint64", U32: "uint32", U16: "uint16", U8: "uint8", BOOL: "bool",
	C64: "complex64", C128: "complex128", C32: "complex32",
	F8E4M3: "float8_e4m3fn", F8E5M2: "float8_e5m2", F8E4M3FNUZ: "float8_e4m3fnuz",
	F8E5M2FNUZ: "float8_e5m2fnuz", F8E8M0: "float8_e8m0fnu", F4: "float4_e2m1fn_x2",
	Bits8: "bits8", Bits16: "bits16", Bits1x8: "bits1x8", Bits2x4: "bits2x4", Bits4x2: "bits4x2",
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
	// Storages of quantized tensors hold their integer representation.
	"QInt8Storage":  I8,
	"QUInt8Storage": U8,
	"QInt32Storage": I32,
}

// quantizedStorages names the torch dtype of the storages of quantized tensors.
var quantizedStorages = map[string]string{
	"QInt8Storage":  "qint8",
	"QUInt8Storage": "quint8",
	"QInt32Storage": "qint32",
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

// float8To32 decodes one 8-bit float of format d (F8E4M3, F8E5M2, F8E4M3FNUZ,
// F8E5M2FNUZ, F8E8M0) exactly, as torch's c10 conversions to float do: E4M3 has no
// infinities and NaN is S.1111.111; E5M2 is IEEE-like; the FNUZ formats have one NaN
// (0x80), no infinities and no negative zero, and their exponent bias is one more; E8M0
// is a bare biased exponent, 2^(e-127), with 0xff its NaN.
func float8To32(d DType, b uint8) float32 {
	if d == F8E8M0 {
		if b == 0xff {
			return float32(math.NaN())
		}
		return float32(math.Ldexp(1, int(b)-127))
	}
	var ebits, mbits uint
	var bias int
	switch d {
	case F8E4M3:
		ebits, mbits, bias = 4, 3, 7
	case F8E5M2:
		ebits, mbits, bias = 5, 2, 15
	case F8E4M3FNUZ:
		ebits, mbits, bias = 4, 3, 8
	case F8E5M2FNUZ:
		ebits, mbits, bias = 5, 2, 16
	default:
		return float32(math.NaN())
	}
	neg := b&0x80 != 0
	e := int(b>>mbits) & (1<<ebits - 1)
	m := int(b) & (1<<mbits - 1)
	switch d {
	case F8E4M3:
		if e == 15 && m == 7 {
			return float32(math.Copysign(math.NaN(), sign(neg)))
		}
	case F8E5M2:
		if e == 31 {
			if m == 0 {
				return float32(math.Inf(int(sign(neg))))
			}
			return float32(math.Copysign(math.NaN(), sign(neg)))
		}
	case F8E4M3FNUZ, F8E5M2FNUZ:
		if b == 0x80 {
			return float32(math.NaN())
		}
	}
	var v float64
	if e == 0 {
		v = math.Ldexp(float64(m), 1-bias-int(mbits))
	} else {
		v = math.Ldexp(float64(m|1<<mbits), e-bias-int(mbits))
	}
	return float32(math.Copysign(v, sign(neg)))
}

func sign(neg bool) float64 {
	if neg {
		return -1
	}
	return 1
}
