package tileloop

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// BenchmarkLoop reports each loop's GFLOP/s (two per multiply-add of a lane), and last
// the FMA peak of the core (fma_peak, the loop of scripts/fma_peak.c): divide by it for the
// fraction a tile of that shape can reach.
func BenchmarkLoop(b *testing.B) {
	if !cpu.X86.HasAVX512F {
		b.Skip("the loops need AVX-512F")
	}
	a := make([]float32, 12*64+64)
	bv := make([]float32, 8*4*16+64)
	for _, l := range []struct {
		name     string
		f        func(int, *float32, *float32)
		mr, vecs int
	}{
		{"8x32", r8v2, 8, 2},
		{"8x32_no_broadcast", r8v2NoBroadcast, 8, 2},
		{"6x64", r6v4, 6, 4},
		{"8x48", r8v3, 8, 3},
		{"12x32", r12v2, 12, 2},
		{"4x64", r4v4, 4, 4},
	} {
		b.Run(l.name, func(b *testing.B) {
			const n = 1000
			for b.Loop() {
				l.f(n, &a[0], &bv[0])
			}
			fmas := float64(n) * 8 * float64(l.mr*l.vecs) * float64(b.N)
			b.ReportMetric(fmas*32/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
		})
	}
	b.Run("fma_peak", func(b *testing.B) {
		const n = 1000
		var flops float64
		for b.Loop() {
			flops += Peak(n)
		}
		b.ReportMetric(flops/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
	})
}
