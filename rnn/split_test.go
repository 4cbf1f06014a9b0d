package rnn

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestSplitSteps checks that the steps of models whose W_hh outgrows a core's cache are
// split by panels over two goroutines when the batch does not split, and that the split
// gives what one goroutine gives, to the bit, in Forward and in State.Step alike.
func TestSplitSteps(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	rng := rand.New(rand.NewPCG(21, 22))
	for _, c := range []Config{
		{Mode: LSTM, InputSize: 24, HiddenSize: 512, NumLayers: 2, Bias: true},
		{Mode: LSTM, InputSize: 8, HiddenSize: 600, NumLayers: 1, Bias: false, ProjSize: 500},
		{Mode: GRU, InputSize: 16, HiddenSize: 600, NumLayers: 1, Bias: true},
		{Mode: RNNTanh, InputSize: 16, HiddenSize: 1024, NumLayers: 1, Bias: true, BatchFirst: true},
	} {
		params := randomParams[float32](c, rng)
		for _, o := range allOps[float32]() {
			m := build(c, params, o)
			if parts := splitParts(&m.layers[0][0].whh); parts != 2 {
				t.Fatalf("%v H=%d %s: %d parts, want 2", c.Mode, c.HiddenSize, o.name, parts)
			}
			for _, N := range []int{1, 2, 4} {
				const L = 7
				if w, _ := m.plan(L, N); w != 1 {
					t.Fatalf("N=%d: the batch splits over %d workers", N, w)
				}
				shape := []int{L, N, c.InputSize}
				if c.BatchFirst {
					shape = []int{N, L, c.InputSize}
				}
				x := randomTensor[float32](rng, shape...)
				split, err := m.Forward(x, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				runtime.GOMAXPROCS(1)
				serial, err := m.Forward(x, nil, nil)
				runtime.GOMAXPROCS(2)
				if err != nil {
					t.Fatal(err)
				}
				name := func(what string) string {
					return c.Mode.String() + " " + o.name + " " + what
				}
				equal(t, name("output"), split.Output.Data, serial.Output.Data)
				equal(t, name("h_n"), split.H.Data, serial.H.Data)
				if c.Mode == LSTM {
					equal(t, name("c_n"), split.C.Data, serial.C.Data)
				}

				// The same sequence stepped 3 steps, then 4.
				s, err := m.NewState(N)
				if err != nil {
					t.Fatal(err)
				}
				var got []float32
				for _, r := range [][2]int{{0, 3}, {3, L}} {
					part := stepSlice(x, r[0], r[1], c.BatchFirst)
					y, err := s.Step(part)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, y.Data...)
				}
				want := serial.Output.Data
				if c.BatchFirst { // the steps' outputs come (n, 3, P) then (n, 4, P)
					want = nil
					P := c.outSize()
					for _, r := range [][2]int{{0, 3}, {3, L}} {
						for n := 0; n < N; n++ {
							want = append(want, serial.Output.Data[(n*L+r[0])*P:(n*L+r[1])*P]...)
						}
					}
				}
				equal(t, name("stepped output"), got, want)
				equal(t, name("stepped h"), s.H().Data, serial.H.Data)
			}
		}
	}
}

// stepSlice returns steps [t0, t1) of x, (L, N, I) or, batch first, (N, L, I).
func stepSlice(x *Tensor[float32], t0, t1 int, batchFirst bool) *Tensor[float32] {
	if !batchFirst {
		row := x.Shape[1] * x.Shape[2]
		return &Tensor[float32]{Shape: []int{t1 - t0, x.Shape[1], x.Shape[2]}, Data: x.Data[t0*row : t1*row]}
	}
	N, L, I := x.Shape[0], x.Shape[1], x.Shape[2]
	var d []float32
	for n := 0; n < N; n++ {
		d = append(d, x.Data[(n*L+t0)*I:(n*L+t1)*I]...)
	}
	return &Tensor[float32]{Shape: []int{N, t1 - t0, I}, Data: d}
}

func equal(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: split and serial differ by %g", what, maxDiff(got, want))
	}
}

// TestSplitTakesOver checks that a product whose helper never starts is finished by the
// poster, as gemm computes it.
func TestSplitTakesOver(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	o := opsFor[float32]()
	const m, n, k = 1, 300, 70
	w := make([]float32, n*k)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	b := packWeight(w, n, k, o.nr)
	a := randomTensor[float32](rng, m, k).Data
	add := randomTensor[float32](rng, m, b.np).Data
	bias := randomTensor[float32](rng, b.np).Data
	want := make([]float32, m*b.np)
	gemm(o, m, a, k, &b, want, b.np, bias, add, b.np)
	var s stepSplit[float32]
	for range 2 { // helpers that are never started
		h := &stepHelper[float32]{}
		h.cond.L = &h.mu
		s.helpers = append(s.helpers, h)
	}
	for range 3 {
		got := make([]float32, m*b.np)
		s.gemm(o, m, a, k, &b, got, b.np, bias, add, b.np)
		equal(t, "taken over", got, want)
	}
}
