package rnn

import "math"

// ops are the numeric kernels a Model runs for its element type. The portable set
// (portableOps) is written in Go; on amd64 with AVX2/FMA or AVX-512 the GEMM tiles, tanh
// and the LSTM and GRU cells are in assembly, in float32 and float64 (see ops_amd64.go). Every set computes the same
// expressions in the same order; they differ only in the order of the sums inside a dot
// product and in the rounding of tanh, exp and the sigmoid.
type ops[T Float] struct {
	name string
	mr   int // rows of a GEMM tile
	nr   int // columns of a GEMM tile, the width of a packed panel

	// prefetch says whether gemm hands the tiles the next panel of B to prefetch (pf)
	// where B exceeds streamMinBytes: a product of few rows per panel, whose B does not
	// stay in the caches, then streams its next panel into L2 while it computes this one
	// instead of waiting for it.
	prefetch bool

	// tile computes an m×nr block of C = A·B with m <= mr, or m a multiple of mr (then as
	// m/mr tiles of mr rows, one after another):
	//   C[i*ldc+j] = (Σ_k A[i*lda+k]·B[k*nr+j] + bias[j]) + add[i*ldadd+j]
	// where b is one packed panel (k rows of nr values), the bias term is absent when bias
	// is nil and the add term when add is nil. The sum over k is accumulated from zero and
	// the bias added to it afterwards, as ATen's addmm does.
	// pf, when not nil (and m >= 3), is memory the tile may prefetch into the L2 cache
	// while it computes: its first prefetchLen(k, nr) values, a quarter of a panel (a
	// hint: the Go tile ignores it, and pf's length is not checked).
	tile func(k int, a []T, lda int, b []T, c []T, ldc int, m int, bias, add []T, ldadd int, pf []T)

	// tanh sets dst[j] = tanh(src[j]) for j < len(dst).
	tanh func(dst, src []T)

	// lstm is one LSTM cell on one batch row, H = len(h): with the gates g = [i f g o]
	// (4H values, pre-activation), c (H values) is updated in place to
	// σ(f)·c + σ(i)·tanh(g) and h is set to σ(o)·tanh(c). h must not overlap g or c
	// (the AVX-512 kernel stores a vector of h after it has read the gates of the next).
	lstm func(g, c, h []T)

	// gru is one GRU cell on one batch row, H = len(out): with hg = W_hh·h + b_hh and
	// xg = W_ih·x + b_ih (3H values each, gates r z n) and hp the previous h,
	//   r = σ(hg_r + xg_r), z = σ(hg_z + xg_z), n = tanh(xg_n + hg_n·r),
	//   out = (hp - n)·z + n.
	// out may be hp itself; it must not overlap hg, xg or hp otherwise (the AVX-512
	// kernel stores a vector of out after it has read the operands of the next).
	gru func(hg, xg, hp, out []T)
}

// opsFor returns the fastest kernel set for T on this machine.
func opsFor[T Float]() *ops[T] {
	if o := asmOps[T](); o != nil {
		return o
	}
	return portableOps[T]()
}

// allOps returns every kernel set this machine runs for T, the portable one first.
func allOps[T Float]() []*ops[T] {
	return append([]*ops[T]{portableOps[T]()}, allAsmOps[T]()...)
}

// portableOps returns the kernels written in Go.
func portableOps[T Float]() *ops[T] {
	return &ops[T]{
		name: "go",
		mr:   4,
		nr:   goNR,
		tile: tileGo[T],
		tanh: tanhGo[T],
		lstm: lstmGo[T],
		gru:  gruGo[T],
	}
}

// goNR is the panel width of the Go kernels.
const goNR = 8

// goBlock is the length of the blocks over k of the Go GEMM tile.
const goBlock = 16

// tileGo is the Go GEMM tile for panels of goNR columns. It sums each row's products in
// blocks of goBlock terms, one after another, each from zero, and adds the blocks' sums
// in order, so that the rounding error grows with the length and the number of the
// blocks rather than with k, as the partial sums of a vectorized dot product do (over
// 256 random products, 1.8 units in the last place of the sum's scale in the
// root-mean-square, against 4.8 for one chain and 1.5 for OpenBLAS's 16 partial sums);
// every row is summed alike, whatever m is.
func tileGo[T Float](k int, a []T, lda int, b []T, c []T, ldc int, m int, bias, add []T, ldadd int, pf []T) {
	b = b[:k*goNR]
	for i := 0; i < m; i++ {
		ar := a[i*lda : i*lda+k]
		var sum [goNR]T
		for k0 := 0; k0 < k; k0 += goBlock {
			k1 := min(k, k0+goBlock)
			blockGo(&sum, ar[k0:k1], b[k0*goNR:k1*goNR])
		}
		c0, c1, c2, c3, c4, c5, c6, c7 := sum[0], sum[1], sum[2], sum[3], sum[4], sum[5], sum[6], sum[7]
		if bias != nil {
			bb := bias[:goNR]
			c0 += bb[0]
			c1 += bb[1]
			c2 += bb[2]
			c3 += bb[3]
			c4 += bb[4]
			c5 += bb[5]
			c6 += bb[6]
			c7 += bb[7]
		}
		if add != nil {
			ad := add[i*ldadd : i*ldadd+goNR]
			c0 += ad[0]
			c1 += ad[1]
			c2 += ad[2]
			c3 += ad[3]
			c4 += ad[4]
			c5 += ad[5]
			c6 += ad[6]
			c7 += ad[7]
		}
		cr := c[i*ldc : i*ldc+goNR]
		cr[0], cr[1], cr[2], cr[3] = c0, c1, c2, c3
		cr[4], cr[5], cr[6], cr[7] = c4, c5, c6, c7
	}
}

// blockGo adds to sum[j], for the goNR columns j, the sum of a[kk]·b[kk*goNR+j] over kk,
// taken from zero: one block of tileGo. (Not inlined: a loop of its own keeps the block's
// sums in registers.)
//
//go:noinline
func blockGo[T Float](sum *[goNR]T, a, b []T) {
	b = b[:len(a)*goNR]
	var s0, s1, s2, s3, s4, s5, s6, s7 T
	for kk, av := range a {
		bk := b[kk*goNR : kk*goNR+goNR : kk*goNR+goNR]
		s0 += T(av * bk[0])
		s1 += T(av * bk[1])
		s2 += T(av * bk[2])
		s3 += T(av * bk[3])
		s4 += T(av * bk[4])
		s5 += T(av * bk[5])
		s6 += T(av * bk[6])
		s7 += T(av * bk[7])
	}
	sum[0] += s0
	sum[1] += s1
	sum[2] += s2
	sum[3] += s3
	sum[4] += s4
	sum[5] += s5
	sum[6] += s6
	sum[7] += s7
}

// The scalar activations evaluate in float64 and round once to T.

func tanhOf[T Float](x T) T { return T(math.Tanh(float64(x))) }

func sigmoidOf[T Float](x T) T { return T(1 / (1 + math.Exp(-float64(x)))) }

func reluOf[T Float](x T) T {
	if x < 0 {
		return 0
	}
	return x // NaN stays NaN, as at::relu keeps it
}

func tanhGo[T Float](dst, src []T) {
	src = src[:len(dst)]
	for j, x := range src {
		dst[j] = tanhOf(x)
	}
}

func reluRow[T Float](dst, src []T) {
	src = src[:len(dst)]
	for j, x := range src {
		dst[j] = reluOf(x)
	}
}

func lstmGo[T Float](g, c, h []T) {
	n := len(h)
	gi, gf, gg, gout := g[:n], g[n:2*n], g[2*n:3*n], g[3*n:4*n]
	c = c[:n]
	for j := range h {
		i := sigmoidOf(gi[j])
		f := sigmoidOf(gf[j])
		t := tanhOf(gg[j])
		o := sigmoidOf(gout[j])
		cy := T(f*c[j]) + T(i*t)
		c[j] = cy
		h[j] = o * tanhOf(cy)
	}
}

func gruGo[T Float](hg, xg, hp, out []T) {
	n := len(out)
	hg, xg, hp = hg[:3*n], xg[:3*n], hp[:n]
	for j := range out {
		r := sigmoidOf(hg[j] + xg[j])
		z := sigmoidOf(hg[n+j] + xg[n+j])
		nn := tanhOf(xg[2*n+j] + T(hg[2*n+j]*r))
		out[j] = T(T(hp[j]-nn)*z) + nn
	}
}
