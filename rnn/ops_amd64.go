//go:build amd64 && !purego

package rnn

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run asm_gen.go

// The assembly kernels (kernels_amd64.s, written by asm_gen.go). Pointers must address
// enough memory for the sizes given: ops.tile's contract, checked by gemm, for the GEMM
// tiles; n values at each gate of each argument for the rows.

//go:noescape
func sgemmAVX512(k int, a *float32, lda int, b *float32, c *float32, ldc int, m int, bias *float32, add *float32, ldadd int, pf *float32)

//go:noescape
func sgemmAVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, m int, bias *float32, add *float32, ldadd int, pf *float32)

//go:noescape
func dgemmAVX512(k int, a *float64, lda int, b *float64, c *float64, ldc int, m int, bias *float64, add *float64, ldadd int, pf *float64)

//go:noescape
func dgemmAVX2(k int, a *float64, lda int, b *float64, c *float64, ldc int, m int, bias *float64, add *float64, ldadd int, pf *float64)

//go:noescape
func tanhAVX2(dst, src *float32, n int)

//go:noescape
func lstmAVX2(gates, c, h *float32, n int)

//go:noescape
func gruAVX2(hg, xg, hp, out *float32, n int)

//go:noescape
func tanhAVX512(dst, src *float32, n int)

//go:noescape
func lstmAVX512(gates, c, h *float32, n int)

//go:noescape
func gruAVX512(hg, xg, hp, out *float32, n int)

//go:noescape
func dtanhAVX2(dst, src *float64, n int)

//go:noescape
func dlstmAVX2(gates, c, h *float64, n int)

//go:noescape
func dgruAVX2(hg, xg, hp, out *float64, n int)

//go:noescape
func dtanhAVX512(dst, src *float64, n int)

//go:noescape
func dlstmAVX512(gates, c, h *float64, n int)

//go:noescape
func dgruAVX512(hg, xg, hp, out *float64, n int)

var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F
)

// asmOps returns the fastest assembly kernels for float32 element types on a CPU that has
// them, else nil.
func asmOps[T Float]() *ops[T] {
	all := allAsmOps[T]()
	if len(all) == 0 {
		return nil
	}
	return all[len(all)-1]
}

// allAsmOps returns every assembly kernel set this CPU runs for T, slowest first.
func allAsmOps[T Float]() []*ops[T] {
	var z T
	if !hasAVX2 {
		return nil
	}
	if unsafe.Sizeof(z) == 8 {
		avx2 := &ops[T]{
			name: "avx2", mr: 6, nr: 8, prefetch: true, tile: dtileAVX2[T],
			tanh: rowOf2(dtanhAVX2, f64[T]), lstm: rowOf3(dlstmAVX2, f64[T]), gru: rowOf4(dgruAVX2, f64[T]),
		}
		if !hasAVX512 {
			return []*ops[T]{avx2}
		}
		avx512 := &ops[T]{
			name: "avx512", mr: 6, nr: 32, prefetch: true, tile: dtileAVX512[T],
			tanh: rowOf2(dtanhAVX512, f64[T]), lstm: rowOf3(dlstmAVX512, f64[T]), gru: rowOf4(dgruAVX512, f64[T]),
		}
		return []*ops[T]{avx2, avx512}
	}
	avx2 := &ops[T]{
		name: "avx2", mr: 6, nr: 16, prefetch: true, tile: tileAVX2[T],
		tanh: rowOf2(tanhAVX2, f32[T]), lstm: rowOf3(lstmAVX2, f32[T]), gru: rowOf4(gruAVX2, f32[T]),
	}
	if !hasAVX512 {
		return []*ops[T]{avx2}
	}
	avx512 := &ops[T]{
		name: "avx512", mr: 6, nr: 64, prefetch: true, tile: tileAVX512[T],
		tanh: rowOf2(tanhAVX512, f32[T]), lstm: rowOf3(lstmAVX512, f32[T]), gru: rowOf4(gruAVX512, f32[T]),
	}
	return []*ops[T]{avx2, avx512}
}

// f32 returns the address of s[0] as a *float32; T is a float32 type.
func f32[T Float](s []T) *float32 {
	if s == nil {
		return nil
	}
	return (*float32)(unsafe.Pointer(&s[0]))
}

func tileAVX512[T Float](k int, a []T, lda int, b []T, c []T, ldc int, m int, bias, add []T, ldadd int, pf []T) {
	sgemmAVX512(k, f32(a), lda, f32(b), f32(c), ldc, m, f32(bias), f32(add), ldadd, f32(pf))
}

func tileAVX2[T Float](k int, a []T, lda int, b []T, c []T, ldc int, m int, bias, add []T, ldadd int, pf []T) {
	sgemmAVX2(k, f32(a), lda, f32(b), f32(c), ldc, m, f32(bias), f32(add), ldadd, f32(pf))
}

// f64 returns the address of s[0] as a *float64; T is a float64 type.
func f64[T Float](s []T) *float64 {
	if s == nil {
		return nil
	}
	return (*float64)(unsafe.Pointer(&s[0]))
}

func dtileAVX512[T Float](k int, a []T, lda int, b []T, c []T, ldc int, m int, bias, add []T, ldadd int, pf []T) {
	dgemmAVX512(k, f64(a), lda, f64(b), f64(c), ldc, m, f64(bias), f64(add), ldadd, f64(pf))
}

func dtileAVX2[T Float](k int, a []T, lda int, b []T, c []T, ldc int, m int, bias, add []T, ldadd int, pf []T) {
	dgemmAVX2(k, f64(a), lda, f64(b), f64(c), ldc, m, f64(bias), f64(add), ldadd, f64(pf))
}

// rowOf2 wraps an elementwise kernel k(dst, src, n) as ops.tanh: n = len(dst), and src
// must hold n values. ptr converts a slice of T to the kernel's pointer type.
func rowOf2[T Float, E any](k func(dst, src *E, n int), ptr func([]T) *E) func(dst, src []T) {
	return func(dst, src []T) {
		n := len(dst)
		if n == 0 {
			return
		}
		_ = src[n-1]
		k(ptr(dst), ptr(src), n)
	}
}

// rowOf3 wraps an LSTM cell kernel k(g, c, h, n) as ops.lstm: n = len(h); g must hold
// 4n values and c n.
func rowOf3[T Float, E any](k func(g, c, h *E, n int), ptr func([]T) *E) func(g, c, h []T) {
	return func(g, c, h []T) {
		n := len(h)
		if n == 0 {
			return
		}
		_, _ = g[4*n-1], c[n-1]
		k(ptr(g), ptr(c), ptr(h), n)
	}
}

// rowOf4 wraps a GRU cell kernel k(hg, xg, hp, out, n) as ops.gru: n = len(out); hg and
// xg must hold 3n values, hp n.
func rowOf4[T Float, E any](k func(hg, xg, hp, out *E, n int), ptr func([]T) *E) func(hg, xg, hp, out []T) {
	return func(hg, xg, hp, out []T) {
		n := len(out)
		if n == 0 {
			return
		}
		_, _, _ = hg[3*n-1], xg[3*n-1], hp[n-1]
		k(ptr(hg), ptr(xg), ptr(hp), ptr(out), n)
	}
}
