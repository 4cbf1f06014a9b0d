package jsonvalue

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ptport/ptport/pickle"
)

// nanPrefix starts the string of a NaN other than its dtype's canonical one:
// "NaN:0x" and the NaN's bits in hexadecimal, as many digits as the dtype has nibbles.
const nanPrefix = "NaN:0x"

// CanonicalNaN returns the bits of the canonical quiet NaN of the float dtype dt (F64,
// F32, F16 or BF16), which torch.tensor(float("nan"), dtype=dt) makes: the positive NaN
// whose payload is the quiet bit alone, 0x7ff8000000000000 for F64, 0x7fc00000 for F32,
// 0x7e00 for F16 and 0x7fc0 for BF16. It is what "NaN" reads as.
func CanonicalNaN(dt pickle.DType) uint64 {
	switch dt {
	case pickle.F32:
		return 0x7fc00000
	case pickle.F16:
		return 0x7e00
	case pickle.BF16:
		return 0x7fc0
	}
	return 0x7ff8000000000000
}

// isNaN reports whether bits are a NaN of the float dtype dt.
func isNaN(dt pickle.DType, bits uint64) bool {
	switch dt {
	case pickle.F32:
		return bits&0x7f800000 == 0x7f800000 && bits&0x7fffff != 0 && bits>>32 == 0
	case pickle.F16:
		return bits&0x7c00 == 0x7c00 && bits&0x3ff != 0 && bits>>16 == 0
	case pickle.BF16:
		return bits&0x7f80 == 0x7f80 && bits&0x7f != 0 && bits>>16 == 0
	}
	return math.IsNaN(math.Float64frombits(bits))
}

// AppendFloatBits appends the element of the float dtype dt (F64, F32, F16 or BF16)
// whose bits are bits: a number in the shortest form that reads back to the same value
// of dt (F16 and BF16 through float32, which holds them exactly), "Infinity" or
// "-Infinity", "NaN" for dt's canonical NaN (see CanonicalNaN), and for any other NaN,
// whose sign and payload JSON has no number for, the string "NaN:0x" followed by its
// bits in hexadecimal, two digits a byte ("NaN:0xffc00000", "NaN:0xffff"). FloatBits
// reads each back to the same bits.
func AppendFloatBits(buf []byte, dt pickle.DType, bits uint64) []byte {
	if isNaN(dt, bits) {
		if bits == CanonicalNaN(dt) {
			return append(buf, `"NaN"`...)
		}
		buf = append(buf, `"`+nanPrefix...)
		s := strconv.FormatUint(bits, 16)
		buf = append(buf, strings.Repeat("0", 2*dt.Size()-len(s))...)
		buf = append(buf, s...)
		return append(buf, '"')
	}
	switch dt {
	case pickle.F32:
		return appendFloat(buf, float64(math.Float32frombits(uint32(bits))), 32)
	case pickle.F16:
		return appendFloat(buf, float64(pickle.Float16To32(uint16(bits))), 32)
	case pickle.BF16:
		return appendFloat(buf, float64(math.Float32frombits(uint32(bits)<<16)), 32)
	}
	return appendFloat(buf, math.Float64frombits(bits), 64)
}

// FloatBits returns the bits of the element of the float dtype dt (F64, F32, F16 or
// BF16) that tok, a json.Number or string token, is, as AppendFloatBits writes it: a
// number rounds to the nearest value of dt, ties to even (F16 and BF16 from the nearest
// float32), and is an error when it rounds to an infinity, outside dt's range, as an
// integer outside its dtype's is (the infinities are the strings "Infinity" and
// "-Infinity"); "NaN" is dt's canonical NaN; "NaN:0x" and hexadecimal digits are a NaN
// of those bits, which must be one of dt.
func FloatBits(dt pickle.DType, tok json.Token) (uint64, error) {
	bits, err := floatBits(dt, tok)
	if num, ok := tok.(json.Number); ok && err == nil && isInf(dt, bits) {
		top := AppendFloatBits(nil, dt, maxFinite[dt])
		return 0, fmt.Errorf("%s is outside the range of %s, [-%s, %s]", Describe(num), dt, top, top)
	}
	return bits, err
}

// maxFinite is the largest finite value of each float dtype, as its bits.
var maxFinite = map[pickle.DType]uint64{pickle.F64: 0x7fefffffffffffff, pickle.F32: 0x7f7fffff, pickle.F16: 0x7bff, pickle.BF16: 0x7f7f}

// isInf reports whether bits are an infinity of the float dtype dt.
func isInf(dt pickle.DType, bits uint64) bool {
	switch dt {
	case pickle.F64:
		return bits&^(1<<63) == 0x7ff0000000000000
	case pickle.F32:
		return bits&^(1<<31) == 0x7f800000
	case pickle.F16:
		return bits&^(1<<15) == 0x7c00
	}
	return bits&^(1<<15) == 0x7f80 // BF16
}

// floatBits is FloatBits, reading a number past dt's range as an infinity.
func floatBits(dt pickle.DType, tok json.Token) (uint64, error) {
	var f float64
	switch v := tok.(type) {
	case json.Number:
		bitSize := 32
		if dt == pickle.F64 {
			bitSize = 64
		}
		var err error
		f, err = strconv.ParseFloat(v.String(), bitSize)
		if err != nil && !math.IsInf(f, 0) {
			return 0, fmt.Errorf("%s is not a number", Describe(v))
		}
		if f != f { // not from a JSON number; read as "NaN" is
			return CanonicalNaN(dt), nil
		}
	case string:
		switch {
		case v == "NaN":
			return CanonicalNaN(dt), nil
		case v == "Infinity":
			f = math.Inf(1)
		case v == "-Infinity":
			f = math.Inf(-1)
		case strings.HasPrefix(v, nanPrefix):
			digits := v[len(nanPrefix):]
			if len(digits) == 2*dt.Size() {
				if bits, err := strconv.ParseUint(digits, 16, 64); err == nil && isNaN(dt, bits) {
					return bits, nil
				}
			}
			return 0, fmt.Errorf("%s is not a NaN of %s (%s and %d hexadecimal digits of one)", quote(v), dt, nanPrefix, 2*dt.Size())
		default:
			return 0, fmt.Errorf("%s is not a number", quote(v))
		}
	default:
		return 0, fmt.Errorf("%s is not a number", Describe(tok))
	}
	switch dt {
	case pickle.F32:
		return uint64(math.Float32bits(float32(f))), nil
	case pickle.F16:
		return uint64(halfOf(float32(f))), nil
	case pickle.BF16:
		return uint64(bfloat16Of(float32(f))), nil
	}
	return math.Float64bits(f), nil
}

// bfloat16Of rounds f, which is not NaN, to bfloat16, to nearest even.
func bfloat16Of(f float32) uint16 {
	b := math.Float32bits(f)
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// halfOf rounds f, which is not NaN, to IEEE 754 half precision, to nearest even.
func halfOf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff
	switch {
	case exp-127 > 15: // overflow, Inf
		return sign | 0x7c00
	case exp-127 >= -14: // normal
		h := uint32(exp-127+15)<<10 | frac>>13
		rest := frac & 0x1fff
		if rest > 0x1000 || (rest == 0x1000 && h&1 == 1) {
			h++ // may carry into the exponent, up to Inf: correct
		}
		return sign | uint16(h)
	case exp-127 < -25: // underflow to zero
		return sign
	}
	// subnormal: value = m * 2^(e-23) with the implicit bit, in units of 2^-24
	m := frac | 0x800000
	shift := uint32(-(exp - 127) - 14 + 13) // bits dropped
	h := m >> shift
	rest := m & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rest > half || (rest == half && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}
