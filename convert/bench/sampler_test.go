package bench

import (
	"math/rand/v2"
	"testing"
)

// TestSampler: past its size the sampler keeps that many values, a uniform sample of all
// of them, with the exact count, least and greatest; below it, all of them.
func TestSampler(t *testing.T) {
	const size, n = 1000, 200_000
	s := newSampler(size)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, i := range rng.Perm(n) {
		s.add(float64(i + 1))
	}
	if len(s.kept) != size || s.n != n || s.min != 1 || s.max != n {
		t.Fatalf("kept %d, n %d, min %g, max %g; want %d, %d, 1, %d", len(s.kept), s.n, s.min, s.max, size, n, n)
	}
	// The median of a uniform sample of 1000 of 1..n lies within 5% of n of n/2 but for
	// odds of about 1 in 10⁵; the seeds are fixed.
	if m := s.median(); m < 0.45*n || m > 0.55*n {
		t.Errorf("median %g of a sample of 1..%d, want about %d", m, n, n/2)
	}
	// The values of the second half of the stream are as likely to be kept as the first's.
	late := 0
	for _, v := range s.kept {
		if v > n/2 {
			late++
		}
	}
	if late < 400 || late > 600 {
		t.Errorf("%d of %d kept values above n/2, want about half", late, size)
	}

	small := newSampler(size)
	for _, v := range []float64{5, 1, 4, 2} {
		small.add(v)
	}
	if m := small.median(); len(small.kept) != 4 || m != 3 {
		t.Errorf("4 values: kept %d, median %g; want 4, 3", len(small.kept), m)
	}
}
