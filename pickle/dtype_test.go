package pickle

import (
	"math"
	"testing"
)

// refHalf decodes a binary16 or bfloat16 bit pattern from its definition,
// (-1)^s × 2^(e-bias) × (1 + m/2^mbits), in float64 arithmetic.
func refHalf(h uint16, ebits, mbits uint) (v float64, nan bool) {
	bias := (1 << (ebits - 1)) - 1
	s := h >> 15
	e := int(h>>mbits) & (1<<ebits - 1)
	m := float64(h & (1<<mbits - 1))
	sign := 1.0
	if s == 1 {
		sign = -1
	}
	switch {
	case e == 1<<ebits-1 && m == 0:
		return math.Inf(int(sign)), false
	case e == 1<<ebits-1:
		return 0, true
	case e == 0:
		return sign * math.Ldexp(m, 1-bias-int(mbits)), false
	}
	return sign * math.Ldexp(1+m/float64(uint(1)<<mbits), e-bias), false
}

func TestHalfFloatsExhaustive(t *testing.T) {
	tests := []struct {
		name         string
		decode       func(uint16) float32
		ebits, mbits uint
		quiet        bool // NaNs come out quiet, as torch's conversion makes them
	}{
		{"F16", Float16To32, 5, 10, true},
		{"BF16", bf16to32, 8, 7, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := 0
			for i := 0; i < 1<<16; i++ {
				h := uint16(i)
				got := tc.decode(h)
				want, nan := refHalf(h, tc.ebits, tc.mbits)
				gb := math.Float32bits(got)
				ok := false
				if nan {
					// NaN: sign and payload kept in the top mantissa bits.
					payload := uint32(h) & (1<<tc.mbits - 1)
					if tc.quiet {
						payload |= 1 << (tc.mbits - 1)
					}
					ok = math.IsNaN(float64(got)) && gb>>31 == uint32(h>>15) &&
						gb&(1<<(23-tc.mbits)-1) == 0 && (gb>>(23-tc.mbits))&(1<<tc.mbits-1) == payload
				} else {
					// Every value is exactly representable in float32: the
					// float64 reference converts without rounding.
					ok = float64(float32(want)) == want && gb == math.Float32bits(float32(want))
				}
				if !ok {
					bad++
					if bad <= 5 {
						t.Errorf("%#04x: got %v (%#08x), want %v (nan %v)", h, got, gb, want, nan)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of 65536 patterns decoded wrongly", bad)
			}
		})
	}
}

func TestDTypeSize(t *testing.T) {
	tests := []struct {
		d    DType
		size int
	}{
		{F64, 8}, {F32, 4}, {F16, 2}, {BF16, 2}, {I64, 8}, {I32, 4}, {I16, 2}, {I8, 1},
		{U8, 1}, {BOOL, 1}, {C64, 8}, {C128, 16}, {"U4", 0}, {"", 0},
	}
	for _, tc := range tests {
		if got := tc.d.Size(); got != tc.size {
			t.Errorf("%q.Size() = %d, want %d", tc.d, got, tc.size)
		}
	}
}

// TestDTypeNames: every DType has a torch name, which names it back.
func TestDTypeNames(t *testing.T) {
	for d := range dtypeNames {
		if d.Size() == 0 {
			t.Errorf("%s has no size", d)
		}
	}
	for name, d := range torchDTypes {
		n, ok := dtypeNames[d]
		if !ok {
			t.Errorf("%s (torch.%s) has no torch name", d, name)
			continue
		}
		if torchDTypes[n] != d {
			t.Errorf("%s: torch.%s names %s", d, n, torchDTypes[n])
		}
	}
}
