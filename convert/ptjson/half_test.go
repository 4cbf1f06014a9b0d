package ptjson

import (
	"math"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// TestHalfConversions checks float32ToHalf against pickle.Float16To32 over every half: each
// converts back to itself, and each midpoint between neighbours rounds to the even one.
func TestHalfConversions(t *testing.T) {
	for h := range 1 << 16 {
		f := pickle.Float16To32(uint16(h))
		got := float32ToHalf(f)
		if f != f {
			if pickle.Float16To32(got) == pickle.Float16To32(got) {
				t.Fatalf("NaN %#04x became %#04x", h, got)
			}
			continue
		}
		if got != uint16(h) {
			t.Fatalf("%#04x -> %g -> %#04x", h, f, got)
		}
		next := uint16(h) + 1
		g := pickle.Float16To32(next)
		if h&0x7fff >= 0x7c00-1 || next&0x7fff == 0 {
			continue // Inf, NaN, or the sign changes
		}
		mid := (f + g) / 2
		want := uint16(h)
		if h&1 == 1 {
			want = next
		}
		if got := float32ToHalf(mid); got != want {
			t.Fatalf("midpoint of %#04x and %#04x (%g) -> %#04x, want %#04x", h, next, mid, got, want)
		}
	}
	for _, b := range []uint16{0, 0x8000, 0x3f80, 0x7f7f, 0x0001, 0x7f80, 0xff80} {
		if got := float32ToBF16(math.Float32frombits(uint32(b) << 16)); got != b {
			t.Errorf("bf16 %#04x -> %#04x", b, got)
		}
	}
}
