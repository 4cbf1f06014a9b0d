package parity

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/ptport/ptport/rnn"
)

// The float64 truth: the model computed again in float64 from the same weights and
// inputs, by code of its own (gonum's BLAS for the matrix products, Go's math for the
// activations) that shares nothing with package rnn's kernels, so that it cannot share
// a bug with what it judges. It follows torch/nn/modules/rnn.py and ATen's RNN.cpp
// step by step:
//
//	RNN:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)   (or relu)
//	LSTM: i, f, g, o = σ, σ, tanh, σ of the four row blocks of W_ih x + b_ih + W_hh h + b_hh
//	      c' = f c + i g;  h' = o tanh(c')  (then W_hr h' with proj_size)
//	GRU:  r, z = σ of the first two blocks of W_ih x + b_ih + W_hh h + b_hh
//	      n = tanh(W_in x + b_in + r (W_hn h + b_hn));  h' = (1 - z) n + z h
//
// A cell is the one-layer network of its mode, one step at a time (cellForward); the
// layers around the recurrent module of a whole model are in layers.go.
//
// It is also how the diagnosis runs a model with a mistake made: the truth computes
// variants that package rnn does not (a reverse direction misread).

// reverseMode is how a bidirectional network's reverse direction runs.
type reverseMode int

const (
	// reverseRight is PyTorch's: over the sequence from its end, each output put back at
	// its time step.
	reverseRight reverseMode = iota
	// reverseUnflipped leaves the reverse direction's outputs in the order it made them.
	reverseUnflipped
	// reverseForward runs the reverse direction over the sequence from its start.
	reverseForward
)

// network is a recurrent network as the truth computes it.
type network struct {
	cfg     rnn.Config
	params  map[string][]float64 // by PyTorch's names (rnn.Config.Params), row-major
	reverse reverseMode
	cell    bool // a cell: the one-layer network cfg, with the cell's shapes (cellForward)
}

// results are what a forward pass returns, in C order, with their shapes.
type results struct {
	output, hn, cn           []float64
	outShape, hShape, cShape []int
}

// noise perturbs values as rounding to a format of unit roundoff u does, in the
// stochastic model of rounding: x becomes x(1 + δ), δ uniform in [-u, u], drawn afresh
// for every value each time it is stored.
type noise struct {
	rng *rand.Rand
	u   float64
}

func (n *noise) apply(v []float64) {
	if n == nil {
		return
	}
	for i := range v {
		v[i] *= 1 + n.u*(2*n.rng.Float64()-1)
	}
}

// dims are the sizes of a forward pass.
type dims struct {
	L, N, D, P, H, G int
	batched          bool
}

// dims checks x, h0 and c0 against the network and returns the pass's sizes; the
// shapes must be what torch.nn.RNN/LSTM/GRU accept.
func (n *network) dims(xShape []int, xLen, h0Len, c0Len int, hasH0, hasC0 bool) (dims, error) {
	c := n.cfg
	d := dims{D: 1, P: c.HiddenSize, H: c.HiddenSize, G: c.Mode.Gates()}
	if c.Bidirectional {
		d.D = 2
	}
	if c.ProjSize > 0 {
		d.P = c.ProjSize
	}
	switch len(xShape) {
	case 2:
		d.L, d.N = xShape[0], 1
	case 3:
		d.batched = true
		d.L, d.N = xShape[0], xShape[1]
		if c.BatchFirst {
			d.L, d.N = xShape[1], xShape[0]
		}
	default:
		return d, fmt.Errorf("input must be 2-D or 3-D, got shape %v", xShape)
	}
	if xShape[len(xShape)-1] != c.InputSize || d.L <= 0 || d.N <= 0 || d.L*d.N*c.InputSize != xLen {
		return d, fmt.Errorf("input of shape %v does not fit %d input features", xShape, c.InputSize)
	}
	states := d.D * c.NumLayers * d.N
	if hasH0 && h0Len != states*d.P {
		return d, fmt.Errorf("h0 has %d elements, the model needs %d", h0Len, states*d.P)
	}
	if hasC0 && (c.Mode != rnn.LSTM || c0Len != states*d.H) {
		return d, fmt.Errorf("c0 has %d elements, the model needs %d", c0Len, states*d.H)
	}
	return d, nil
}

// forward computes the network over x (shape xShape) from h0 and c0 (nil: zeros),
// rounding every stored value with nz when nz is not nil. The shapes are checked as
// PyTorch checks them.
func (n *network) forward(ctx context.Context, x []float64, xShape []int, h0, c0 []float64, nz *noise) (*results, error) {
	if n.cell {
		return n.cellForward(ctx, x, xShape, h0, c0, nz)
	}
	c := n.cfg
	d, err := n.dims(xShape, len(x), len(h0), len(c0), h0 != nil, c0 != nil)
	if err != nil {
		return nil, err
	}
	L, N, D, P, H, G := d.L, d.N, d.D, d.P, d.H, d.G
	in := c.InputSize
	// The layer input, step-major: row t*N + b.
	cur := make([]float64, L*N*in)
	for t := range L {
		for b := range N {
			src := t*N + b
			if d.batched && c.BatchFirst {
				src = b*L + t
			}
			copy(cur[(t*N+b)*in:][:in], x[src*in:][:in])
		}
	}
	nz.apply(cur)
	hn := make([]float64, D*c.NumLayers*N*P)
	var cn []float64
	if c.Mode == rnn.LSTM {
		cn = make([]float64, D*c.NumLayers*N*H)
	}
	weight := func(name string) []float64 {
		w := n.params[name]
		if nz != nil {
			w = append([]float64(nil), w...)
			nz.apply(w)
		}
		return w
	}
	for k := range c.NumLayers {
		next := make([]float64, L*N*D*P)
		for dir := range D {
			sfx := fmt.Sprintf("_l%d", k)
			if dir == 1 {
				sfx += "_reverse"
			}
			wih, whh := weight("weight_ih"+sfx), weight("weight_hh"+sfx)
			var bih, bhh, whr []float64
			if c.Bias {
				bih, bhh = n.params["bias_ih"+sfx], n.params["bias_hh"+sfx]
			}
			if c.ProjSize > 0 {
				whr = weight("weight_hr" + sfx)
			}
			// The input projection of every step: xw = x W_ihᵀ + b_ih.
			xw := make([]float64, L*N*G*H)
			if err := mulContext(ctx, cur, L*N, in, wih, G*H, xw); err != nil {
				return nil, err
			}
			addRows(xw, bih)
			nz.apply(xw)

			sl := k*D + dir
			h := make([]float64, N*P)
			if h0 != nil {
				copy(h, h0[sl*N*P:(sl+1)*N*P])
			}
			cs := make([]float64, N*H)
			if c0 != nil {
				copy(cs, c0[sl*N*H:(sl+1)*N*H])
			}
			hw := make([]float64, N*G*H)
			hc := make([]float64, N*H) // LSTM: o tanh(c) before the projection
			for s := range L {
				if s%8 == 0 {
					if err := ctx.Err(); err != nil {
						return nil, err
					}
				}
				t, at := s, s // the step read, and where its output goes
				if dir == 1 {
					switch n.reverse {
					case reverseRight:
						t, at = L-1-s, L-1-s
					case reverseUnflipped:
						t = L - 1 - s
					}
				}
				mul(h, N, P, whh, G*H, hw)
				addRows(hw, bhh)
				nz.apply(hw)
				xt := xw[t*N*G*H : (t+1)*N*G*H]
				for b := range N {
					xg, hg := xt[b*G*H:(b+1)*G*H], hw[b*G*H:(b+1)*G*H]
					hb := h[b*P : (b+1)*P]
					switch c.Mode {
					case rnn.RNNTanh:
						for j := range H {
							hb[j] = math.Tanh(xg[j] + hg[j])
						}
					case rnn.RNNReLU:
						for j := range H {
							hb[j] = max(0, xg[j]+hg[j])
						}
					case rnn.LSTM:
						cb, ob := cs[b*H:(b+1)*H], hc[b*H:(b+1)*H]
						for j := range H {
							i := sigmoid(xg[j] + hg[j])
							f := sigmoid(xg[H+j] + hg[H+j])
							g := math.Tanh(xg[2*H+j] + hg[2*H+j])
							o := sigmoid(xg[3*H+j] + hg[3*H+j])
							cb[j] = f*cb[j] + i*g
							ob[j] = o * math.Tanh(cb[j])
						}
					case rnn.GRU:
						for j := range H {
							r := sigmoid(xg[j] + hg[j])
							z := sigmoid(xg[H+j] + hg[H+j])
							nn := math.Tanh(xg[2*H+j] + r*hg[2*H+j])
							hb[j] = (1-z)*nn + z*hb[j]
						}
					}
				}
				if c.Mode == rnn.LSTM {
					nz.apply(cs)
					if c.ProjSize > 0 {
						nz.apply(hc)
						mul(hc, N, H, whr, P, h)
					} else {
						copy(h, hc)
					}
				}
				nz.apply(h)
				for b := range N {
					copy(next[(at*N+b)*D*P+dir*P:][:P], h[b*P:(b+1)*P])
				}
			}
			copy(hn[sl*N*P:(sl+1)*N*P], h)
			if cn != nil {
				copy(cn[sl*N*H:(sl+1)*N*H], cs)
			}
		}
		cur, in = next, D*P
	}
	r := &results{output: cur, hn: hn, cn: cn}
	if d.batched && c.BatchFirst {
		r.output = make([]float64, len(cur))
		for t := range L {
			for b := range N {
				copy(r.output[(b*L+t)*D*P:][:D*P], cur[(t*N+b)*D*P:][:D*P])
			}
		}
	}
	states := D * c.NumLayers
	switch {
	case !d.batched:
		r.outShape, r.hShape, r.cShape = []int{L, D * P}, []int{states, P}, []int{states, H}
	case c.BatchFirst:
		r.outShape, r.hShape, r.cShape = []int{N, L, D * P}, []int{states, N, P}, []int{states, N, H}
	default:
		r.outShape, r.hShape, r.cShape = []int{L, N, D * P}, []int{states, N, P}, []int{states, N, H}
	}
	if cn == nil {
		r.cShape = nil
	}
	return r, nil
}

// cellForward computes a cell as the one-layer network of its mode: a sequence (steps,
// batch, input_size) as that network's input, one step, (batch, input_size) or
// (input_size), as a sequence of one step. The results have the cell's shapes: h after
// every step (or h' for one step), and the last h and c as (batch, hidden_size).
func (n *network) cellForward(ctx context.Context, x []float64, xShape []int, h0, c0 []float64, nz *noise) (*results, error) {
	net := *n
	net.cell = false
	shape := xShape
	switch len(xShape) {
	case 1:
		shape = []int{1, xShape[0]}
	case 2:
		shape = []int{1, xShape[0], xShape[1]}
	}
	r, err := net.forward(ctx, x, shape, h0, c0, nz)
	if err != nil {
		return nil, err
	}
	h := n.cfg.HiddenSize
	state := []int{h} // one unbatched step
	switch len(xShape) {
	case 2:
		state = []int{xShape[0], h}
	case 3:
		state = []int{xShape[1], h}
	}
	r.outShape, r.hShape = append(slices.Clone(xShape[:len(xShape)-1]), h), state
	if r.cn != nil {
		r.cShape = state
	}
	return r, nil
}

// noise measures the float32 rounding noise of the network at these arguments (see
// noiseOf).
func (n *network) noise(ctx context.Context, x []float64, xShape []int, h0, c0 []float64, truth *results) (map[string]float64, error) {
	return noiseOf(func(nz *noise) (*results, error) { return n.forward(ctx, x, xShape, h0, c0, nz) }, truth)
}

// noiseOf measures the float32 rounding noise of a computation: the largest deviation
// from truth (its exact results) of TruthNoiseRuns runs of forward that round every value
// they store (weights, inputs, products, states) to float32's machine epsilon, for each
// result by name (RefOutput, RefHN, RefCN). The runs are seeded: the same computation
// gives the same noise.
func noiseOf(forward func(nz *noise) (*results, error), truth *results) (map[string]float64, error) {
	out := map[string]float64{}
	for run := range TruthNoiseRuns {
		nz := &noise{rng: rand.New(rand.NewPCG(uint64(run)+1, 0x706172697479)), u: truthNoiseU}
		res, err := forward(nz)
		if err != nil {
			return nil, err
		}
		for _, name := range []string{RefOutput, RefHN, RefCN} {
			noisy, exact := pick(res, name), pick(truth, name)
			for j := range exact {
				out[name] = max(out[name], absDiff(noisy[j], exact[j]))
			}
		}
	}
	return out, nil
}

// mul sets c (rows x n) to a (rows x k) times wᵀ, w being n x k as PyTorch stores a
// weight.
func mul(a []float64, rows, k int, w []float64, n int, c []float64) {
	blas64.Gemm(blas.NoTrans, blas.Trans, 1,
		blas64.General{Rows: rows, Cols: k, Stride: k, Data: a},
		blas64.General{Rows: n, Cols: k, Stride: k, Data: w},
		0, blas64.General{Rows: rows, Cols: n, Stride: n, Data: c})
}

// mulContext is mul in parts of rows, until ctx is done: a part is about 16M
// multiply-adds, a multiple of the 64 rows gonum's Dgemm works in, so that each row's
// products are summed as in one product.
func mulContext(ctx context.Context, a []float64, rows, k int, w []float64, n int, c []float64) error {
	part := max(64, (1<<24)/max(1, k*n)/64*64)
	for r0 := 0; r0 < rows; r0 += part {
		if err := ctx.Err(); err != nil {
			return err
		}
		r1 := min(rows, r0+part)
		mul(a[r0*k:r1*k], r1-r0, k, w, n, c[r0*n:r1*n])
	}
	return nil
}

// addRows adds the vector b to every row of m (nothing when b is nil).
func addRows(m, b []float64) {
	if len(b) == 0 {
		return
	}
	for r := 0; r+len(b) <= len(m); r += len(b) {
		row := m[r : r+len(b)]
		for j, v := range b {
			row[j] += v
		}
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
