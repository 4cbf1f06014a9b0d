package jsonvalue

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// TestHalfRounding checks halfOf against pickle.Float16To32 over every half that is not
// NaN: each converts back to itself, and each midpoint between neighbours rounds to the
// even one.
func TestHalfRounding(t *testing.T) {
	for h := range 1 << 16 {
		f := pickle.Float16To32(uint16(h))
		if f != f {
			continue
		}
		if got := halfOf(f); got != uint16(h) {
			t.Fatalf("%#04x -> %g -> %#04x", h, f, got)
		}
		next := uint16(h) + 1
		if h&0x7fff >= 0x7c00-1 || next&0x7fff == 0 {
			continue // Inf, NaN, or the sign changes
		}
		mid := (f + pickle.Float16To32(next)) / 2
		want := uint16(h)
		if h&1 == 1 {
			want = next
		}
		if got := halfOf(mid); got != want {
			t.Fatalf("midpoint of %#04x and %#04x (%g) -> %#04x, want %#04x", h, next, mid, got, want)
		}
	}
	for _, b := range []uint16{0, 0x8000, 0x3f80, 0x7f7f, 0x0001, 0x7f80, 0xff80} {
		if got := bfloat16Of(math.Float32frombits(uint32(b) << 16)); got != b {
			t.Errorf("bf16 %#04x -> %#04x", b, got)
		}
	}
	// 1 + 2^-8 lies halfway between the bfloat16s 1 and 1 + 2^-7: even is 1.
	if got := bfloat16Of(1 + 1.0/256); got != 0x3f80 {
		t.Errorf("bf16 of 1+2^-8 is %#04x, want 0x3f80", got)
	}
}

// TestFloatText pins the text of the special floats: NaN is "NaN" only for the dtype's
// canonical NaN, which "NaN" reads back as; any other NaN carries its bits.
func TestFloatText(t *testing.T) {
	for _, tc := range []struct {
		dt   pickle.DType
		bits uint64
		text string
	}{
		{pickle.F64, 0x7ff8000000000000, `"NaN"`},
		{pickle.F64, 0x7ff8000000000001, `"NaN:0x7ff8000000000001"`},
		{pickle.F64, 0xfff8000000000000, `"NaN:0xfff8000000000000"`},
		{pickle.F64, 0x7ff0000000000000, `"Infinity"`},
		{pickle.F64, 0x8000000000000000, `-0.0`},
		{pickle.F32, 0x7fc00000, `"NaN"`},
		{pickle.F32, 0x7fc00001, `"NaN:0x7fc00001"`},
		{pickle.F32, 0x7f800001, `"NaN:0x7f800001"`},
		{pickle.F32, 0xff800000, `"-Infinity"`},
		{pickle.F32, 0x3dcccccd, `0.1`},
		{pickle.F16, 0x7e00, `"NaN"`},
		{pickle.F16, 0x7c01, `"NaN:0x7c01"`},
		{pickle.F16, 0x0001, `5.9604645e-08`},
		{pickle.BF16, 0x7fc0, `"NaN"`},
		{pickle.BF16, 0xffff, `"NaN:0xffff"`},
		{pickle.BF16, 0x3f80, `1.0`},
	} {
		got := string(AppendFloatBits(nil, tc.dt, tc.bits))
		if got != tc.text {
			t.Errorf("%s %#x written as %s, want %s", tc.dt, tc.bits, got, tc.text)
		}
		var tok json.Token = json.Number(got)
		if strings.HasPrefix(got, `"`) {
			tok = strings.Trim(got, `"`)
		}
		if back, err := FloatBits(tc.dt, tok); err != nil || back != tc.bits {
			t.Errorf("%s %s read back as %#x, %v; want %#x", tc.dt, got, back, err, tc.bits)
		}
	}
}

// TestFloatBitsRefuses checks what FloatBits takes: a NaN's bits must be one of the
// dtype's, with as many digits as it has nibbles.
func TestFloatBitsRefuses(t *testing.T) {
	for _, tc := range []struct {
		dt  pickle.DType
		tok json.Token
	}{
		{pickle.F32, "NaN:0x7f800000"},          // infinity
		{pickle.F32, "NaN:0x3f800000"},          // 1
		{pickle.F32, "NaN:0x7fc0000"},           // 7 digits
		{pickle.F32, "NaN:0x007fc00000"},        // 10 digits
		{pickle.F16, "NaN:0x7fc00000"},          // an F32 NaN
		{pickle.F64, "NaN:0x7ff800000000000g"},  // not hexadecimal
		{pickle.F64, "NaN:0x+7ff8000000000000"}, // a sign
		{pickle.F64, "nan"},
		{pickle.F64, "Inf"},
		{pickle.F64, true},
		{pickle.F64, json.Delim('[')},
	} {
		if bits, err := FloatBits(tc.dt, tc.tok); err == nil {
			t.Errorf("%s %v read as %#x", tc.dt, tc.tok, bits)
		}
	}
	// A number that rounds to an infinity is outside the dtype's range; one that rounds
	// to its largest value or to zero is not.
	for _, tc := range []struct {
		dt   pickle.DType
		num  string
		err  string // "" when it reads as bits
		bits uint64
	}{
		{pickle.F32, "1e39", "1e39 is outside the range of F32, [-3.4028235e+38, 3.4028235e+38]", 0},
		{pickle.F32, "3.5e38", "outside the range of F32", 0},
		{pickle.F32, "-3.4028235e38", "", 0xff7fffff},
		{pickle.F16, "70000", "70000 is outside the range of F16, [-65504.0, 65504.0]", 0},
		{pickle.F16, "-65520", "outside the range of F16", 0},
		{pickle.F16, "65519", "", 0x7bff},
		{pickle.BF16, "3.4e38", "outside the range of BF16", 0},
		{pickle.F64, "1e400", "1e400 is outside the range of F64", 0},
		{pickle.F64, "-1.7976931348623157e308", "", 0xffefffffffffffff},
		{pickle.F32, "1e-50", "", 0},
	} {
		bits, err := FloatBits(tc.dt, json.Number(tc.num))
		if tc.err == "" && (err != nil || bits != tc.bits) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s %s read as %#x, %v; want %#x, %q", tc.dt, tc.num, bits, err, tc.bits, tc.err)
		}
	}
	// The infinities ptport writes, as strings, read back.
	for _, dt := range []pickle.DType{pickle.F64, pickle.F32, pickle.F16, pickle.BF16} {
		for _, s := range []string{"Infinity", "-Infinity"} {
			if bits, err := FloatBits(dt, s); err != nil || !isInf(dt, bits) {
				t.Errorf("%s %q read as %#x, %v; want an infinity", dt, s, bits, err)
			}
		}
	}
}
