package parity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fileerr"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// The truth of a whole model: the layers around the recurrent module computed in float64
// as their modules' forward defines them, by code of this package (gonum's BLAS for
// Linear), from the checkpoint's weights read again:
//
//	Embedding:  the rows of the table the ids select (renormalized to max_norm, when set,
//	            as torch.embedding_renorm_ does)
//	Linear:     x Wᵀ + b
//	LayerNorm:  (x - mean) / sqrt(var + eps) · weight + bias, over the trailing dimensions
//	Dropout:    the identity (eval mode)
//	Tanh, ReLU, Sigmoid; Softmax and LogSoftmax over their dimension
//
// A recurrent layer passes its output on, as the whole model Go runs does; the last
// layer, when recurrent, gives h_n and c_n too. The layers' configurations are the
// loaded model's (what convert inferred or read from a pickled module, which the
// comparison with the reference judges); nothing of package rnn's computation is used.

// layerKind is what a stage of the truth computes.
type layerKind int

const (
	recurrentLayer layerKind = iota
	embeddingLayer
	linearLayer
	layerNormLayer
	dropoutLayer
	activationLayer
)

// stage is one layer of a model as the truth computes it.
type stage struct {
	prefix string // of its parameters' names in the checkpoint
	kind   layerKind
	net    *network // recurrentLayer
	emb    rnn.EmbeddingConfig
	lin    rnn.LinearConfig
	ln     rnn.LayerNormConfig
	act    rnn.ActivationFunc
	dim    int                  // Softmax, LogSoftmax
	params map[string][]float64 // by PyTorch's names without the prefix, row-major
}

// model is a model as the truth computes it: a recurrent module or cell alone (one
// stage, which takes the initial states), or a whole model's layers in order.
type model struct {
	stages []*stage
	whole  bool
}

// input is a model's input: values, or token ids for a first Embedding.
type input struct {
	x     []float64
	ids   []int64
	shape []int
}

// core returns the first recurrent network of the model, or nil.
func (m *model) core() *network {
	for _, s := range m.stages {
		if s.kind == recurrentLayer {
			return s.net
		}
	}
	return nil
}

// withNets returns the model with every recurrent network replaced by change(network)
// (unchanged where change returns nil).
func (m *model) withNets(change func(n *network) *network) *model {
	out := &model{whole: m.whole, stages: make([]*stage, len(m.stages))}
	for i, s := range m.stages {
		out.stages[i] = s
		if s.kind != recurrentLayer {
			continue
		}
		if n := change(s.net); n != nil {
			c := *s
			c.net = n
			out.stages[i] = &c
		}
	}
	return out
}

// forward computes the model on in from h0 and c0 (nil: zeros; only for a module alone),
// rounding every stored value with nz when nz is not nil. coreIn, when not nil, is set
// to the shape of the first recurrent layer's input.
func (m *model) forward(ctx context.Context, in input, h0, c0 []float64, nz *noise, coreIn *[]int) (*results, error) {
	if len(m.stages) == 0 {
		return nil, errors.New("a model of no layers")
	}
	cur, shape := in.x, in.shape
	r := &results{}
	for i, s := range m.stages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if in.ids != nil && i == 0 && s.kind != embeddingLayer {
			return nil, fmt.Errorf("the input holds integer ids, which %s does not take", s.describe())
		}
		var err error
		r.hn, r.cn, r.hShape, r.cShape = nil, nil, nil, nil
		switch s.kind {
		case recurrentLayer:
			if coreIn != nil && *coreIn == nil {
				*coreIn = slices.Clone(shape)
			}
			var res *results
			if res, err = s.net.forward(ctx, cur, shape, h0, c0, nz); err == nil {
				cur, shape = res.output, res.outShape
				r.hn, r.cn, r.hShape, r.cShape = res.hn, res.cn, res.hShape, res.cShape
			}
		case embeddingLayer:
			if i != 0 || in.ids == nil {
				return nil, fmt.Errorf("%s takes integer ids", s.describe())
			}
			cur, shape, err = s.embedding(in.ids, in.shape, nz)
		case linearLayer:
			cur, shape, err = s.linear(cur, shape, nz)
		case layerNormLayer:
			cur, err = s.layerNorm(cur, shape, nz)
		case dropoutLayer:
		case activationLayer:
			cur, err = s.activation(cur, shape, nz)
		}
		if err != nil {
			if m.whole {
				return nil, fmt.Errorf("%w (in layer %d, %s)", err, i, s.describe())
			}
			return nil, err
		}
	}
	r.output, r.outShape = cur, shape
	return r, nil
}

// describe names the stage as PyTorch prints its module, with its prefix.
func (s *stage) describe() string {
	var mod string
	switch s.kind {
	case recurrentLayer:
		mod = s.net.cfg.String()
		if s.net.cell {
			mod = rnn.CellConfig{Mode: s.net.cfg.Mode, InputSize: s.net.cfg.InputSize, HiddenSize: s.net.cfg.HiddenSize, Bias: s.net.cfg.Bias}.String()
		}
	case embeddingLayer:
		mod = s.emb.String()
	case linearLayer:
		mod = s.lin.String()
	case layerNormLayer:
		mod = s.ln.String()
	case dropoutLayer:
		mod = "Dropout"
	case activationLayer:
		mod = s.act.String()
	}
	if s.prefix == "" {
		return mod
	}
	return fmt.Sprintf("%q %s", s.prefix, mod)
}

// embedding looks up the rows of ids.
func (s *stage) embedding(ids []int64, shape []int, nz *noise) ([]float64, []int, error) {
	c := s.emb
	d, w := c.EmbeddingDim, s.params["weight"]
	if c.MaxNorm > 0 {
		w = slices.Clone(w)
		p := c.NormType
		if p == 0 {
			p = 2
		}
		for r := range c.NumEmbeddings {
			renormRow(w[r*d:(r+1)*d], c.MaxNorm, p)
		}
	}
	out := make([]float64, 0, len(ids)*d)
	for i, id := range ids {
		if id < 0 || id >= int64(c.NumEmbeddings) {
			return nil, nil, fmt.Errorf("index %d at position %d is out of range [0, %d)", id, i, c.NumEmbeddings)
		}
		out = append(out, w[int(id)*d:(int(id)+1)*d]...)
	}
	nz.apply(out)
	return out, append(slices.Clone(shape), d), nil
}

// renormRow scales row to p-norm maxNorm when its norm exceeds it, by
// maxNorm/(norm + 1e-7), as torch.embedding_renorm_ does.
func renormRow(row []float64, maxNorm, p float64) {
	var norm float64
	for _, v := range row {
		switch {
		case math.IsInf(p, 1):
			norm = max(norm, math.Abs(v))
		default:
			norm += math.Pow(math.Abs(v), p)
		}
	}
	if !math.IsInf(p, 1) {
		norm = math.Pow(norm, 1/p)
	}
	if norm > maxNorm {
		f := maxNorm / (norm + 1e-7)
		for j := range row {
			row[j] *= f
		}
	}
}

// rowsOf returns the product of all but the last dimension, checking that the last is n.
func rowsOf(shape []int, n int, what string) (int, error) {
	if len(shape) == 0 || shape[len(shape)-1] != n {
		return 0, fmt.Errorf("%s takes %d features, got input of shape %v", what, n, shape)
	}
	return numel(shape[:len(shape)-1]), nil
}

// linear computes x Wᵀ + b over the last dimension.
func (s *stage) linear(x []float64, shape []int, nz *noise) ([]float64, []int, error) {
	c := s.lin
	rows, err := rowsOf(shape, c.InFeatures, "Linear")
	if err != nil {
		return nil, nil, err
	}
	w := s.params["weight"]
	if nz != nil {
		w = slices.Clone(w)
		nz.apply(w)
	}
	y := make([]float64, rows*c.OutFeatures)
	if rows > 0 {
		mul(x, rows, c.InFeatures, w, c.OutFeatures, y)
	}
	addRows(y, s.params["bias"])
	nz.apply(y)
	return y, append(slices.Clone(shape[:len(shape)-1]), c.OutFeatures), nil
}

// layerNorm normalizes every slice over the trailing NormalizedShape dimensions.
func (s *stage) layerNorm(x []float64, shape []int, nz *noise) ([]float64, error) {
	ns := s.ln.NormalizedShape
	if len(shape) < len(ns) || !slices.Equal(shape[len(shape)-len(ns):], ns) {
		return nil, fmt.Errorf("LayerNorm over %v, got input of shape %v", ns, shape)
	}
	n := numel(ns)
	w, b := s.params["weight"], s.params["bias"]
	y := make([]float64, len(x))
	for r := 0; r+n <= len(x); r += n {
		xr, yr := x[r:r+n], y[r:r+n]
		var sum float64
		for _, v := range xr {
			sum += v
		}
		mean := sum / float64(n)
		var ss float64
		for _, v := range xr {
			ss += (v - mean) * (v - mean)
		}
		rstd := 1 / math.Sqrt(ss/float64(n)+s.ln.Eps)
		for j, v := range xr {
			z := (v - mean) * rstd
			if w != nil {
				z *= w[j]
			}
			if b != nil {
				z += b[j]
			}
			yr[j] = z
		}
	}
	nz.apply(y)
	return y, nil
}

// activation applies the stage's function.
func (s *stage) activation(x []float64, shape []int, nz *noise) ([]float64, error) {
	y := make([]float64, len(x))
	switch s.act {
	case rnn.Tanh:
		for i, v := range x {
			y[i] = math.Tanh(v)
		}
	case rnn.ReLU:
		for i, v := range x {
			y[i] = max(0, v)
		}
	case rnn.Sigmoid:
		for i, v := range x {
			y[i] = sigmoid(v)
		}
	case rnn.Softmax, rnn.LogSoftmax:
		nd := max(len(shape), 1)
		d := s.dim
		if d < -nd || d >= nd {
			return nil, fmt.Errorf("%s: dimension %d out of range for %d dimensions", s.act, s.dim, nd)
		}
		if d < 0 {
			d += nd
		}
		size, inner := 1, 1
		if len(shape) > 0 {
			size, inner = shape[d], numel(shape[d+1:])
		}
		if size == 0 || inner == 0 {
			return y, nil
		}
		for o := 0; o < len(x)/(size*inner); o++ {
			for i := range inner {
				base := o*size*inner + i
				m := math.Inf(-1)
				for k := range size {
					m = max(m, x[base+k*inner])
				}
				var sum float64
				for k := range size {
					sum += math.Exp(x[base+k*inner] - m)
				}
				for k := range size {
					v := x[base+k*inner] - m
					if s.act == rnn.LogSoftmax {
						y[base+k*inner] = v - math.Log(sum)
					} else {
						y[base+k*inner] = math.Exp(v) / sum
					}
				}
			}
		}
	default:
		return nil, fmt.Errorf("unknown activation %v", s.act)
	}
	nz.apply(y)
	return y, nil
}

// truthModel reads the model's weights again, in float64, for the truth: the recurrent
// module alone, or, when m runs whole, every layer of the whole model.
func truthModel(cp *convert.Checkpoint, m *convert.Model) (*model, error) {
	if !m.Whole {
		n, err := readNetwork(cp, m.Prefix, m.Config, m.Cell)
		if err != nil {
			return nil, err
		}
		return &model{stages: []*stage{{prefix: m.Prefix, kind: recurrentLayer, net: n}}}, nil
	}
	if m.DType == pickle.F64 {
		return wholeModel[float64](cp, m)
	}
	return wholeModel[float32](cp, m)
}

// readNetwork reads the parameters of the recurrent module (or cell) at prefix.
func readNetwork(cp *convert.Checkpoint, prefix string, cfg rnn.Config, cell bool) (*network, error) {
	n := &network{cfg: cfg, params: map[string][]float64{}, cell: cell}
	for _, p := range cfg.Params() {
		name := p.Name
		if cell {
			name = strings.TrimSuffix(name, "_l0") // weight_ih, ...
		}
		v, err := readParam(cp, prefix+name, p.Shape)
		if err != nil {
			return nil, err
		}
		n.params[p.Name] = v
	}
	return n, nil
}

// readParam reads the parameter name of cp, which must have the shape the model gives it:
// a caller of Truth may pass a checkpoint other than the one the model was loaded from.
func readParam(cp *convert.Checkpoint, name string, shape []int) ([]float64, error) {
	t, ok := cp.Tensor(name)
	if !ok {
		return nil, fileerr.Errorf(cp.Path, "no tensor %s", name)
	}
	if !slices.Equal(t.Shape, shape) {
		return nil, fileerr.Errorf(cp.Path, "%s has shape %v, the model's %v: the model was not loaded from this checkpoint", name, t.Shape, shape)
	}
	v, err := t.Float64s()
	if err != nil {
		return nil, fileerr.Errorf(cp.Path, "%s: %w", name, err)
	}
	return v, nil
}

// wholeModel reads the layers of m's whole model, which m runs in T.
func wholeModel[T rnn.Float](cp *convert.Checkpoint, m *convert.Model) (*model, error) {
	seq, err := convert.Sequential[T](m)
	if err != nil {
		return nil, fileerr.Wrap(cp.Path, err)
	}
	layers := seq.Layers()
	if len(layers) != len(m.Layers) {
		return nil, fileerr.Errorf(cp.Path, "the whole model has %d layers, its description %d", len(layers), len(m.Layers))
	}
	out := &model{whole: true}
	for i, l := range layers {
		s := &stage{prefix: m.Layers[i].Prefix, params: map[string][]float64{}}
		var params []rnn.Param
		switch l := l.(type) {
		case *rnn.Model[T]:
			if s.net, err = readNetwork(cp, s.prefix, l.Config(), false); err != nil {
				return nil, err
			}
		case *rnn.Cell[T]:
			c := l.Config()
			cfg := rnn.Config{Mode: c.Mode, InputSize: c.InputSize, HiddenSize: c.HiddenSize, NumLayers: 1, Bias: c.Bias}
			if s.net, err = readNetwork(cp, s.prefix, cfg, true); err != nil {
				return nil, err
			}
		case *rnn.Embedding[T]:
			s.kind, s.emb = embeddingLayer, l.Config()
			params = s.emb.Params()
		case *rnn.Linear[T]:
			s.kind, s.lin = linearLayer, l.Config()
			params = s.lin.Params()
		case *rnn.LayerNorm[T]:
			s.kind, s.ln = layerNormLayer, l.Config()
			params = s.ln.Params()
		case *rnn.Dropout[T]:
			s.kind = dropoutLayer
		case *rnn.Activation[T]:
			s.kind, s.act, s.dim = activationLayer, l.Func(), l.Dim()
		default:
			return nil, fileerr.Errorf(cp.Path, "layer %d (%T) has no truth", i, l)
		}
		for _, p := range params {
			if s.params[p.Name], err = readParam(cp, s.prefix+p.Name, p.Shape); err != nil {
				return nil, err
			}
		}
		out.stages = append(out.stages, s)
	}
	return out, nil
}

// readInput reads a model's input for the truth: token ids for a model whose first layer
// is an Embedding, values otherwise.
func (m *model) readInput(x *pickle.Tensor) (input, error) {
	in := input{shape: x.Shape}
	var err error
	if m.stages[0].kind == embeddingLayer {
		in.ids, err = x.Int64s()
	} else {
		in.x, err = x.Float64s()
	}
	return in, err
}
