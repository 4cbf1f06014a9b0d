package rnn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Model is a recurrent network ready to run: its weights transposed and packed for its
// kernels. A Model is immutable after New and safe for concurrent use by multiple
// goroutines.
type Model[T Float] struct {
	cfg    Config
	o      *ops[T]
	layers [][]dirWeights[T] // [layer][direction]
	pool   sync.Pool         // *workspace[T]
}

// dirWeights are the weights of one direction of one layer in the kernels' layout.
type dirWeights[T Float] struct {
	wih packed[T] // weight_ih: Wᵀ, k = layer input, n = G*H
	whh packed[T] // weight_hh: Wᵀ, k = P, n = G*H
	whr packed[T] // weight_hr (LSTM with ProjSize): Wᵀ, k = H, n = P
	bih []T       // bias_ih padded to wih.np; nil without bias
	bhh []T       // bias_hh padded to whh.np; nil without bias
}

// New checks c and params and returns a Model holding its own copy of the weights.
//
// params maps PyTorch's parameter names (Config.Params) to their values, row-major in
// PyTorch's shapes, exactly as state_dict() holds them. Every missing, unexpected or
// mis-sized parameter is an error.
//
// The layout New builds: each weight W of shape (n, k) (n = G*H gate rows for weight_ih and
// weight_hh, n = P for weight_hr) is stored transposed, B = Wᵀ of shape (k, n), cut into
// panels of nr consecutive columns (rows of W) with nr fixed by the kernel set (float32:
// 32 for AVX-512, 16 for AVX2; float64: 16 and 8; 8 for the Go kernels); panel p holds
// B[kk][p*nr+j] at kk*nr+j, so a GEMM tile streams one panel contiguously. The last panel is padded with
// zeros. Gate order is PyTorch's: the G*H columns are gate-major (i f g o for LSTM, r z n for
// GRU). Biases are kept as vectors padded to the same width.
func New[T Float](c Config, params map[string][]T) (*Model[T], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkParams(c.Params(), params); err != nil {
		return nil, fmt.Errorf("rnn: parameters of %s: %w", c.Mode, err)
	}
	return build(c, params, opsFor[T]()), nil
}

// checkParams reports every parameter of want that params lacks or holds with the wrong
// number of values, and every name of params that want does not list.
func checkParams[T Float](want []Param, params map[string][]T) error {
	known := make(map[string]bool, len(want))
	var problems []string
	for _, p := range want {
		known[p.Name] = true
		v, ok := params[p.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("missing parameter %s %s", p.Name, tupleString(p.Shape)))
			continue
		}
		n := 1
		for _, s := range p.Shape {
			if s > 0 && n > maxElems/s {
				n = -1 // too large for any slice
				break
			}
			n *= s
		}
		if n < 0 {
			problems = append(problems, fmt.Sprintf("parameter %s: shape %s is too large", p.Name, tupleString(p.Shape)))
		} else if len(v) != n {
			problems = append(problems, fmt.Sprintf("parameter %s has %d values, shape %s needs %d", p.Name, len(v), tupleString(p.Shape), n))
		}
	}
	var extra []string
	for name := range params {
		if !known[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		problems = append(problems, "unexpected parameter "+name)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// build packs checked parameters for the kernel set o.
func build[T Float](c Config, params map[string][]T, o *ops[T]) *Model[T] {
	m := &Model[T]{cfg: c, o: o}
	m.pool.New = func() any { return new(workspace[T]) }
	g, h, p := c.Mode.Gates(), c.HiddenSize, c.outSize()
	nr := m.o.nr
	for k := 0; k < c.NumLayers; k++ {
		var dirs []dirWeights[T]
		for d := 0; d < c.directions(); d++ {
			sfx := fmt.Sprintf("_l%d", k)
			if d == 1 {
				sfx += "_reverse"
			}
			var w dirWeights[T]
			w.wih = packWeight(params["weight_ih"+sfx], g*h, c.layerInput(k), nr)
			w.whh = packWeight(params["weight_hh"+sfx], g*h, p, nr)
			if c.Bias {
				w.bih = padVector(params["bias_ih"+sfx], w.wih.np)
				w.bhh = padVector(params["bias_hh"+sfx], w.whh.np)
			}
			if c.ProjSize > 0 {
				w.whr = packWeight(params["weight_hr"+sfx], p, h, nr)
			}
			dirs = append(dirs, w)
		}
		m.layers = append(m.layers, dirs)
	}
	return m
}

// Config returns the configuration the Model was built with.
func (m *Model[T]) Config() Config { return m.cfg }

// Result holds what torch.nn.RNN/GRU return (output, h_n) and, for LSTM, c_n.
// Output is (L, N, D*P), (N, L, D*P) with BatchFirst, or (L, D*P) for unbatched input; H is
// (D*NumLayers, N, P) and C (D*NumLayers, N, HiddenSize), without the N dimension for
// unbatched input. D is 2 when bidirectional, else 1; P is ProjSize when set, else
// HiddenSize. Rows of H and C are ordered layer 0 forward, layer 0 reverse, layer 1
// forward, ...
type Result[T Float] struct {
	Output, H, C *Tensor[T] // C nil unless LSTM
}

// Forward runs the network over x as torch.nn.RNN/LSTM/GRU's forward does in eval mode.
// x is (L, N, InputSize), (N, L, InputSize) with BatchFirst, or (L, InputSize) unbatched.
// h0 is (D*NumLayers, N, P) and c0 (LSTM only) (D*NumLayers, N, HiddenSize), with BatchFirst
// too (as in PyTorch, it applies to x and the output only), both without the N dimension
// for unbatched input; nil means zeros. An LSTM takes both or neither, as
// nn.LSTM takes them as the tuple hx = (h0, c0): one without the other is an error. A
// shape that does not fit is an error naming the expected shape, as PyTorch's messages
// do. Forward is safe for concurrent use; it does not modify its arguments.
func (m *Model[T]) Forward(x, h0, c0 *Tensor[T]) (*Result[T], error) {
	return m.ForwardContext(context.Background(), x, h0, c0)
}

// ForwardContext is Forward, stopped once ctx is done: it looks at ctx between time steps
// (every so many steps, a millisecond or two of work apart) and between parts of the
// input projections, and returns, once every goroutine it started has ended, no result
// and an error wrapping ctx.Err(). Its results are Forward's, to the bit.
func (m *Model[T]) ForwardContext(ctx context.Context, x, h0, c0 *Tensor[T]) (*Result[T], error) {
	if !m.made() {
		return nil, fmt.Errorf("rnn: Forward on a Model not made by New")
	}
	c := m.cfg
	if err := x.check("input"); err != nil {
		return nil, err
	}
	nd := len(x.Shape)
	if nd != 2 && nd != 3 {
		return nil, fmt.Errorf("rnn: %s: expected input to be 2-D or 3-D but received %d-D tensor", c.Mode, nd)
	}
	batched := nd == 3
	var L, N int
	switch {
	case !batched:
		L, N = x.Shape[0], 1
	case c.BatchFirst:
		N, L = x.Shape[0], x.Shape[1]
	default:
		L, N = x.Shape[0], x.Shape[1]
	}
	if in := x.Shape[nd-1]; in != c.InputSize {
		return nil, fmt.Errorf("rnn: input.size(-1) must be equal to input_size. Expected %d, got %d", c.InputSize, in)
	}
	if L == 0 {
		return nil, fmt.Errorf("rnn: Expected sequence length to be larger than 0 in RNN")
	}
	D, P, H := c.directions(), c.outSize(), c.HiddenSize
	if c.Mode != LSTM && c0 != nil {
		return nil, fmt.Errorf("rnn: c0 is given but %s has no cell state", c.Mode)
	}
	if c.Mode == LSTM && (h0 == nil) != (c0 == nil) {
		return nil, fmt.Errorf("rnn: LSTM: h0 and c0 must be given together")
	}
	hname, cname := "hidden", "hidden[1]"
	if c.Mode == LSTM {
		hname = "hidden[0]"
	}
	if err := checkHidden(h0, "h0", hname, batched, []int{D * c.NumLayers, N, P}); err != nil {
		return nil, err
	}
	if err := checkHidden(c0, "c0", cname, batched, []int{D * c.NumLayers, N, H}); err != nil {
		return nil, err
	}

	res := &Result[T]{}
	if batched {
		if c.BatchFirst {
			res.Output = newTensor[T](N, L, D*P)
		} else {
			res.Output = newTensor[T](L, N, D*P)
		}
		res.H = newTensor[T](D*c.NumLayers, N, P)
		if c.Mode == LSTM {
			res.C = newTensor[T](D*c.NumLayers, N, H)
		}
	} else {
		res.Output = newTensor[T](L, D*P)
		res.H = newTensor[T](D*c.NumLayers, P)
		if c.Mode == LSTM {
			res.C = newTensor[T](D*c.NumLayers, H)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, stopError(c, err)
	}
	if N == 0 {
		return res, nil
	}
	j := job[T]{
		L: L, N: N,
		batchFirst: batched && c.BatchFirst,
		x:          x.Data,
		out:        res.Output.Data,
		hn:         res.H.Data,
		done:       ctx.Done(),
	}
	if h0 != nil {
		j.h0 = h0.Data
	}
	if c0 != nil {
		j.c0 = c0.Data
	}
	if res.C != nil {
		j.cn = res.C.Data
	}
	if !m.run(&j) {
		return nil, stopError(c, ctx.Err())
	}
	return res, nil
}

// stopError is the error of a forward pass of a network of c stopped by its context's
// error err.
func stopError(c Config, err error) error {
	return fmt.Errorf("rnn: %s forward: %w", c.Mode, err)
}

// checkHidden checks an initial state against its expected batched shape, with PyTorch's
// messages (which for unbatched input show the shapes with the batch dimension of 1 that
// PyTorch inserts).
func checkHidden[T Float](t *Tensor[T], arg, name string, batched bool, want []int) error {
	if t == nil {
		return nil
	}
	if err := t.check(arg); err != nil {
		return err
	}
	got := t.Shape
	if batched && len(got) != 3 {
		return fmt.Errorf("rnn: For batched 3-D input, %s should also be 3-D but got %d-D tensor", arg, len(got))
	}
	if !batched {
		if len(got) != 2 {
			return fmt.Errorf("rnn: For unbatched 2-D input, %s should also be 2-D but got %d-D tensor", arg, len(got))
		}
		got = []int{got[0], 1, got[1]}
	}
	if !slices.Equal(got, want) {
		if batched && want[0] != want[1] && slices.Equal(got, []int{want[1], want[0], want[2]}) {
			// A batch-first state: the usual mistake of a batch_first model's caller.
			return fmt.Errorf("rnn: Expected %s size %s, got %s: %s is (layers*directions, batch, features) even with batch_first, its batch second", name, tupleString(want), shapeString(got), arg)
		}
		return fmt.Errorf("rnn: Expected %s size %s, got %s", name, tupleString(want), shapeString(got))
	}
	return nil
}
