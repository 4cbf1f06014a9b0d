package parity

import (
	"math/rand/v2"
	"strings"

	"github.com/ptport/ptport/rnn"
)

// A relabelling of a recurrent network permutes its hidden units, the units of its
// projection and its input features, in its weights, its inputs and its initial states:
// the relabelled network computes the same function, with the terms of every sum in
// another order, so its float32 results are exactly as accurate as the network's own,
// and differ from them by rounding only. scripts/rnn_difftest.py stores PyTorch's results
// of such relabellings (testdata/rnn/gen.py's relabelled); TestTruth compares them with
// Go's results of relabellings of its own.
type relabelling struct {
	rows []int // weight rows (gate-major G*H): row i of the copy is row rows[i] of W
	outs []int // a layer's D*P output features
	in   []int // the input features
	hid  []int // the H hidden units (cell state)
	proj []int // the P output units of a direction (h)
}

// newRelabelling draws the permutations of a relabelling of the network c.
func newRelabelling(c rnn.Config, rng *rand.Rand) *relabelling {
	g, h, p, d := c.Mode.Gates(), c.HiddenSize, c.HiddenSize, 1
	if c.ProjSize > 0 {
		p = c.ProjSize
	}
	if c.Bidirectional {
		d = 2
	}
	r := &relabelling{hid: rng.Perm(h), in: rng.Perm(c.InputSize)}
	r.proj = r.hid
	if c.ProjSize > 0 {
		r.proj = rng.Perm(p)
	}
	for q := range g {
		for _, i := range r.hid {
			r.rows = append(r.rows, q*h+i)
		}
	}
	for dir := range d {
		for _, j := range r.proj {
			r.outs = append(r.outs, dir*p+j)
		}
	}
	return r
}

// params returns the relabelled copy of the parameters ps (PyTorch's names and shapes).
func (r *relabelling) params(c rnn.Config, ps map[string][]float64) map[string][]float64 {
	out := make(map[string][]float64, len(ps))
	for _, p := range c.Params() {
		w := ps[p.Name]
		var rows, cols []int
		switch {
		case strings.HasPrefix(p.Name, "weight_ih"):
			rows, cols = r.rows, r.outs
			if strings.HasPrefix(p.Name, "weight_ih_l0") {
				cols = r.in
			}
		case strings.HasPrefix(p.Name, "weight_hh"):
			rows, cols = r.rows, r.proj
		case strings.HasPrefix(p.Name, "bias"):
			rows, cols = r.rows, []int{0}
		case strings.HasPrefix(p.Name, "weight_hr"):
			rows, cols = r.proj, r.hid
		}
		cp := make([]float64, 0, len(w))
		for _, i := range rows {
			for _, j := range cols {
				cp = append(cp, w[i*len(cols)+j])
			}
		}
		out[p.Name] = cp
	}
	return out
}

// gather returns v (rows of len(perm) values) with each row permuted: element j of a row of
// the result is element perm[j] of v's. v nil gives nil.
func gather(v []float64, perm []int) []float64 {
	if v == nil {
		return nil
	}
	out := make([]float64, len(v))
	for r := 0; r < len(v); r += len(perm) {
		for j, i := range perm {
			out[r+j] = v[r+i]
		}
	}
	return out
}

// scatter undoes gather: element perm[j] of each row of the result is element j of v's.
func scatter(v []float32, perm []int) []float32 {
	out := make([]float32, len(v))
	for r := 0; r < len(v); r += len(perm) {
		for j, i := range perm {
			out[r+i] = v[r+j]
		}
	}
	return out
}

// forward runs Go's float32 network c on the relabelling of the parameters ps and of the
// arguments (x of shape xShape; h0, c0 of shapes h0Shape, c0Shape or nil) and returns its
// results in the network's own labels, by result name (RefOutput, RefHN, RefCN).
func (r *relabelling) forward(c rnn.Config, ps map[string][]float64, x []float64, xShape []int, h0 []float64, h0Shape []int, c0 []float64, c0Shape []int) (map[string][]float32, error) {
	params := map[string][]float32{}
	for k, v := range r.params(c, ps) {
		params[k] = narrow(v)
	}
	m, err := rnn.New(c, params)
	if err != nil {
		return nil, err
	}
	tensor := func(v []float64, shape []int) *rnn.Tensor[float32] {
		if v == nil {
			return nil
		}
		return &rnn.Tensor[float32]{Data: narrow(v), Shape: shape}
	}
	res, err := m.Forward(tensor(gather(x, r.in), xShape), tensor(gather(h0, r.proj), h0Shape), tensor(gather(c0, r.hid), c0Shape))
	if err != nil {
		return nil, err
	}
	out := map[string][]float32{RefOutput: scatter(res.Output.Data, r.outs), RefHN: scatter(res.H.Data, r.proj)}
	if res.C != nil {
		out[RefCN] = scatter(res.C.Data, r.hid)
	}
	return out, nil
}
