package convert

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/internal/fileerr"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// Model is a model loaded from a checkpoint, ready to run: a recurrent module
// (torch.nn.RNN, LSTM, GRU) or cell (RNNCell, LSTMCell, GRUCell), and, when Load found
// them, the layers around it that make the whole model.
//
// A Model holds its own copy of the weights: it is immutable after Load and safe for
// concurrent use by multiple goroutines, and its Forward reads nothing from the
// checkpoint, which may be closed once Load returns. Its exported fields describe what
// Load built, from the checkpoint and the Options it was given; a change to them changes
// nothing that was built, and Forward refuses a Model whose fields were changed (the
// settings a state_dict does not store are Load's to take, in Options).
type Model struct {
	// Prefix is the recurrent module's parameter name prefix in the checkpoint ("" at the
	// root); for a model without one (a pickled Sequential of other layers), the
	// Sequential's.
	Prefix string
	// Config is the recurrent module's configuration, inferred or read from the pickled
	// module; a cell's is that of the one-layer network of its mode, and Cell is set.
	Config rnn.Config
	Cell   bool
	// DType is what the model computes in: F64 when every weight is F64, F32 otherwise
	// (F16 and BF16 weights are widened, as PyTorch's .float() does).
	DType pickle.DType
	// FromModule reports that the configuration came from a pickled module's attributes.
	FromModule bool
	// Layers are the modules of the whole model, in order, when Load knows them: those
	// of the pickled torch.nn.Sequential holding the recurrent module, or the layers beside
	// it that fit around it ([Embedding] [LayerNorm] module [LayerNorm] [Linear]). It is
	// nil when the model around the recurrent module is not known.
	Layers []Layer
	// Whole reports that Forward runs the whole model (Options.Whole, or a pickled
	// Sequential without a recurrent module).
	Whole bool

	b32       *built[float32]
	b64       *built[float64]
	layersErr error // why Layers is nil

	// What bounds Forward (Options.OutputLimit): the limit, the weights' bytes and
	// the widest dimension of a weight.
	outputLimit        int64
	weightBytes, width int64

	loaded fields // the exported fields as Load set them
}

// fields are a Model's exported fields.
type fields struct {
	prefix                  string
	config                  rnn.Config
	cell, fromModule, whole bool
	dtype                   pickle.DType
	layers                  []Layer
}

func (m *Model) fields() fields {
	return fields{m.Prefix, m.Config, m.Cell, m.FromModule, m.Whole, m.DType, slices.Clone(m.Layers)}
}

// changed returns an error naming the first exported field of m that is not what Load
// set, or nil.
func (m *Model) changed() error {
	f, l := m.fields(), m.loaded
	var name string
	switch {
	case f.prefix != l.prefix:
		name = "Prefix"
	case f.config != l.config:
		name = "Config"
	case f.cell != l.cell:
		name = "Cell"
	case f.fromModule != l.fromModule:
		name = "FromModule"
	case f.whole != l.whole:
		name = "Whole"
	case f.dtype != l.dtype:
		name = "DType"
	case !slices.Equal(f.layers, l.layers):
		name = "Layers"
	default:
		return nil
	}
	return fmt.Errorf("convert: Model.%s was changed after Load, which built the model from the checkpoint and its Options: give the setting to Load (Options.BatchFirst, Nonlinearity, Whole, Prefix)", name)
}

// Layer is one module of a whole model.
type Layer struct {
	Prefix string `json:"prefix"` // of its parameters' names
	Module string `json:"module"` // as PyTorch prints it, e.g. "Linear(in_features=64, out_features=10, bias=True)"
}

// built is a model in element type T.
type built[T rnn.Float] struct {
	core   rnn.Layer[T]       // *rnn.Model[T] or *rnn.Cell[T]; nil without a recurrent module
	seq    *rnn.Sequential[T] // the whole model, nil when unknown
	layers []rnn.Layer[T]
	// The whole model as Forward runs it: front, then last when the last layer is
	// recurrent (which gives h_n and c_n too).
	front *rnn.Sequential[T]
	last  rnn.Layer[T]
}

// Load finds the model in cp (see Options for choosing among several), validates its
// tensors strictly and builds it.
//
// The recurrent module is a torch.nn.RNN, LSTM or GRU (parameters weight_ih_l0, ...) or
// a cell (weight_ih, weight_hh, bias_ih, bias_hh), under any prefix. Around it, Load
// looks for the whole model: a pickled torch.nn.Sequential holding it gives its layers
// in order; otherwise the modules beside it (at the nearest enclosing level that has
// any) must each fit one place, by their shapes: an Embedding whose rows have the
// module's input size, a LayerNorm of that size, a LayerNorm of its output size, a
// Linear from its output size. A module that fits nowhere, or a place several fit, leaves
// the whole model unknown (Model.Layers nil). A LayerNorm known only from its tensors
// is given PyTorch's default eps, 1e-5; a pickled module's attributes give its own.
//
// A pickled torch.nn.Sequential of Embedding, Linear, LayerNorm, Dropout, Tanh, ReLU,
// Sigmoid, Softmax and LogSoftmax modules without a recurrent module is a model too: it
// runs whole.
func Load(cp *Checkpoint, opts Options) (*Model, error) {
	if cp == nil {
		return nil, errors.New("convert: Load of a nil Checkpoint")
	}
	if opts.Nonlinearity != "" && opts.Nonlinearity != "tanh" && opts.Nonlinearity != "relu" {
		return nil, fmt.Errorf("nonlinearity %q: want tanh or relu", opts.Nonlinearity)
	}
	t, cands, _ := survey(cp, &ctxio.Poller{})
	s, ok := sequentialModel(t, cands, opts)
	if ok && (len(cands) > 0 || opts.Prefix != "") {
		return loadSequential(cp, t, s, opts)
	}
	var serr error // why the only Sequential of a file without a recurrent module does not run
	if ok {
		m, err := loadSequential(cp, t, s, opts)
		if err == nil {
			return m, nil
		}
		serr = err
	}
	c, err := choose(cp, cands, opts)
	if err != nil {
		if serr != nil {
			return nil, fmt.Errorf("%w; and its Sequential does not run: %w", err, serr)
		}
		return nil, err
	}
	cfg, err := infer(c, opts)
	if err != nil {
		return nil, fileerr.Errorf(cp.Path, "%s: %w", where(c.prefix), err)
	}
	if err := validate(cp.Path, cp.Leaves, c, cfg); err != nil {
		return nil, err
	}
	core := coreLayer(c, cfg)
	m := &Model{Prefix: c.prefix, Config: cfg, Cell: c.cell, FromModule: c.module != nil, Whole: opts.Whole, outputLimit: opts.OutputLimit}
	layers, lerr := t.around(core, opts)
	if lerr != nil && opts.Whole {
		return nil, fileerr.Errorf(cp.Path, "the model around %s is not known: %w", subject(c.prefix), lerr)
	}
	weights := []*layer{core}
	if opts.Whole {
		weights = layers
	}
	m.DType = dtypeOf(weights)
	if err := m.build(core, layers, lerr); err != nil {
		return nil, fileerr.Wrap(cp.Path, err)
	}
	return m, nil
}

// coreLayer is the layer of the recurrent module or cell c of configuration cfg.
func coreLayer(c *candidate, cfg rnn.Config) *layer {
	core := &layer{prefix: c.prefix, kind: kindRNN, rnn: cfg, tensors: c.tensors, core: true}
	if c.cell {
		core.kind = kindCell
	}
	return core
}

// sequentialModel returns the prefix of the pickled Sequential that is the model: the
// one the prefix option names, the one holding every recurrent module when the whole
// model is wanted, or the only one when there is no recurrent module.
func sequentialModel(t *tree, cands []*candidate, opts Options) (string, bool) {
	seqs := t.sequentials()
	if opts.Prefix != "" {
		want := strings.TrimSuffix(opts.Prefix, ".") + "."
		for _, c := range cands {
			if c.prefix == want {
				return "", false
			}
		}
		if slices.Contains(seqs, want) {
			return want, true
		}
		return "", false
	}
	if len(cands) == 0 && len(seqs) == 1 {
		return seqs[0], true
	}
	if !opts.Whole || len(cands) < 2 {
		return "", false
	}
	for _, s := range seqs {
		all := true
		for _, c := range cands {
			all = all && strings.HasPrefix(c.prefix, s)
		}
		if all {
			return s, true
		}
	}
	return "", false
}

// loadSequential loads the pickled Sequential at prefix as a whole model.
func loadSequential(cp *Checkpoint, t *tree, prefix string, opts Options) (*Model, error) {
	layers, err := t.sequentialLayers(prefix, nil, opts)
	if err != nil {
		return nil, fileerr.Wrap(cp.Path, err)
	}
	m := &Model{Prefix: prefix, FromModule: true, Whole: true, DType: dtypeOf(layers), outputLimit: opts.OutputLimit}
	for _, l := range layers {
		if l.kind == kindRNN || l.kind == kindCell {
			m.Config, m.Cell = l.rnn, l.kind == kindCell
			break
		}
	}
	if err := m.build(nil, layers, nil); err != nil {
		return nil, fileerr.Wrap(cp.Path, err)
	}
	return m, nil
}

// dtypeOf is F64 when every parameter of the layers is F64, F32 otherwise.
func dtypeOf(layers []*layer) pickle.DType {
	for _, l := range layers {
		for _, p := range l.params() {
			if t := l.tensors[p.Name]; t == nil || t.DType != pickle.F64 {
				return pickle.F32
			}
		}
	}
	return pickle.F64
}

// build builds the core (nil for a Sequential without one) and, when known (lerr nil),
// the whole model in m's dtype.
func (m *Model) build(core *layer, layers []*layer, lerr error) error {
	for _, l := range append([]*layer{core}, layers...) {
		if l == nil {
			continue
		}
		for _, t := range l.tensors {
			m.weightBytes += t.NumBytes()
			for _, d := range t.Shape {
				m.width = max(m.width, int64(d))
			}
		}
	}
	var err error
	if m.DType == pickle.F64 {
		m.b64, err = buildModel(m, core, layers, lerr, (*pickle.Tensor).Float64s)
	} else {
		m.b32, err = buildModel(m, core, layers, lerr, (*pickle.Tensor).Float32s)
	}
	m.loaded = m.fields()
	return err
}

func buildModel[T rnn.Float](m *Model, core *layer, layers []*layer, lerr error, values func(*pickle.Tensor) ([]T, error)) (*built[T], error) {
	b := &built[T]{}
	if core != nil {
		params := map[string][]T{}
		for _, p := range core.params() {
			v, err := values(core.tensors[p.Name])
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", where(core.prefix), p.Name, err)
			}
			params[p.Name] = v
		}
		var err error
		if core.kind == kindCell {
			b.core, err = rnn.NewCell(cellConfig(core.rnn), params)
		} else {
			b.core, err = rnn.New(core.rnn, params)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where(core.prefix), err)
		}
	}
	if lerr == nil {
		b.layers, lerr = buildLayers(layers, b.core, values)
		if lerr == nil {
			b.seq, lerr = rnn.NewSequential(b.layers...)
		}
	}
	if lerr != nil {
		if m.Whole {
			return nil, lerr
		}
		b.layers, b.seq = nil, nil
		m.layersErr = lerr
		return b, nil
	}
	m.Layers = layerInfos(layers)
	front := b.layers
	switch l := front[len(front)-1].(type) {
	case *rnn.Model[T], *rnn.Cell[T]:
		b.last, front = l, front[:len(front)-1]
	}
	if len(front) > 0 {
		if b.front, lerr = rnn.NewSequential(front...); lerr != nil {
			return nil, lerr
		}
	}
	for _, l := range b.layers { // a Sequential's first recurrent layer
		switch l.(type) {
		case *rnn.Model[T], *rnn.Cell[T]:
			if b.core == nil {
				b.core = l
			}
		}
	}
	return b, nil
}

// pick returns m's model in T, or nil.
func pick[T rnn.Float](m *Model) *built[T] {
	if b, ok := any(m.b64).(*built[T]); ok && m.b64 != nil {
		return b
	}
	if b, ok := any(m.b32).(*built[T]); ok && m.b32 != nil {
		return b
	}
	return nil
}

// typed returns m's model in T, or an error naming the function (RNN, Cell, Sequential)
// the caller should have used instead of fn, or the type it should have given it.
func typed[T rnn.Float](m *Model, fn string) (*built[T], error) {
	if m == nil || (m.b32 == nil && m.b64 == nil) {
		return nil, fmt.Errorf("convert: %s of a Model not made by Load", fn)
	}
	b := pick[T](m)
	if b == nil {
		t := "float32"
		if m.DType == pickle.F64 {
			t = "float64"
		}
		return nil, fmt.Errorf("the model %s computes in %s: take it as %s[%s]", under(m.Prefix), m.DType, fn, t)
	}
	return b, nil
}

// RNN returns m's recurrent module as package rnn runs it, when it is a torch.nn.RNN, LSTM
// or GRU. T must be the type m computes in: float64 when m.DType is F64, float32
// otherwise. The error says why there is none and what to call instead: m computes in
// the other type, its recurrent module is a cell (Cell), or it has none (a pickled
// Sequential of other layers: Sequential). The rnn.Model is m's own, immutable and safe
// for concurrent use.
func RNN[T rnn.Float](m *Model) (*rnn.Model[T], error) {
	b, err := typed[T](m, "RNN")
	if err != nil {
		return nil, err
	}
	switch c := b.core.(type) {
	case *rnn.Model[T]:
		return c, nil
	case *rnn.Cell[T]:
		return nil, fmt.Errorf("the model %s is a cell, %s: take it with Cell", under(m.Prefix), c.Config())
	}
	return nil, fmt.Errorf("the model %s has no recurrent module: take it with Sequential", under(m.Prefix))
}

// Cell returns m's recurrent module as package rnn runs it, when it is a cell
// (torch.nn.RNNCell, LSTMCell, GRUCell), as RNN does: T must be the type m computes in,
// and the error says why there is none and what to call instead.
func Cell[T rnn.Float](m *Model) (*rnn.Cell[T], error) {
	b, err := typed[T](m, "Cell")
	if err != nil {
		return nil, err
	}
	switch c := b.core.(type) {
	case *rnn.Cell[T]:
		return c, nil
	case *rnn.Model[T]:
		return nil, fmt.Errorf("the model %s is %s, not a cell: take it with RNN", under(m.Prefix), c.Config())
	}
	return nil, fmt.Errorf("the model %s has no recurrent module: take it with Sequential", under(m.Prefix))
}

// Sequential returns the whole model (Model.Layers) as package rnn runs it, sharing m's
// recurrent module. T must be the type m computes in, as for RNN. The error says why
// there is none: m computes in the other type, or the model around the recurrent module
// is not known.
func Sequential[T rnn.Float](m *Model) (*rnn.Sequential[T], error) {
	b, err := typed[T](m, "Sequential")
	if err != nil {
		return nil, err
	}
	if b.seq == nil {
		return nil, fmt.Errorf("the model around %s is not known: %w", subject(m.Prefix), m.layersErr)
	}
	return b.seq, nil
}

// Forward runs the model on x with initial states h0 and c0 (nil for zeros; an LSTM takes
// both or neither, as nn.LSTM its tuple (h0, c0)) and returns the output, h_n and, for an
// LSTM, c_n, as tensors of the model's dtype. x, h0 and c0 may have any floating-point
// dtype: their values are converted to the model's (an F64 input of an F32 model is
// rounded to float32), where nn.LSTM would refuse an input of another dtype than its own.
//
// For a cell, x is one step, (batch, input_size) or (input_size), as the cell's forward
// takes it, and the output is h' (so is h_n); or x is a sequence (steps, batch,
// input_size) that the cell steps through, feeding back its state, and the output holds
// h after every step, (steps, batch, hidden_size), h_n the last.
//
// When m runs whole (Model.Whole), x is the whole model's input (int64 token ids for a
// first Embedding) and there are no initial states; h_n and c_n are returned when the
// last layer is recurrent, as PyTorch's Sequential returns that module's tuple.
func (m *Model) Forward(x, h0, c0 *pickle.Tensor) (output, hn, cn *pickle.Tensor, err error) {
	return m.ForwardContext(context.Background(), x, h0, c0)
}

// ForwardContext is Forward, stopped once ctx is done, as rnn's ForwardContext stops
// (between time steps, and between a cell's steps and a whole model's layers): the error
// then wraps ctx.Err().
func (m *Model) ForwardContext(ctx context.Context, x, h0, c0 *pickle.Tensor) (output, hn, cn *pickle.Tensor, err error) {
	if m == nil || (m.b32 == nil && m.b64 == nil) {
		return nil, nil, nil, errors.New("convert: Forward on a Model not made by Load")
	}
	if err := m.checkOutput(x); err != nil {
		return nil, nil, nil, err
	}
	if m.b64 != nil {
		return forward(ctx, m, m.b64, x, h0, c0, (*pickle.Tensor).Float64s, pickle.F64)
	}
	return forward(ctx, m, m.b32, x, h0, c0, (*pickle.Tensor).Float32s, pickle.F32)
}

// stored is the size of the storage under t: the bytes it really holds.
func stored(t *pickle.Tensor) int64 {
	if t.Storage == nil {
		return 0
	}
	return t.Storage.Len * int64(t.Storage.DType.Size())
}

// isInteger reports the dtypes of token ids.
func isInteger(d pickle.DType) bool {
	switch d {
	case pickle.I64, pickle.I32, pickle.I16, pickle.I8, pickle.U8, pickle.U16, pickle.U32, pickle.U64:
		return true
	}
	return false
}

// CheckInput charges a Forward on an input of the given shape and dtype that no file
// holds (one the caller makes, as a benchmark does) against Options.OutputLimit, before
// anything is allocated: it returns the *pickle.LimitError of Limit LimitOutput such a
// Forward would return, or nil; or the error of a Model whose fields were changed. A shape whose element count overflows is past any limit;
// a shape with a negative dimension is an error of its own, as rnn's.
func (m *Model) CheckInput(shape []int, dtype pickle.DType) error {
	if slices.ContainsFunc(shape, func(d int) bool { return d < 0 }) {
		return fmt.Errorf("convert: input has a negative dimension in shape %v", shape)
	}
	x := &pickle.Tensor{DType: dtype, Shape: shape}
	if m.outputLimit >= 0 && x.NumElements() == 0 && !slices.Contains(shape, 0) {
		limit := m.outputLimit
		if limit == 0 {
			limit = max(outputFloor, outputFactor*m.weightBytes)
		}
		return &pickle.LimitError{Limit: LimitOutput, Need: math.MaxInt64, Max: limit,
			Msg: fmt.Sprintf("running the model on an input of shape %v would compute more elements than an int counts, more than the limit of %d bytes", shape, limit)}
	}
	return m.checkOutput(x)
}

// checkOutput charges Forward on x against Options.OutputLimit, before any work, once
// m's fields are found unchanged.
func (m *Model) checkOutput(x *pickle.Tensor) error {
	if err := m.changed(); err != nil {
		return err
	}
	if x == nil || m.outputLimit < 0 {
		return nil
	}
	elem := int64(4)
	if m.b64 != nil {
		elem = 8
	}
	rows := int64(x.NumElements())
	if len(x.Shape) > 0 && x.Shape[len(x.Shape)-1] > 0 && !isInteger(x.DType) {
		rows /= int64(x.Shape[len(x.Shape)-1])
	}
	limit := m.outputLimit
	if limit == 0 {
		limit = outputFloor
		limit = max(limit, outputFactor*(stored(x)+m.weightBytes))
	}
	width := max(m.width, 1)
	if rows > 0 && width > limit/elem/rows {
		return &pickle.LimitError{Limit: LimitOutput, Need: rows * width * elem, Max: limit,
			Msg: fmt.Sprintf("running the model on an input of shape %v (%d rows, %d bytes stored) would compute up to %d rows × %d features × %d bytes, more than the limit of %d bytes (max(%d × the bytes of the input's storage and of the model's weights, %d), unless set)",
				x.Shape, rows, stored(x), rows, width, elem, limit, outputFactor, outputFloor)}
	}
	return nil
}

// ErrTokenIDs is wrapped by the error of Forward when a model that runs from its recurrent
// module (not Model.Whole) is given integer input: token ids, which only a whole model
// whose first layer is an Embedding takes (Options.Whole).
var ErrTokenIDs = errors.New("token ids are the input of a whole model that starts with an Embedding")

func forward[T rnn.Float](ctx context.Context, m *Model, b *built[T], x, h0, c0 *pickle.Tensor, values func(*pickle.Tensor) ([]T, error), dt pickle.DType) (output, hn, cn *pickle.Tensor, err error) {
	in := func(t *pickle.Tensor, name string) (*rnn.Tensor[T], error) {
		if t == nil {
			return nil, nil
		}
		v, err := values(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &rnn.Tensor[T]{Data: v, Shape: t.Shape}, nil
	}
	if x == nil {
		return nil, nil, nil, errors.New("no input")
	}
	var r rnn.Result[T]
	if m.Whole {
		if h0 != nil || c0 != nil {
			return nil, nil, nil, errors.New("a whole model starts from zero states: it takes no h0 or c0")
		}
		if err := runWhole(ctx, b, x, in, &r); err != nil {
			return nil, nil, nil, err
		}
	} else {
		switch x.DType {
		case pickle.F64, pickle.F32, pickle.F16, pickle.BF16:
		default:
			return nil, nil, nil, fmt.Errorf("input is %s: a recurrent module's input must be floating point (PyTorch refuses %s); %w", x.DType, x.DType, ErrTokenIDs)
		}
		xs, err := in(x, "input")
		if err != nil {
			return nil, nil, nil, err
		}
		hs, err := in(h0, "h0")
		if err != nil {
			return nil, nil, nil, err
		}
		cs, err := in(c0, "c0")
		if err != nil {
			return nil, nil, nil, err
		}
		switch core := b.core.(type) {
		case *rnn.Model[T]:
			res, err := core.ForwardContext(ctx, xs, hs, cs)
			if err != nil {
				return nil, nil, nil, err
			}
			r = *res
		case *rnn.Cell[T]:
			if err := stepCell(ctx, core, xs, hs, cs, &r); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	if output, err = tensorOf(r.Output, dt); err != nil {
		return nil, nil, nil, err
	}
	if r.H != nil {
		if hn, err = tensorOf(r.H, dt); err != nil {
			return nil, nil, nil, err
		}
	}
	if r.C != nil {
		if cn, err = tensorOf(r.C, dt); err != nil {
			return nil, nil, nil, err
		}
	}
	return output, hn, cn, nil
}

// stepCell runs a cell on one step, or steps it through a 3-D sequence until ctx is done.
func stepCell[T rnn.Float](ctx context.Context, c *rnn.Cell[T], x, h0, c0 *rnn.Tensor[T], r *rnn.Result[T]) error {
	if x == nil || len(x.Shape) != 3 {
		h, cy, err := c.Forward(x, h0, c0)
		if err != nil {
			return err
		}
		r.Output, r.H, r.C = h, h, cy
		return nil
	}
	L, N, in := x.Shape[0], x.Shape[1], x.Shape[2]
	if len(x.Data) != L*N*in {
		return fmt.Errorf("input has %d elements, shape %v needs %d", len(x.Data), x.Shape, L*N*in)
	}
	if L == 0 {
		return errors.New("a sequence of 0 steps")
	}
	h, cy := h0, c0
	var out []T
	done := ctx.Done()
	for t := 0; t < L; t++ {
		select {
		case <-done:
			return fmt.Errorf("step %d of %d: %w", t, L, ctx.Err())
		default:
		}
		xt := &rnn.Tensor[T]{Data: x.Data[t*N*in : (t+1)*N*in], Shape: []int{N, in}}
		var err error
		if h, cy, err = c.Forward(xt, h, cy); err != nil {
			return fmt.Errorf("step %d: %w", t, err)
		}
		out = append(out, h.Data...)
	}
	r.Output = &rnn.Tensor[T]{Data: out, Shape: []int{L, N, c.Config().HiddenSize}}
	r.H, r.C = h, cy
	return nil
}

// runWhole runs the whole model on x; a last recurrent layer gives h_n and c_n too.
func runWhole[T rnn.Float](ctx context.Context, b *built[T], x *pickle.Tensor, in func(*pickle.Tensor, string) (*rnn.Tensor[T], error), r *rnn.Result[T]) error {
	var y *rnn.Tensor[T]
	var err error
	if _, ok := b.layers[0].(*rnn.Embedding[T]); ok {
		ids, err := x.Int64s()
		if err != nil {
			return fmt.Errorf("input: the model starts with an Embedding, which takes integer ids: %w", err)
		}
		if y, err = b.front.ForwardIndicesContext(ctx, &rnn.Tensor[int64]{Data: ids, Shape: x.Shape}); err != nil {
			return err
		}
	} else {
		if isInteger(x.DType) || x.DType == pickle.BOOL {
			return fmt.Errorf("input is %s: a model whose first layer is not an Embedding takes floating point (PyTorch refuses %s)", x.DType, x.DType)
		}
		if y, err = in(x, "input"); err != nil {
			return err
		}
		if b.front != nil {
			if y, err = b.front.ForwardContext(ctx, y); err != nil {
				return err
			}
		}
	}
	switch last := b.last.(type) {
	case *rnn.Model[T]:
		res, err := last.ForwardContext(ctx, y, nil, nil)
		if err != nil {
			return err
		}
		*r = *res
	case *rnn.Cell[T]:
		return stepCell(ctx, last, y, nil, nil, r)
	default:
		r.Output = y
	}
	return nil
}

// TensorOf returns the values of t, a tensor a Go port computed or built, as a
// C-contiguous little-endian tensor of package pickle, which Export writes and
// parity.Compare reads: of dtype F32 for float32 elements, F64 for float64 and I64 for
// int64 (token ids). The values are copied. It is an error when t is nil or its Data does
// not hold the product of its Shape.
func TensorOf[T rnn.Elem](t *rnn.Tensor[T]) (*pickle.Tensor, error) {
	if t == nil {
		return nil, errors.New("convert: TensorOf a nil tensor")
	}
	half, tiny := 0.5, 1e-10 // variables: T may be an integer type
	switch {
	case T(half) == 0: // int64
		b := make([]byte, 0, 8*len(t.Data))
		for _, x := range t.Data {
			b = binary.LittleEndian.AppendUint64(b, uint64(int64(x)))
		}
		return pickle.NewTensor(pickle.I64, t.Shape, b)
	case T(1)+T(tiny) != T(1): // float64 keeps what float32 rounds off
		return tensorOf(t, pickle.F64)
	default:
		return tensorOf(t, pickle.F32)
	}
}

// tensorOf encodes an rnn tensor as a little-endian pickle tensor of dtype dt, F32 or F64.
func tensorOf[T rnn.Elem](t *rnn.Tensor[T], dt pickle.DType) (*pickle.Tensor, error) {
	var b []byte
	switch dt {
	case pickle.F64:
		b = make([]byte, 0, 8*len(t.Data))
		for _, x := range t.Data {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(x)))
		}
	default:
		b = make([]byte, 0, 4*len(t.Data))
		for _, x := range t.Data {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(x)))
		}
	}
	return pickle.NewTensor(dt, t.Shape, b)
}
