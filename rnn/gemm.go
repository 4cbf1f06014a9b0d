package rnn

import "unsafe"

// packed is a weight matrix W of PyTorch's shape (n, k) stored transposed as B = Wᵀ (k×n) in
// column panels of nr columns: column j of B (row j of W) lies in panel p = j/nr, and
// B[kk][j] = W[j][kk] is at data[p*k*nr + kk*nr + j%nr]. The last panel is padded with
// zero columns up to np = ⌈n/nr⌉·nr. A panel is what a GEMM tile reads, contiguously,
// from its first row to its last.
type packed[T Float] struct {
	k, n, np, nr int
	data         []T
}

// packWeight packs w, row-major (n, k), into panels of nr columns.
func packWeight[T Float](w []T, n, k, nr int) packed[T] {
	np := (n + nr - 1) / nr * nr
	p := packed[T]{k: k, n: n, np: np, nr: nr, data: make([]T, k*np)}
	for j := 0; j < n; j++ {
		panel := p.data[j/nr*k*nr:]
		off := j % nr
		row := w[j*k : j*k+k]
		for kk, v := range row {
			panel[kk*nr+off] = v
		}
	}
	return p
}

// padVector returns v copied into a slice of length np (zero padded), or nil when v is nil.
func padVector[T Float](v []T, np int) []T {
	if v == nil {
		return nil
	}
	out := make([]T, np)
	copy(out, v)
	return out
}

// blockRows returns the number of rows of A a GEMM with B = b sweeps across every panel
// of b before moving on, so that those rows of A stay in the core's L2 cache while b's
// panels pass them. (A last block of fewer than 3 rows joins the one before it.)
//
// A b that stays in L2 (not streamed) must not be pushed out of it by the block's rows
// of A and of C, which every panel's tiles write a part of: the block takes about
// blockBytes of them, in whole tiles of mr rows, and at least minBlockTiles tiles, below
// which b's panels would be read again too often. A b that streams from L3 or memory is
// read once for every block: its blocks take maxBlockRows/2 rows, where the stores of C
// cost less than reading b more often.
func blockRows[T Float](b *packed[T], mr int) int {
	if streamed(b) {
		return maxBlockRows / 2
	}
	var z T
	row := (b.k + b.np) * int(unsafe.Sizeof(z))
	return min(maxBlockRows, max(minBlockTiles, blockBytes/row/mr)*mr)
}

const (
	blockBytes    = 256 << 10 // rows of A and C in a block beside a b that stays in L2
	maxBlockRows  = 192
	minBlockTiles = 4
)

// streamMinBytes is the size of B above which it is taken to stream from L3 or memory
// rather than stay in the L2 cache from one product to the next: about half the L2 cache
// of a current x86 core. Beyond it the tiles of a product of 3 rows or more prefetch the
// next panel (ops.prefetch), and the products of the steps alternate the order of their
// panels (scratch.gemm). A smaller B is read from L2, where prefetching only takes the
// tiles' load slots; a matrix-vector product, which reads B as fast as it arrives, gains
// nothing from prefetching either.
const streamMinBytes = 1 << 20

// streamed reports whether b exceeds streamMinBytes.
func streamed[T Float](b *packed[T]) bool {
	var z T
	return len(b.data)*int(unsafe.Sizeof(z)) > streamMinBytes
}

// gemm computes, for rows i < m and all b.np columns j,
//
//	C[i*ldc+j] = (Σ_k A[i*lda+k]·B[k][j] + bias[j]) + add[i*ldadd+j]
//
// with the bias term absent when bias is nil and the add term when add is nil. c must
// hold m rows of b.np columns (ldc >= b.np); bias, when given, b.np values.
func gemm[T Float](o *ops[T], m int, a []T, lda int, b *packed[T], c []T, ldc int, bias, add []T, ldadd int) {
	gemmPanels(o, m, a, lda, b, 0, b.np/b.nr, false, c, ldc, bias, add, ldadd, nil)
}

// gemmPanels computes what gemm computes for the columns of panels [p0, p1) of b only,
// the panels in order, or last to first when back is set. Each element is computed as
// gemm computes it, so a product split by panels over goroutines, or taken in either
// order, gives gemm's result to the bit.
//
// ahead, when not nil, is memory the caller reads soon after the product: the next time
// step's input projection, the add term of the next product. Where b stays in L2 (not
// streamed), the tiles that prefetch nothing else prefetch ahead into L2, a piece of
// prefetchLen values each, first to last, as far as whole pieces go; the next product
// then finds its add term there, where it would otherwise wait for it from L3 or memory
// at the end of each tile. A streamed b leaves ahead alone: the L2 cache is then full of
// b's panels, which the next product reads back (see scratch.gemm), and fetching more
// into it made those products slower. ahead is a hint; it does not change the result.
func gemmPanels[T Float](o *ops[T], m int, a []T, lda int, b *packed[T], p0, p1 int, back bool, c []T, ldc int, bias, add []T, ldadd int, ahead []T) {
	if m <= 0 || p0 >= p1 {
		return
	}
	k, nr, mr := b.k, b.nr, o.mr
	// Bounds are checked here once for the whole product, so that the tiles may trust them
	// (within the panels' columns only: other goroutines may be writing the others).
	_ = b.data[p1*k*nr-1]
	_ = a[(m-1)*lda+k-1]
	_ = c[(m-1)*ldc+p1*nr-1]
	if bias != nil {
		_ = bias[p1*nr-1]
	}
	if add != nil {
		_ = add[(m-1)*ldadd+p1*nr-1]
	}
	prefetch := o.prefetch && m >= 3 && streamed(b)
	piece := prefetchLen(k, nr)
	if !o.prefetch || m < 3 || prefetch || piece == 0 {
		ahead = nil
	}
	block := blockRows(b, mr)
	for i0 := 0; i0 < m; {
		i1 := i0 + block
		if m-i1 < 3 {
			i1 = m
		}
		for q := p0; q < p1; q++ {
			p, pn := q, q+1 // this panel and the next
			if back {
				p, pn = p0+p1-1-q, p0+p1-2-q
			}
			bp := b.data[p*k*nr : (p+1)*k*nr]
			var next []T // the next panel, which the first tiles prefetch
			if q+1 < p1 && prefetch {
				next = b.data[pn*k*nr : (pn+1)*k*nr]
			}
			var bs []T
			if bias != nil {
				bs = bias[p*nr : (p+1)*nr]
			}
			for i, t := i0, 0; i < i1; t++ {
				rows := tileRows(i1-i, mr)
				var pf []T
				if next != nil && t < 4 {
					// The first 4 tiles prefetch the next panel, a quarter each, one at
					// a time.
					pf = next[t*len(next)/4:]
				} else if rows >= 3 && len(ahead) >= piece {
					pf, ahead = ahead[:piece], ahead[piece:]
				} else {
					for rows%mr == 0 && i+rows < i1 && tileRows(i1-i-rows, mr) == mr {
						rows += mr // full tiles run in one call
					}
				}
				var ad []T
				if add != nil {
					ad = add[i*ldadd+p*nr:]
				}
				o.tile(k, a[i*lda:], lda, bp, c[i*ldc+p*nr:], ldc, rows, bs, ad, ldadd, pf)
				i += rows
			}
		}
		i0 = i1
	}
}

// prefetchLen returns how many values from pf a tile of 3 rows or more prefetches over
// its k steps, panels of nr columns: a quarter of a panel, over the steps that run 8 at a
// time (ops.tile).
func prefetchLen(k, nr int) int { return k / 8 * 8 * nr / 4 }

// tileRows returns the height of the next tile with rest rows left: mr, except that the
// last two tiles share their rows when the last would otherwise hold 1 or 2. A tile of 1
// or 2 rows splits each row's sum over k into partial sums, to hide the latency of its
// few chains of FMAs; taller tiles sum each row from k = 0 up. So a product of 3 rows or
// more sums every row in order, however its rows fall into tiles, and a row's result does
// not depend on which other rows share the product.
func tileRows(rest, mr int) int {
	if rest > mr && rest < mr+3 {
		return (rest + 1) / 2
	}
	return min(mr, rest)
}

// rowScratch holds the copies gemmRows makes of a product of fewer than 3 rows.
type rowScratch[T Float] struct{ a, c []T }

// gemmRows computes, for rows i < m and all b.np columns j,
//
//	C[i*ldc+j] = Σ_k A[i*lda+k]·B[k][j] + bias[j]
//
// as gemm does, but with every row summed in the same order whatever m is: a product of 1
// or 2 rows runs as a tile of 3 rows (the last row repeated) in the buffers of rs. It is
// the product of the rows that are independent samples (the input projections, the
// heads), so that a row's result does not depend on how many rows were computed with it:
// a sequence stepped a few steps at a time gives what it gives in one Forward.
func gemmRows[T Float](o *ops[T], rs *rowScratch[T], m int, a []T, lda int, b *packed[T], c []T, ldc int, bias []T) {
	if m <= 0 || m >= 3 {
		gemm(o, m, a, lda, b, c, ldc, bias, nil, 0)
		return
	}
	k, np := b.k, b.np
	rs.a = grow(rs.a, 3*k)
	rs.c = grow(rs.c, 3*np)
	for i := 0; i < 3; i++ {
		copy(rs.a[i*k:(i+1)*k], a[min(i, m-1)*lda:][:k])
	}
	gemm(o, 3, rs.a, k, b, rs.c, np, bias, nil, 0)
	for i := 0; i < m; i++ {
		copy(c[i*ldc:i*ldc+np], rs.c[i*np:])
	}
}
