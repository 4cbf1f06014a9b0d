package tileloop

import "golang.org/x/sys/cpu"

//go:generate go run gen.go

// Each loop runs n iterations of 8 steps over k of an mr×(16·vecs) tile (see gen.go):
// rNvM has N rows and M vectors; r8v2NoBroadcast is r8v2 with its FMAs only.

//go:noescape
func r8v2(n int, a, b *float32)

//go:noescape
func r8v2NoBroadcast(n int, a, b *float32)

//go:noescape
func r6v4(n int, a, b *float32)

//go:noescape
func r8v3(n int, a, b *float32)

//go:noescape
func r12v2(n int, a, b *float32)

//go:noescape
func r4v4(n int, a, b *float32)

// fmaPeak runs n iterations of 8 steps of 16 independent chains of float32 FMAs on
// AVX-512 registers, with no memory operand: the loop of scripts/fma_peak.c.
func fmaPeak(n int)

// Peak runs the FMA peak loop for n iterations and returns the floating-point operations
// it did, two per multiply-add of a lane: over its time, the FMA peak of the core it ran
// on. The CPU must have AVX-512F (HasPeak).
func Peak(n int) float64 {
	fmaPeak(n)
	return float64(n) * 8 * 16 * 32
}

// HasPeak reports whether Peak runs on this CPU.
func HasPeak() bool { return cpu.X86.HasAVX512F }
