package rnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/ptport/ptport/rnn/internal/tileloop"
)

// TestGemmKernels compares every kernel set's GEMM with a float64 reference, for shapes
// that exercise every tile height, panel padding and the unrolled and tail k loops.
func TestGemmKernels(t *testing.T) {
	testGemm[float32](t, 1e-5)
	testGemm[float64](t, 1e-13)
}

func testGemm[T Float](t *testing.T, tol float64) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, o := range allOps[T]() {
		for _, sh := range [][3]int{{1, 1, 1}, {1, 5, 3}, {2, 17, 4}, {3, 33, 7}, {5, 40, 9}, {7, 64, 16}, {8, 31, 65}, {9, 100, 33}, {13, 45, 130}, {32, 256, 256}, {50, 3, 1}, {20, 40, 600}, {10, 17, 1100}, {6, 20, 5}, {14, 33, 10}, {11, 40, 9}, {12, 33, 17}, {36, 40, 20}, {200, 70, 300}} {
			m, n, k := sh[0], sh[1], sh[2]
			w := make([]T, n*k)
			a := make([]T, m*(k+3)) // lda = k+3
			bias := make([]T, n)
			add := make([]T, m*(n+40))
			for _, s := range [][]T{w, a, bias, add} {
				for i := range s {
					s[i] = T(rng.NormFloat64())
				}
			}
			b := packWeight(w, n, k, o.nr)
			for _, withBias := range []bool{false, true} {
				for _, withAdd := range []bool{false, true} {
					ldc := b.np + 5
					c := make([]T, m*ldc)
					var bs, ad []T
					if withBias {
						bs = padVector(bias, b.np)
					}
					ldadd := 0
					if withAdd {
						ad, ldadd = add, n+40
						if ldadd < b.np {
							ad, ldadd = make([]T, m*b.np), b.np
						}
					}
					gemm(o, m, a, k+3, &b, c, ldc, bs, ad, ldadd)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							want := 0.0
							for kk := 0; kk < k; kk++ {
								want += float64(a[i*(k+3)+kk]) * float64(w[j*k+kk])
							}
							if withBias {
								want += float64(bias[j])
							}
							if withAdd {
								want += float64(ad[i*ldadd+j])
							}
							if got := float64(c[i*ldc+j]); abs(got-want) > tol*float64(k+2) {
								t.Fatalf("%s m=%d n=%d k=%d bias=%v add=%v: C[%d][%d] = %v, want %v", o.name, m, n, k, withBias, withAdd, i, j, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestGemmRowsIndependent checks that in a product of 3 rows or more each row's result
// does not depend on the other rows: every row of an m-row product equals, to the bit, the
// same row computed in a product of 3 rows.
func TestGemmRowsIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, o := range allOps[float32]() {
		const n, k = 70, 77
		w := make([]float32, n*k)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		b := packWeight(w, n, k, o.nr)
		for _, m := range []int{3, 4, 5, 7, 9, 10, 11, 13, 17, 18, 194, 195, 200} {
			a := make([]float32, (m+2)*k)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			c := make([]float32, m*b.np)
			gemm(o, m, a, k, &b, c, b.np, nil, nil, 0)
			c3 := make([]float32, 3*b.np)
			for i := 0; i < m; i++ {
				gemm(o, 3, a[i*k:], k, &b, c3, b.np, nil, nil, 0)
				if !slices.Equal(c[i*b.np:(i+1)*b.np], c3[:b.np]) {
					t.Fatalf("%s m=%d: row %d differs from the same row in a product of 3", o.name, m, i)
				}
			}
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestActivationKernels compares the elementwise kernels of every kernel set with the Go
// kernels (which evaluate tanh, exp and the sigmoid with package math in float64 and round
// once), over arguments from near 0 to beyond the clamps of exp and tanh and special
// values, at every tail length of both vector widths: within 3e-7 in float32 and 2e-15 in
// float64, relative to max(1, |value|).
func TestActivationKernels(t *testing.T) {
	testActivations[float32](t, 3e-7)
	testActivations[float64](t, 2e-15)
}

func testActivations[T Float](t *testing.T, tol float64) {
	rng := rand.New(rand.NewPCG(13, 14))
	ref := portableOps[T]()
	worst := 0.0
	nan := T(math.NaN())
	for _, o := range allOps[T]() {
		for n := 1; n <= 37; n++ {
			g := make([]T, 4*n)
			for i := range g {
				switch i % 5 {
				case 0:
					g[i] = T(rng.NormFloat64() * 0.3)
				case 1:
					g[i] = T(rng.NormFloat64() * 4)
				default:
					g[i] = T(rng.NormFloat64() * 60)
				}
			}
			c := make([]T, n)
			hp := make([]T, n)
			for i := range c {
				c[i] = T(rng.NormFloat64())
				hp[i] = T(rng.NormFloat64())
			}
			if n > 30 { // special values
				// NaNs with payload bits, which must stay NaN.
				nan2 := T(math.Float32frombits(0x7fc01234))
				copy(g[n-9:], []T{nan, T(math.Inf(1)), T(math.Inf(-1)), 0, 1e-30, -1e30, 1e-6, -3e-4, nan2})
			}
			check := func(what string, got, want []T) {
				t.Helper()
				for i := range got {
					if math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
						t.Fatalf("%s %s n=%d [%d]: %v, want %v", o.name, what, n, i, got[i], want[i])
					}
					if math.IsNaN(float64(want[i])) {
						continue
					}
					d := abs(float64(got[i])-float64(want[i])) / max(1, abs(float64(want[i])))
					worst = max(worst, d)
					if d > tol {
						t.Fatalf("%s %s n=%d [%d]: %v, want %v", o.name, what, n, i, got[i], want[i])
					}
				}
			}
			// tanh
			dst := make([]T, n+1)
			dst[n] = 42
			o.tanh(dst[:n], g)
			want := make([]T, n)
			ref.tanh(want, g)
			check("tanh", dst[:n], want)
			if dst[n] != 42 {
				t.Fatalf("%s tanh wrote past n=%d", o.name, n)
			}
			// lstm
			cc := append([]T(nil), c...)
			h := make([]T, n+1)
			h[n] = 42
			o.lstm(g, cc, h[:n])
			cw := append([]T(nil), c...)
			hw := make([]T, n)
			ref.lstm(g, cw, hw)
			check("lstm c", cc, cw)
			check("lstm h", h[:n], hw)
			if h[n] != 42 {
				t.Fatalf("%s lstm wrote past n=%d", o.name, n)
			}
			// gru
			outg := make([]T, n+1)
			outg[n] = 42
			o.gru(g[:3*n], g[n:4*n], hp, outg[:n])
			ow := make([]T, n)
			ref.gru(g[:3*n], g[n:4*n], hp, ow)
			check("gru", outg[:n], ow)
			if outg[n] != 42 {
				t.Fatalf("%s gru wrote past n=%d", o.name, n)
			}
		}
	}
	var z T
	t.Logf("%T: largest difference from the Go kernels, relative to max(1, |value|): %.3g", z, worst)
}

// BenchmarkGemm times the float32 GEMM of each kernel set on the shapes of the benchmark
// rows: the input projections (many rows) and the recurrent products (one step), with a
// matrix-vector product whose B stays in L2 to set beside the one that streams; and, as
// the baseline the kernels replace, gonum's Sgemm on the same product (C = A·Wᵀ). Each
// kernel set's product also reports its share of the FMA peak measured beside it
// (reportPeakShare).
func BenchmarkGemm(b *testing.B) {
	for _, sh := range [][3]int{
		{1, 256, 256},      // stream: recurrent, batch 1
		{16, 256, 256},     // medium: recurrent, half the batch
		{32, 256, 256},     // medium: recurrent, whole batch
		{16, 1024, 1024},   // large: recurrent, half the batch
		{32, 1024, 1024},   // large: recurrent, whole batch
		{1600, 1024, 512},  // large: input projection
		{3200, 256, 128},   // medium: input projection, layer 0
		{32, 1024, 256},    // lstm: recurrent, whole batch
		{3200, 1024, 256},  // lstm: input projection, layer 1
		{16, 1024, 256},    // lstm: recurrent, half the batch
		{1600, 1024, 128},  // lstm: input projection, layer 0, half the batch
		{1, 256, 512},      // a matrix-vector product whose 512 KiB of B stay in L2
		{1, 2048, 512},     // lstm_stream: recurrent
		{32, 4096, 1024},   // lstm_large: recurrent, half the batch
		{2048, 4096, 1024}, // lstm_large: input projection, half the batch
	} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, o := range allOps[float32]() {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", m, n, k, o.name), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				w := make([]float32, n*k)
				a := make([]float32, m*k)
				for i := range w {
					w[i] = float32(rng.NormFloat64())
				}
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				p := packWeight(w, n, k, o.nr)
				c := make([]float32, m*p.np)
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0, cpuOK := cpuTime(true)
				for b.Loop() {
					gemm(o, m, a, k, &p, c, p.np, nil, nil, 0)
				}
				flops := 2 * float64(m*n*k) * float64(b.N)
				b.ReportMetric(flops/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
				reportCPU(b, flops, cpu0, cpuOK, true)
				reportPeakShare(b, 2*float64(m*n*k), func() { gemm(o, m, a, k, &p, c, p.np, nil, nil, 0) })
			})
		}
		b.Run(fmt.Sprintf("%dx%dx%d/gonum", m, n, k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			w := blas32.General{Rows: n, Cols: k, Stride: k, Data: make([]float32, n*k)}
			a := blas32.General{Rows: m, Cols: k, Stride: k, Data: make([]float32, m*k)}
			for i := range w.Data {
				w.Data[i] = float32(rng.NormFloat64())
			}
			for i := range a.Data {
				a.Data[i] = float32(rng.NormFloat64())
			}
			c := blas32.General{Rows: m, Cols: n, Stride: n, Data: make([]float32, m*n)}
			for b.Loop() {
				blas32.Gemm(blas.NoTrans, blas.Trans, 1, a, w, 0, c)
			}
			b.ReportMetric(2*float64(m*n*k)/(float64(b.Elapsed().Nanoseconds())/float64(b.N)), "GFLOP/s")
		})
	}
}

// reportPeakShare reports as "%peak" the share of one core's FMA peak that work, a call
// of f doing flops floating-point operations, reaches on the calling goroutine's thread:
// the median over peakRounds rounds of f's GFLOP/s over the peak measured right after it
// in the same round (tileloop.Peak, fma_peak.c's loop), each side running for about
// peakSide. The speed of a shared machine drifts by 10% and more from one second to the
// next, so a share taken against a peak measured at another time, or the best of several,
// says as much about the drift as about the kernel; pairs a few milliseconds apart see the
// same machine. It reports nothing where the peak loop cannot run (tileloop.HasPeak).
func reportPeakShare(b *testing.B, flops float64, f func()) {
	if !tileloop.HasPeak() {
		return
	}
	const peakRounds, peakSide = 9, 20 * time.Millisecond
	f()
	t0 := time.Now()
	f()
	reps := max(1, int(peakSide/max(time.Since(t0), time.Microsecond)))
	// Peak's own iterations for peakSide, from a short calibration.
	t0 = time.Now()
	tileloop.Peak(1 << 14)
	pn := max(1, int(float64(1<<14)*float64(peakSide)/float64(max(time.Since(t0), time.Microsecond))))
	shares := make([]float64, peakRounds)
	for r := range shares {
		t0 = time.Now()
		for range reps {
			f()
		}
		work := flops * float64(reps) / float64(time.Since(t0).Nanoseconds())
		t0 = time.Now()
		peak := tileloop.Peak(pn) / float64(time.Since(t0).Nanoseconds())
		shares[r] = work / peak
	}
	slices.Sort(shares)
	b.ReportMetric(100*shares[peakRounds/2], "%peak")
}

// BenchmarkCells times the LSTM and GRU cells and tanh of every kernel set on 32 rows of
// 256 hidden units (the lstm and gru rows' step), reporting nanoseconds per unit.
func BenchmarkCells(b *testing.B) {
	benchCells[float32](b, "f32")
	benchCells[float64](b, "f64")
}

func benchCells[T Float](b *testing.B, dtype string) {
	const rows, h = 32, 256
	rng := rand.New(rand.NewPCG(3, 4))
	g := make([]T, rows*4*h)
	for i := range g {
		g[i] = T(rng.NormFloat64() * 2)
	}
	c := make([]T, rows*h)
	out := make([]T, rows*h)
	// ns/unit over the processor time of the benchmark's thread.
	perUnit := func(b *testing.B, f func()) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cpu0, ok := cpuTime(true)
		for b.Loop() {
			f()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows*h), "ns/unit")
		if cpu1, ok1 := cpuTime(true); ok && ok1 {
			b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N*rows*h), "cpu-ns/unit")
		}
	}
	for _, o := range allOps[T]() {
		b.Run(dtype+"/lstm/"+o.name, func(b *testing.B) {
			perUnit(b, func() {
				for r := 0; r < rows; r++ {
					o.lstm(g[r*4*h:(r+1)*4*h], c[r*h:(r+1)*h], out[r*h:(r+1)*h])
				}
			})
		})
		b.Run(dtype+"/gru/"+o.name, func(b *testing.B) {
			perUnit(b, func() {
				for r := 0; r < rows; r++ {
					o.gru(g[r*4*h:r*4*h+3*h], g[r*4*h+h:(r+1)*4*h], c[r*h:(r+1)*h], out[r*h:(r+1)*h])
				}
			})
		})
		b.Run(dtype+"/tanh/"+o.name, func(b *testing.B) {
			perUnit(b, func() { o.tanh(out, g[:rows*h]) })
		})
	}
}

// TestGemmSetsAgree checks that the assembly kernel sets, whatever their tiles' heights
// and widths, give a product to the bit alike (a tile of 3 rows or more sums each output
// in one chain of FMAs over k from zero, one of 1 or 2 rows in 4 or 2 partial sums that
// take the same terms whatever the vector width; then the bias, then the add), over
// random shapes: m, n and k on and off
// the multiples of every tile, several blocks of rows (blockRows), with and without bias and
// add, B small and beyond streamMinBytes; and that neither prefetching nor taking the
// panels last to first changes anything.
func TestGemmSetsAgree(t *testing.T) {
	testGemmSetsAgree[float32](t)
	testGemmSetsAgree[float64](t)
}

func testGemmSetsAgree[T Float](t *testing.T) {
	sets := allAsmOps[T]()
	if len(sets) == 0 {
		t.Skip("no assembly kernels on this machine")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for trial := 0; trial < 300; trial++ {
		m := 1 + rng.IntN(60)
		if trial%10 == 4 {
			m = 1 + trial/10%2 // a matrix-vector product, 1 or 2 rows
		}
		if trial%10 == 9 {
			m = 150 + rng.IntN(300)
		}
		n := 1 + rng.IntN(150)
		k := 1 + rng.IntN(90)
		if trial%7 == 6 {
			k = 200 + rng.IntN(900)
		}
		if trial%20 == 13 { // B above streamMinBytes
			n, k = 300+rng.IntN(300), 900+rng.IntN(200)
		}
		lda, ldadd := k+rng.IntN(3), 0
		w := make([]T, n*k)
		a := make([]T, m*lda)
		bias := make([]T, n)
		for _, s := range [][]T{w, a, bias} {
			for i := range s {
				s[i] = T(rng.NormFloat64())
			}
		}
		withBias, withAdd := trial%2 == 1, trial%4 >= 2
		var want []T
		for _, o := range sets {
			b := packWeight(w, n, k, o.nr)
			var bs, add []T
			if withBias {
				bs = padVector(bias, b.np)
			}
			if withAdd {
				ldadd = b.np + 1
				add = make([]T, m*ldadd)
				r := rand.New(rand.NewPCG(uint64(trial), 5)) // the same values for every set
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						add[i*ldadd+j] = T(r.NormFloat64())
					}
				}
			}
			for v := 0; v < 8; v++ {
				op := *o
				op.prefetch = v&1 != 0
				back := v&2 != 0
				var ahead []T // memory to prefetch: whole pieces and a part of one
				if v&4 != 0 {
					ahead = make([]T, (trial%4)*prefetchLen(k, b.nr)+trial%7)
				}
				ldc := b.np + 2
				c := make([]T, m*ldc)
				gemmPanels(&op, m, a, lda, &b, 0, b.np/b.nr, back, c, ldc, bs, add, ldadd, ahead)
				got := make([]T, 0, m*n)
				for i := 0; i < m; i++ {
					got = append(got, c[i*ldc:i*ldc+n]...)
				}
				if want == nil {
					want = got
					continue
				}
				for i := range want {
					if math.Float64bits(float64(got[i])) != math.Float64bits(float64(want[i])) {
						t.Fatalf("%s (prefetch %v, panels last to first %v, ahead %d) m=%d n=%d k=%d bias=%v add=%v: C[%d][%d] = %v, %s gives %v", o.name, op.prefetch, back, len(ahead), m, n, k, withBias, withAdd, i/n, i%n, got[i], sets[0].name, want[i])
					}
				}
			}
		}
	}
}
