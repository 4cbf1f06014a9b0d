package rnn

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// The layers around the recurrent modules: torch.nn.Embedding, Linear, LayerNorm, Dropout
// and the activations, in eval mode. Each computes what the module's forward computes,
// rounding each operation to the element type in the order ATen's CPU kernels do; what
// may differ is the order of the terms of a sum (the products of Linear, the moments of
// LayerNorm, the sums of Softmax) and the last bit of tanh, exp, log and the sigmoid.

// EmbeddingConfig describes a torch.nn.Embedding as its constructor arguments do.
type EmbeddingConfig struct {
	NumEmbeddings int // rows of the table, the number of valid indices
	EmbeddingDim  int // values per row

	// PaddingIdx is the module's padding_idx, in [0, NumEmbeddings) as PyTorch stores it,
	// or nil for None. It changes nothing in inference: the row at PaddingIdx is looked up
	// as any other (PyTorch only keeps it from training, and zeroes it at initialization).
	PaddingIdx *int

	// MaxNorm, when positive, is max_norm: a row whose norm exceeds it is scaled to
	// MaxNorm before it is returned, by MaxNorm/(norm+1e-7) as torch.embedding_renorm_
	// scales it. PyTorch renormalizes the rows it looks up in the table itself, in place;
	// the Embedding renormalizes its own copy once, in NewEmbedding, which returns the same
	// values (a row renormalized once is not changed again, except when rounding leaves
	// its norm a hair above MaxNorm, which moves PyTorch's row by about 1e-7 of its norm
	// at each later lookup). Zero means None.
	MaxNorm float64

	// NormType is norm_type, the p of the p-norm MaxNorm bounds: any p > 0, or +Inf for
	// the largest absolute value. Zero means PyTorch's default, 2.
	NormType float64
}

// Validate reports whether c describes an Embedding that PyTorch can build and that the
// Embedding computes.
func (c EmbeddingConfig) Validate() error {
	if c.NumEmbeddings <= 0 || c.NumEmbeddings > maxDim {
		return fmt.Errorf("rnn: Embedding: num_embeddings must be in [1, %d], got %d", maxDim, c.NumEmbeddings)
	}
	if c.EmbeddingDim <= 0 || c.EmbeddingDim > maxDim {
		return fmt.Errorf("rnn: Embedding: embedding_dim must be in [1, %d], got %d", maxDim, c.EmbeddingDim)
	}
	if p := c.PaddingIdx; p != nil && (*p < 0 || *p >= c.NumEmbeddings) {
		return fmt.Errorf("rnn: Embedding: padding_idx must be within num_embeddings, in [0, %d), got %d", c.NumEmbeddings, *p)
	}
	if c.MaxNorm < 0 || math.IsNaN(c.MaxNorm) {
		return fmt.Errorf("rnn: Embedding: max_norm must be positive, got %v", c.MaxNorm)
	}
	if c.NormType < 0 || math.IsNaN(c.NormType) {
		return fmt.Errorf("rnn: Embedding: norm_type must be positive, got %v", c.NormType)
	}
	return nil
}

// Params returns the parameter of c, weight (NumEmbeddings, EmbeddingDim).
func (c EmbeddingConfig) Params() []Param {
	return []Param{{"weight", []int{c.NumEmbeddings, c.EmbeddingDim}}}
}

// Embedding is a torch.nn.Embedding: a table of rows looked up by index. It is immutable
// and safe for concurrent use.
type Embedding[T Float] struct {
	cfg    EmbeddingConfig
	weight []T // NumEmbeddings rows, renormalized when MaxNorm is set
}

// NewEmbedding checks c and params (PyTorch's parameter names and shapes,
// EmbeddingConfig.Params) and returns an Embedding holding its own copy of the table.
func NewEmbedding[T Float](c EmbeddingConfig, params map[string][]T) (*Embedding[T], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkParams(c.Params(), params); err != nil {
		return nil, fmt.Errorf("rnn: parameters of Embedding: %w", err)
	}
	e := &Embedding[T]{cfg: c.clone(), weight: slices.Clone(params["weight"])}
	if c.MaxNorm > 0 {
		p := c.NormType
		if p == 0 {
			p = 2
		}
		d := c.EmbeddingDim
		for i := 0; i < c.NumEmbeddings; i++ {
			renorm(e.weight[i*d:(i+1)*d], c.MaxNorm, p)
		}
	}
	return e, nil
}

// renorm scales row as torch.embedding_renorm_ does: when its p-norm (rounded to T, as
// ATen's norm returns it) exceeds maxNorm, by maxNorm/(norm+1e-7) rounded to T.
func renorm[T Float](row []T, maxNorm, p float64) {
	var norm float64
	switch {
	case math.IsInf(p, 1):
		for _, v := range row {
			norm = max(norm, math.Abs(float64(v)))
		}
	case p == 1:
		for _, v := range row {
			norm += math.Abs(float64(v))
		}
	case p == 2:
		for _, v := range row {
			norm += float64(v) * float64(v)
		}
		norm = math.Sqrt(norm)
	default:
		for _, v := range row {
			norm += math.Pow(math.Abs(float64(v)), p)
		}
		norm = math.Pow(norm, 1/p)
	}
	norm = float64(T(norm))
	if norm > maxNorm {
		scale := T(maxNorm / (norm + 1e-7))
		for j := range row {
			row[j] *= scale
		}
	}
}

// Config returns the configuration the Embedding was built with.
func (e *Embedding[T]) Config() EmbeddingConfig { return e.cfg.clone() }

// clone returns c with a PaddingIdx of its own, so that neither the caller of NewEmbedding
// nor that of Config can change an Embedding's through the pointer.
func (c EmbeddingConfig) clone() EmbeddingConfig {
	if c.PaddingIdx != nil {
		p := *c.PaddingIdx
		c.PaddingIdx = &p
	}
	return c
}

// Forward looks up every index of ids, of any shape, and returns the rows in a tensor of
// shape ids.Shape + (EmbeddingDim). An index outside [0, NumEmbeddings) is an error.
func (e *Embedding[T]) Forward(ids *Tensor[int64]) (*Tensor[T], error) {
	return e.apply(context.Background(), new(slot[T]), nil, ids)
}

func (e *Embedding[T]) apply(_ context.Context, sl *slot[T], x *Tensor[T], ids *Tensor[int64]) (*Tensor[T], error) {
	if !e.made() {
		return nil, fmt.Errorf("rnn: Forward on an Embedding not made by NewEmbedding")
	}
	if ids == nil && x != nil {
		return nil, fmt.Errorf("rnn: Embedding takes int64 indices, not %T values", x.Data)
	}
	if err := ids.check("indices"); err != nil {
		return nil, err
	}
	d := e.cfg.EmbeddingDim
	if len(ids.Data) > maxElems/d {
		return nil, fmt.Errorf("rnn: Embedding: %d indices of %d values are too many", len(ids.Data), d)
	}
	for i, id := range ids.Data {
		if id < 0 || id >= int64(e.cfg.NumEmbeddings) {
			return nil, fmt.Errorf("rnn: Embedding: index %d at position %d is out of range [0, %d)", id, i, e.cfg.NumEmbeddings)
		}
	}
	out := sl.output(len(ids.Data)*d, ids.Shape, d)
	for i, id := range ids.Data {
		copy(out.Data[i*d:(i+1)*d], e.weight[int(id)*d:])
	}
	return out, nil
}

func (e *Embedding[T]) made() bool { return e != nil && e.weight != nil }

func (e *Embedding[T]) describe() string {
	return fmt.Sprintf("Embedding(%d, %d)", e.cfg.NumEmbeddings, e.cfg.EmbeddingDim)
}

func (e *Embedding[T]) widths() (takes, gives int) { return 0, e.cfg.EmbeddingDim }

// LinearConfig describes a torch.nn.Linear as its constructor arguments do.
type LinearConfig struct {
	InFeatures, OutFeatures int
	Bias                    bool
}

// Validate reports whether c describes a Linear that the Linear computes.
func (c LinearConfig) Validate() error {
	if c.InFeatures <= 0 || c.InFeatures > maxDim {
		return fmt.Errorf("rnn: Linear: in_features must be in [1, %d], got %d", maxDim, c.InFeatures)
	}
	if c.OutFeatures <= 0 || c.OutFeatures > maxDim {
		return fmt.Errorf("rnn: Linear: out_features must be in [1, %d], got %d", maxDim, c.OutFeatures)
	}
	return nil
}

// Params returns the parameters of c with PyTorch's names and shapes: weight
// (OutFeatures, InFeatures) and, when c.Bias, bias (OutFeatures).
func (c LinearConfig) Params() []Param {
	ps := []Param{{"weight", []int{c.OutFeatures, c.InFeatures}}}
	if c.Bias {
		ps = append(ps, Param{"bias", []int{c.OutFeatures}})
	}
	return ps
}

// Linear is a torch.nn.Linear, y = x·Wᵀ + b, computed by the matrix product of the
// recurrent layers (the sum of products first, then the bias, as ATen's addmm). Its
// weight is packed once, in NewLinear. A Linear is immutable and safe for concurrent use.
type Linear[T Float] struct {
	cfg  LinearConfig
	o    *ops[T]
	w    packed[T]
	bias []T // padded to w.np; nil without bias
}

// NewLinear checks c and params (PyTorch's parameter names and shapes,
// LinearConfig.Params) and returns a Linear holding its own copy of the weights.
func NewLinear[T Float](c LinearConfig, params map[string][]T) (*Linear[T], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkParams(c.Params(), params); err != nil {
		return nil, fmt.Errorf("rnn: parameters of Linear: %w", err)
	}
	return newLinear(c, params, opsFor[T]()), nil
}

// newLinear packs checked parameters for the kernel set o.
func newLinear[T Float](c LinearConfig, params map[string][]T, o *ops[T]) *Linear[T] {
	l := &Linear[T]{cfg: c, o: o, w: packWeight(params["weight"], c.OutFeatures, c.InFeatures, o.nr)}
	if c.Bias {
		l.bias = padVector(params["bias"], l.w.np)
	}
	return l
}

// Config returns the configuration the Linear was built with.
func (l *Linear[T]) Config() LinearConfig { return l.cfg }

// Forward computes x·Wᵀ + b for x of shape (*, InFeatures): any number of leading
// dimensions, or none. The result is (*, OutFeatures).
func (l *Linear[T]) Forward(x *Tensor[T]) (*Tensor[T], error) {
	return l.apply(context.Background(), new(slot[T]), x, nil)
}

func (l *Linear[T]) apply(_ context.Context, sl *slot[T], x *Tensor[T], _ *Tensor[int64]) (*Tensor[T], error) {
	if !l.made() {
		return nil, fmt.Errorf("rnn: Forward on a Linear not made by NewLinear")
	}
	if err := x.check("input"); err != nil {
		return nil, err
	}
	nd := len(x.Shape)
	if nd == 0 {
		return nil, fmt.Errorf("rnn: Linear: the input needs at least 1 dimension, got a 0-D tensor")
	}
	in, out := l.cfg.InFeatures, l.cfg.OutFeatures
	rows := 1
	for _, s := range x.Shape[:nd-1] {
		rows *= s // bounded: x.check bounds every product of its dimensions
	}
	if x.Shape[nd-1] != in {
		return nil, fmt.Errorf("rnn: Linear: mat1 and mat2 shapes cannot be multiplied (%dx%d and %dx%d)", rows, x.Shape[nd-1], in, out)
	}
	if rows > maxElems/l.w.np {
		return nil, fmt.Errorf("rnn: Linear: %d rows of %d values are too many", rows, out)
	}
	np := l.w.np
	// The product is written with rows np apart, then the rows are moved together.
	y := sl.output(rows*np, x.Shape[:nd-1], out)
	y.Data = y.Data[:rows*np]
	gemmRows(l.o, &sl.rows, rows, x.Data, in, &l.w, y.Data, np, l.bias)
	if np != out {
		for i := 1; i < rows; i++ {
			copy(y.Data[i*out:(i+1)*out], y.Data[i*np:])
		}
	}
	y.Data = y.Data[:rows*out]
	return y, nil
}

func (l *Linear[T]) made() bool { return l != nil && l.o != nil }

func (l *Linear[T]) describe() string { return l.cfg.String() }

func (l *Linear[T]) widths() (takes, gives int) { return l.cfg.InFeatures, l.cfg.OutFeatures }

// LayerNormConfig describes a torch.nn.LayerNorm as its constructor arguments do.
type LayerNormConfig struct {
	NormalizedShape []int   // the trailing dimensions normalized over
	Eps             float64 // added to the variance: PyTorch's default is 1e-5
	// ElementwiseAffine gives the LayerNorm a weight, and a bias when Bias is set as well
	// (PyTorch before 2.1 always has both; 2.1 added bias=False).
	ElementwiseAffine, Bias bool
}

// Validate reports whether c describes a LayerNorm that the LayerNorm computes.
func (c LayerNormConfig) Validate() error {
	if len(c.NormalizedShape) == 0 || len(c.NormalizedShape) > 8 {
		return fmt.Errorf("rnn: LayerNorm: normalized_shape must have 1 to 8 dimensions, got %v", c.NormalizedShape)
	}
	n := 1
	for _, s := range c.NormalizedShape {
		if s <= 0 || s > maxDim || n > maxDim/s {
			return fmt.Errorf("rnn: LayerNorm: normalized_shape %v is empty or too large", c.NormalizedShape)
		}
		n *= s
	}
	if c.Eps < 0 || math.IsNaN(c.Eps) || math.IsInf(c.Eps, 0) {
		return fmt.Errorf("rnn: LayerNorm: eps must be finite and not negative, got %v", c.Eps)
	}
	return nil
}

// Params returns the parameters of c with PyTorch's names and shapes: with
// ElementwiseAffine, weight and, with Bias too, bias, both of shape NormalizedShape.
func (c LayerNormConfig) Params() []Param {
	if !c.ElementwiseAffine {
		return nil
	}
	ps := []Param{{"weight", slices.Clone(c.NormalizedShape)}}
	if c.Bias {
		ps = append(ps, Param{"bias", slices.Clone(c.NormalizedShape)})
	}
	return ps
}

// LayerNorm is a torch.nn.LayerNorm: each slice over the trailing NormalizedShape
// dimensions is normalized to zero mean and unit variance (the biased variance, with Eps
// added), then scaled by weight and shifted by bias. As ATen computes it: rstd =
// 1/sqrt(var+eps), y = (x·rstd + (-rstd·mean))·weight + bias, each operation rounded to
// T; the mean and the variance are computed in float64 and rounded to T. A LayerNorm is
// immutable and safe for concurrent use.
type LayerNorm[T Float] struct {
	cfg          LayerNormConfig
	n            int // elements normalized together
	weight, bias []T // nil when absent
}

// NewLayerNorm checks c and params (PyTorch's parameter names and shapes,
// LayerNormConfig.Params) and returns a LayerNorm holding its own copy of them.
func NewLayerNorm[T Float](c LayerNormConfig, params map[string][]T) (*LayerNorm[T], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if params == nil {
		params = map[string][]T{}
	}
	if err := checkParams(c.Params(), params); err != nil {
		return nil, fmt.Errorf("rnn: parameters of LayerNorm: %w", err)
	}
	c.NormalizedShape = slices.Clone(c.NormalizedShape)
	l := &LayerNorm[T]{cfg: c, n: 1, weight: slices.Clone(params["weight"]), bias: slices.Clone(params["bias"])}
	for _, s := range c.NormalizedShape {
		l.n *= s
	}
	return l, nil
}

// Config returns the configuration the LayerNorm was built with.
func (l *LayerNorm[T]) Config() LayerNormConfig {
	c := l.cfg
	c.NormalizedShape = slices.Clone(c.NormalizedShape)
	return c
}

// Forward normalizes x, whose trailing dimensions must be NormalizedShape; the result has
// x's shape.
func (l *LayerNorm[T]) Forward(x *Tensor[T]) (*Tensor[T], error) {
	return l.apply(context.Background(), new(slot[T]), x, nil)
}

func (l *LayerNorm[T]) apply(_ context.Context, sl *slot[T], x *Tensor[T], _ *Tensor[int64]) (*Tensor[T], error) {
	if !l.made() {
		return nil, fmt.Errorf("rnn: Forward on a LayerNorm not made by NewLayerNorm")
	}
	if err := x.check("input"); err != nil {
		return nil, err
	}
	ns, nd := l.cfg.NormalizedShape, len(x.Shape)
	if nd < len(ns) || !slices.Equal(x.Shape[nd-len(ns):], ns) {
		return nil, fmt.Errorf("rnn: LayerNorm: Given normalized_shape=%s, expected input with shape [*, %s, but got input of size%s",
			shapeString(ns), shapeString(ns)[1:], shapeString(x.Shape))
	}
	n := l.n
	y := sl.output(len(x.Data), x.Shape, -1)
	eps := T(l.cfg.Eps)
	for r := 0; r < len(x.Data)/n; r++ {
		xr, yr := x.Data[r*n:(r+1)*n], y.Data[r*n:(r+1)*n]
		var sum float64
		for _, v := range xr {
			sum += float64(v)
		}
		mean := sum / float64(n)
		var ss float64
		for _, v := range xr {
			d := float64(v) - mean
			ss += d * d
		}
		mu, variance := T(mean), T(ss/float64(n))
		rstd := T(1) / T(math.Sqrt(float64(variance+eps)))
		shift := T(-rstd * mu)
		for j, v := range xr {
			z := T(v*rstd) + shift
			if l.weight != nil {
				z = T(z * l.weight[j])
			}
			if l.bias != nil {
				z += l.bias[j]
			}
			yr[j] = z
		}
	}
	return y, nil
}

func (l *LayerNorm[T]) made() bool { return l != nil && l.n != 0 }

func (l *LayerNorm[T]) describe() string { return l.cfg.String() }

func (l *LayerNorm[T]) widths() (takes, gives int) {
	last := l.cfg.NormalizedShape[len(l.cfg.NormalizedShape)-1]
	return last, last
}

// reduced returns the first dimension a LayerNorm of an input of nd dimensions mixes.
func (l *LayerNorm[T]) reduced(nd int) int { return nd - len(l.cfg.NormalizedShape) }

// Dropout is a torch.nn.Dropout in eval mode: the identity.
type Dropout[T Float] struct{ p float64 }

// NewDropout returns a Dropout of probability p, which must be in [0, 1] as PyTorch
// requires; p changes nothing in inference.
func NewDropout[T Float](p float64) (*Dropout[T], error) {
	if !(p >= 0 && p <= 1) {
		return nil, fmt.Errorf("rnn: Dropout: dropout probability has to be between 0 and 1, but got %v", p)
	}
	return &Dropout[T]{p: p}, nil
}

// P returns the dropout probability.
func (d *Dropout[T]) P() float64 { return d.p }

// Forward returns x itself, as PyTorch's dropout in eval mode does.
func (d *Dropout[T]) Forward(x *Tensor[T]) (*Tensor[T], error) {
	return d.apply(context.Background(), nil, x, nil)
}

func (d *Dropout[T]) apply(_ context.Context, _ *slot[T], x *Tensor[T], _ *Tensor[int64]) (*Tensor[T], error) {
	if err := x.check("input"); err != nil {
		return nil, err
	}
	return x, nil
}

// A zero Dropout is Dropout(p=0), ready to run.
func (d *Dropout[T]) made() bool                 { return d != nil }
func (d *Dropout[T]) describe() string           { return fmt.Sprintf("Dropout(p=%g)", d.p) }
func (d *Dropout[T]) widths() (takes, gives int) { return 0, 0 }

// ActivationFunc is the function of an Activation.
type ActivationFunc int

// The activations of torch.nn: Tanh, ReLU and Sigmoid elementwise, Softmax and
// LogSoftmax over one dimension.
const (
	Tanh ActivationFunc = iota
	ReLU
	Sigmoid
	Softmax
	LogSoftmax
)

// String returns the name of the PyTorch module.
func (f ActivationFunc) String() string {
	switch f {
	case Tanh:
		return "Tanh"
	case ReLU:
		return "ReLU"
	case Sigmoid:
		return "Sigmoid"
	case Softmax:
		return "Softmax"
	case LogSoftmax:
		return "LogSoftmax"
	}
	return fmt.Sprintf("ActivationFunc(%d)", int(f))
}

// Activation is torch.nn.Tanh, ReLU, Sigmoid, Softmax(dim) or LogSoftmax(dim). Tanh runs
// the kernel of the RNN's tanh. Softmax is exp(x - max)/Σexp(x - max) and LogSoftmax
// (x - max) - log Σexp(x - max) over the dimension, with the sum in float64.
type Activation[T Float] struct {
	f   ActivationFunc
	dim int
	o   *ops[T]
}

// NewActivation returns the activation f; dim is the dimension of Softmax and
// LogSoftmax (negative counts from the end, as in PyTorch) and must be 0 for the others.
func NewActivation[T Float](f ActivationFunc, dim int) (*Activation[T], error) {
	if f < Tanh || f > LogSoftmax {
		return nil, fmt.Errorf("rnn: unknown activation %d", int(f))
	}
	if f < Softmax && dim != 0 {
		return nil, fmt.Errorf("rnn: %s has no dimension, got dim %d", f, dim)
	}
	return &Activation[T]{f: f, dim: dim, o: opsFor[T]()}, nil
}

// Func returns the activation's function.
func (a *Activation[T]) Func() ActivationFunc { return a.f }

// Dim returns the dimension of Softmax and LogSoftmax, as given to NewActivation.
func (a *Activation[T]) Dim() int { return a.dim }

// Forward applies the activation to x; the result has x's shape. A dimension outside
// x's is an error, with PyTorch's message.
func (a *Activation[T]) Forward(x *Tensor[T]) (*Tensor[T], error) {
	return a.apply(context.Background(), new(slot[T]), x, nil)
}

// softmaxDim returns the dimension a Softmax or LogSoftmax reduces over for an input of
// nd dimensions (a 0-D input counts as one of size 1).
func (a *Activation[T]) softmaxDim(nd int) (int, error) {
	r := max(nd, 1)
	d := a.dim
	if d < -r || d >= r {
		return 0, fmt.Errorf("rnn: %s: Dimension out of range (expected to be in range of [%d, %d], but got %d)", a.f, -r, r-1, d)
	}
	if d < 0 {
		d += r
	}
	return d, nil
}

func (a *Activation[T]) apply(_ context.Context, sl *slot[T], x *Tensor[T], _ *Tensor[int64]) (*Tensor[T], error) {
	if !a.made() {
		return nil, fmt.Errorf("rnn: Forward on an Activation not made by NewActivation")
	}
	if err := x.check("input"); err != nil {
		return nil, err
	}
	nd := len(x.Shape)
	y := sl.output(len(x.Data), x.Shape, -1)
	switch a.f {
	case Tanh:
		a.o.tanh(y.Data, x.Data)
	case ReLU:
		reluRow(y.Data, x.Data)
	case Sigmoid:
		for i, v := range x.Data {
			y.Data[i] = sigmoidOf(v)
		}
	case Softmax, LogSoftmax:
		d, err := a.softmaxDim(nd)
		if err != nil {
			return nil, err
		}
		size, inner := 1, 1
		if nd > 0 {
			size = x.Shape[d]
			for _, s := range x.Shape[d+1:] {
				inner *= s
			}
		}
		if size == 0 || inner == 0 {
			return y, nil
		}
		for o := 0; o < len(x.Data)/(size*inner); o++ {
			for i := 0; i < inner; i++ {
				base := o*size*inner + i
				softmax(y.Data[base:], x.Data[base:], size, inner, a.f == LogSoftmax)
			}
		}
	}
	return y, nil
}

// softmax computes the softmax (or log-softmax) of the n values of src that are stride
// apart into dst, as ATen does: m = max, e = exp(x - m) rounded to T, s = Σe (here in
// float64); softmax is e·(1/s) over the last dimension (stride 1) and e/s over another,
// log-softmax (x - m) - log s.
func softmax[T Float](dst, src []T, n, stride int, log bool) {
	m := src[0]
	for k := 1; k < n; k++ {
		if v := src[k*stride]; v > m || v != v {
			m = v
		}
	}
	var s float64
	for k := 0; k < n; k++ {
		e := T(math.Exp(float64(src[k*stride] - m)))
		if !log {
			dst[k*stride] = e
		}
		s += float64(e)
	}
	switch {
	case log:
		ls := T(math.Log(s))
		for k := 0; k < n; k++ {
			dst[k*stride] = (src[k*stride] - m) - ls
		}
	case stride == 1:
		inv := T(1) / T(s)
		for k := 0; k < n; k++ {
			dst[k] *= inv
		}
	default:
		ts := T(s)
		for k := 0; k < n; k++ {
			dst[k*stride] /= ts
		}
	}
}

func (a *Activation[T]) describe() string {
	if a.f >= Softmax {
		return fmt.Sprintf("%s(dim=%d)", a.f, a.dim)
	}
	return a.f.String() + "()"
}

func (a *Activation[T]) widths() (takes, gives int) { return 0, 0 }

func (a *Activation[T]) made() bool { return a != nil && a.o != nil }
