package rnn

import (
	"context"
	"fmt"
	"reflect"
	"strings"
)

// Layer is a module a Sequential runs: *Embedding, *Linear, *LayerNorm, *Dropout,
// *Activation, *Model or *Cell of the same element type. The set is closed; a type
// switch on Sequential.Layers finds the layers and their configurations.
type Layer[T Float] interface {
	// apply computes the layer on x (ids for an Embedding) into the buffers of sl and
	// returns the result, which may be x itself.
	// A recurrent network stops once ctx is done.
	apply(ctx context.Context, sl *slot[T], x *Tensor[T], ids *Tensor[int64]) (*Tensor[T], error)
	// widths returns the number of features (the size of the last dimension) the layer
	// takes and gives; 0 means any, or the number it takes.
	widths() (takes, gives int)
	// describe names the layer as PyTorch prints the module.
	describe() string
	// made reports whether the layer was made by its constructor (false for a nil
	// pointer, and for a zero value unless it is ready to run).
	made() bool
}

// slot holds the buffers of one layer of a Sequential: fresh for Forward, kept from step
// to step by a Stream.
type slot[T Float] struct {
	out   Tensor[T]
	rows  rowScratch[T]
	state *State[T] // a recurrent layer's state in a Stream
}

// output returns the slot's output tensor with n values and the shape lead, followed by
// last unless it is negative. It reuses the slot's memory.
func (sl *slot[T]) output(n int, lead []int, last int) *Tensor[T] {
	sl.out.Data = grow(sl.out.Data, n)
	sl.out.Shape = append(sl.out.Shape[:0], lead...)
	if last >= 0 {
		sl.out.Shape = append(sl.out.Shape, last)
	}
	return &sl.out
}

// In a Sequential, a recurrent module passes on its output and keeps its final state to
// itself, as the forward of the modules that hold an nn.LSTM between an nn.Embedding and
// an nn.Linear does (out, h = self.rnn(x, h); return self.fc(out)).

func (m *Model[T]) made() bool { return m != nil && m.o != nil }

func (m *Model[T]) apply(ctx context.Context, sl *slot[T], x *Tensor[T], _ *Tensor[int64]) (*Tensor[T], error) {
	if sl != nil && sl.state != nil {
		return sl.state.Step(x)
	}
	res, err := m.ForwardContext(ctx, x, nil, nil)
	if err != nil {
		return nil, err
	}
	return res.Output, nil
}

func (m *Model[T]) widths() (takes, gives int) {
	return m.cfg.InputSize, m.cfg.directions() * m.cfg.outSize()
}

func (m *Model[T]) describe() string { return m.cfg.String() }

// A cell in a Sequential computes one step: from zeros in Forward, from the previous
// step's state in a Stream.

func (c *Cell[T]) made() bool { return c != nil && c.m != nil }

func (c *Cell[T]) apply(_ context.Context, sl *slot[T], x *Tensor[T], _ *Tensor[int64]) (*Tensor[T], error) {
	if sl != nil && sl.state != nil {
		return sl.state.Step(x)
	}
	h, _, err := c.Forward(x, nil, nil)
	return h, err
}

func (c *Cell[T]) widths() (takes, gives int) { return c.cfg.InputSize, c.cfg.HiddenSize }

func (c *Cell[T]) describe() string { return c.cfg.String() }

// Sequential runs layers one after the other, as torch.nn.Sequential does, passing each
// layer's output to the next. A recurrent layer (Model, Cell) passes on its output alone:
// what PyTorch's own Sequential cannot do with an nn.LSTM, whose (output, state) tuple
// would reach the next module, but what the custom modules of char-level models do. A
// Sequential is immutable and safe for concurrent use.
type Sequential[T Float] struct {
	layers []Layer[T]
}

// NewSequential returns the Sequential of the given layers, each made by its constructor
// (a nil layer, typed or not, is an error). An Embedding may only be the first layer.
// Where both are known, the number of features each layer gives must be what the next
// takes.
func NewSequential[T Float](layers ...Layer[T]) (*Sequential[T], error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("rnn: a Sequential needs at least one layer")
	}
	width, from, fromIdx := 0, "", 0 // the features given, by layer fromIdx
	for i, l := range layers {
		if l == nil || reflect.ValueOf(l).IsNil() { // every Layer is a pointer
			return nil, fmt.Errorf("rnn: Sequential: layer %d is nil", i)
		}
		if !l.made() {
			return nil, fmt.Errorf("rnn: Sequential: layer %d, a zero %T, was not made by its constructor", i, l)
		}
		if _, ok := l.(*Embedding[T]); ok && i > 0 {
			return nil, fmt.Errorf("rnn: Sequential: layer %d is an Embedding, which takes indices: only the first layer may be one", i)
		}
		takes, gives := l.widths()
		if takes != 0 && width != 0 && takes != width {
			return nil, fmt.Errorf("rnn: Sequential: layer %d, %s, takes %d features, but layer %d, %s, gives %d", i, l.describe(), takes, fromIdx, from, width)
		}
		if gives != 0 {
			width, from, fromIdx = gives, l.describe(), i
		}
	}
	return &Sequential[T]{layers: append([]Layer[T](nil), layers...)}, nil
}

// Layers returns the layers of s, in order.
func (s *Sequential[T]) Layers() []Layer[T] { return append([]Layer[T](nil), s.layers...) }

// String describes s as PyTorch prints a module, on one line: Sequential(Embedding(65,
// 32), LSTM(32, 128), Linear(in_features=128, out_features=65, bias=True)).
func (s *Sequential[T]) String() string {
	var b strings.Builder
	b.WriteString("Sequential(")
	for i, l := range s.layers {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.describe())
	}
	b.WriteString(")")
	return b.String()
}

// Forward runs the layers on x; the first layer must not be an Embedding (see
// ForwardIndices). Recurrent layers start from zero states. The result is in a new tensor,
// or is x itself when every layer is a Dropout.
func (s *Sequential[T]) Forward(x *Tensor[T]) (*Tensor[T], error) {
	return s.forward(context.Background(), nil, x, nil)
}

// ForwardContext is Forward, stopped once ctx is done: between layers, and inside a
// recurrent network as Model.ForwardContext stops. The error then wraps ctx.Err().
func (s *Sequential[T]) ForwardContext(ctx context.Context, x *Tensor[T]) (*Tensor[T], error) {
	return s.forward(ctx, nil, x, nil)
}

// ForwardIndices runs the layers on the indices ids, which the first layer, an Embedding,
// looks up.
func (s *Sequential[T]) ForwardIndices(ids *Tensor[int64]) (*Tensor[T], error) {
	return s.forward(context.Background(), nil, nil, ids)
}

// ForwardIndicesContext is ForwardIndices, stopped once ctx is done, as ForwardContext.
func (s *Sequential[T]) ForwardIndicesContext(ctx context.Context, ids *Tensor[int64]) (*Tensor[T], error) {
	return s.forward(ctx, nil, nil, ids)
}

// forward runs the layers with the slots of a Stream, or fresh slots when slots is nil,
// until ctx is done.
func (s *Sequential[T]) forward(ctx context.Context, slots []slot[T], x *Tensor[T], ids *Tensor[int64]) (*Tensor[T], error) {
	if s == nil || len(s.layers) == 0 {
		return nil, fmt.Errorf("rnn: Forward on a Sequential not made by NewSequential")
	}
	_, embedding := s.layers[0].(*Embedding[T])
	switch {
	case embedding && ids == nil:
		return nil, fmt.Errorf("rnn: Sequential: the first layer is an Embedding: give it indices")
	case !embedding && ids != nil:
		return nil, fmt.Errorf("rnn: Sequential: the first layer, %s, takes values, not indices", s.layers[0].describe())
	}
	for i, l := range s.layers {
		var sl *slot[T]
		if slots != nil {
			sl = &slots[i]
		} else {
			sl = new(slot[T])
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("rnn: Sequential stopped before layer %d, %s: %w", i, l.describe(), err)
		}
		y, err := l.apply(ctx, sl, x, ids)
		if err != nil {
			return nil, fmt.Errorf("%w (in layer %d, %s)", err, i, l.describe())
		}
		x, ids = y, nil
	}
	return x, nil
}

// Stream is a Sequential run over a sequence a few time steps at a time, with the states
// of its recurrent layers kept from one Step to the next: the same results, to the bit,
// as Forward over the whole sequence. Once its buffers have grown to the size of a step
// (the first call), Step allocates nothing. A Stream belongs to one goroutine at a time.
type Stream[T Float] struct {
	seq    *Sequential[T]
	slots  []slot[T]
	states []*State[T]
	// batchFirst tells where time is in the tensors between the layers: dimension 1 of a
	// 3-D tensor when the first recurrent network is batch_first, else dimension 0; -1
	// when the recurrent layers are cells or there are none (each Step is then complete).
	batchFirst int
}

// NewStream returns a Stream of s for batches of n sequences, its recurrent layers in
// their zero states. Layers that cannot be stepped (a bidirectional network) give an error
// wrapping ErrNotStreamable; so does, at the first Step, a Softmax, LogSoftmax or LayerNorm
// over the time dimension.
func (s *Sequential[T]) NewStream(n int) (*Stream[T], error) {
	if s == nil || len(s.layers) == 0 {
		return nil, fmt.Errorf("rnn: NewStream on a Sequential not made by NewSequential")
	}
	st := &Stream[T]{seq: s, slots: make([]slot[T], len(s.layers)), batchFirst: -1}
	for i, l := range s.layers {
		var err error
		switch l := l.(type) {
		case *Model[T]:
			st.slots[i].state, err = l.NewState(n)
			if st.batchFirst < 0 {
				st.batchFirst = 0
				if l.cfg.BatchFirst {
					st.batchFirst = 1
				}
			}
		case *Cell[T]:
			st.slots[i].state, err = l.NewState(n)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w (in layer %d, %s)", err, i, l.describe())
		}
		st.states = append(st.states, st.slots[i].state)
	}
	return st, nil
}

// States returns the states of the recurrent layers, in order.
func (st *Stream[T]) States() []*State[T] { return append([]*State[T](nil), st.states...) }

// Reset sets every recurrent state to zeros, to start a new sequence.
func (st *Stream[T]) Reset() {
	for _, s := range st.states {
		s.Reset()
	}
}

// Step runs the next steps: x holds them in the layout of the Sequential's input (for a
// recurrent network, (L, n, features), (n, L, features) with batch_first, or (L,
// features) for n = 1; for a cell, one step). The output, in the layout of Forward's, is
// held by the Stream and overwritten by the next Step.
func (st *Stream[T]) Step(x *Tensor[T]) (*Tensor[T], error) {
	if err := st.check(x.rank()); err != nil {
		return nil, err
	}
	return st.seq.forward(context.Background(), st.slots, x, nil)
}

// StepIndices is Step for a Sequential whose first layer is an Embedding: ids holds the
// next steps' indices, (L, n), (n, L) with batch_first, or (L) for n = 1 (for a cell, one
// step: (n), or a single index of shape (1) or ()).
func (st *Stream[T]) StepIndices(ids *Tensor[int64]) (*Tensor[T], error) {
	r := ids.rank()
	if r >= 0 {
		r++ // the embedding's output has one more dimension
	}
	if err := st.check(r); err != nil {
		return nil, err
	}
	return st.seq.forward(context.Background(), st.slots, nil, ids)
}

// check refuses the layers that mix time steps, for tensors of nd dimensions between the
// layers (nd < 0: the input is nil, which the layers report).
func (st *Stream[T]) check(nd int) error {
	if st == nil || st.seq == nil {
		return fmt.Errorf("rnn: Step on a Stream not made by NewStream")
	}
	if st.batchFirst < 0 || nd < 0 {
		return nil
	}
	time := 0
	if st.batchFirst == 1 && nd == 3 {
		time = 1
	}
	for i, l := range st.seq.layers {
		mixes := false
		switch l := l.(type) {
		case *Activation[T]:
			if l.f >= Softmax {
				d, err := l.softmaxDim(nd)
				mixes = err == nil && d == time
			}
		case *LayerNorm[T]:
			mixes = l.reduced(nd) <= time
		}
		if mixes {
			return fmt.Errorf("%w: layer %d, %s, mixes the time steps of its input (dimension %d of %d)", ErrNotStreamable, i, l.describe(), time, nd)
		}
	}
	return nil
}

// rank returns the number of dimensions of t, or -1 for nil.
func (t *Tensor[T]) rank() int {
	if t == nil {
		return -1
	}
	return len(t.Shape)
}
