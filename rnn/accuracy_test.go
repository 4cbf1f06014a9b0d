package rnn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestActivationAccuracy measures the float32 tanh and sigmoid of every kernel set, alone
// and inside the LSTM and GRU cells, in units in the last place of the correctly rounded
// value, over arguments of the spreads a recurrent network's gates take (standard
// deviations 0.5 and 3): the root-mean-square error must stay within what ATen's own
// vectorized kernels make on this CPU (tanh, Sleef's tanhf: 0.29; sigmoid,
// 1/(1 + exp(-x)) rounded step by step: 0.52), and the largest within 1.5 and 2.
func TestActivationAccuracy(t *testing.T) {
	const n = 1 << 14
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sd := range []float64{0.5, 3} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * sd)
		}
		for _, o := range allOps[float32]() {
			tanh, cellTanh, gruTanh, sigmoid := activations(o, x)
			for _, m := range []struct {
				what     string
				got      []float32
				f        func(float64) float64
				rms, max float64
			}{
				{"tanh", tanh, math.Tanh, 0.35, 1.5},
				{"lstm's tanh", cellTanh, math.Tanh, 0.35, 1.5},
				{"gru's tanh", gruTanh, math.Tanh, 0.35, 1.5},
				{"lstm's sigmoid", sigmoid, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }, 0.55, 2},
			} {
				var sum, worst float64
				for i, v := range x {
					e := ulpError(m.got[i], m.f(float64(v)))
					sum += e * e
					worst = max(worst, e)
				}
				rms := math.Sqrt(sum / n)
				if rms > m.rms || worst > m.max {
					t.Errorf("%s %s, arguments of deviation %g: %.3f ulp root-mean-square, %.2f at most; want within %g and %g",
						o.name, m.what, sd, rms, worst, m.rms, m.max)
				}
			}
		}
	}
}

// activations returns tanh(x) from o's tanh, from its LSTM cell (c' = σ(i)·tanh(g) with
// c = 0 and σ(i) = 1) and from its GRU cell (n = tanh(xg_n) with hg_n = 0, z = σ(-100)
// and the previous h 0), and σ(x) from its LSTM cell (c' with the gate i = x and g = 20).
func activations(o *ops[float32], x []float32) (tanh, cellTanh, gruTanh, sigmoid []float32) {
	n := len(x)
	tanh = make([]float32, n)
	o.tanh(tanh, x)
	cellTanh, gruTanh, sigmoid = make([]float32, n), make([]float32, n), make([]float32, n)
	const h = 37 // not a multiple of a vector, so that the tails are measured too
	g := make([]float32, 4*h)
	c := make([]float32, h)
	out := make([]float32, h)
	hg, xg, hp := make([]float32, 3*h), make([]float32, 3*h), make([]float32, h)
	for s := 0; s < n; s += h {
		w := min(h, n-s)
		set := func(gate int, v float32) {
			for j := range w {
				g[gate*w+j] = v
			}
		}
		// tanh through the cell: i = 20 (σ rounds to 1), c = 0.
		set(0, 20)
		set(1, 0)
		copy(g[2*w:3*w], x[s:s+w])
		set(3, 0)
		clear(c)
		o.lstm(g[:4*w], c[:w], out[:w])
		copy(cellTanh[s:], c[:w])
		// σ through the cell: i = x, g = 20 (tanh rounds to 1), c = 0.
		copy(g[:w], x[s:s+w])
		set(2, 20)
		clear(c)
		o.lstm(g[:4*w], c[:w], out[:w])
		copy(sigmoid[s:], c[:w])
		// tanh through the GRU cell.
		for j := range w {
			hg[j], hg[w+j], hg[2*w+j] = 0, 0, 0
			xg[j], xg[w+j], xg[2*w+j] = 0, -100, x[s+j]
			hp[j] = 0
		}
		o.gru(hg[:3*w], xg[:3*w], hp[:w], out[:w])
		copy(gruTanh[s:], out[:w])
	}
	return tanh, cellTanh, gruTanh, sigmoid
}

// ulpError returns |got - want| in units in the last place of want rounded to float32.
func ulpError(got float32, want float64) float64 {
	r := float32(math.Abs(want))
	ulp := float64(math.Nextafter32(r, float32(math.Inf(1))) - r)
	return math.Abs(float64(got)-want) / ulp
}
