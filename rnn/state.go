package rnn

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
)

// ErrNotStreamable is the error, wrapped with the reason, of a model that cannot be run a
// few time steps at a time: a bidirectional network (its reverse direction starts from the
// end of the sequence), or a layer that mixes the values of several time steps.
var ErrNotStreamable = errors.New("rnn: the model cannot be stepped")

// State is the recurrent state of a Model or a Cell between the calls of Step, which runs
// a sequence a few steps at a time, as a service generating text or serving a stream
// does: the same results, to the bit, as one Forward over the whole sequence.
//
// A State belongs to one goroutine at a time; the Model it steps may serve others. Once
// its buffers have grown to the size of a step (the first call), Step allocates nothing.
type State[T Float] struct {
	m    *Model[T]
	cell *Cell[T] // non-nil for a cell's state
	n    int      // batch size
	h, c *Tensor[T]
	// hShape and cShape are the shapes h and c keep.
	hShape, cShape []int
	out            Tensor[T]
	ws             workspace[T]
	job            job[T]
	// saved holds h and c while a StepContext that may be stopped runs.
	saved []T
}

// NewState returns the zero state of the network for batches of n sequences: h is
// (NumLayers, n, P) and, for LSTM, c is (NumLayers, n, HiddenSize), as Forward's h0 and
// c0. A bidirectional network cannot be stepped: the error wraps ErrNotStreamable.
func (m *Model[T]) NewState(n int) (*State[T], error) {
	if !m.made() {
		return nil, fmt.Errorf("rnn: NewState on a Model not made by New")
	}
	c := m.cfg
	if c.Bidirectional {
		return nil, fmt.Errorf("%w: a bidirectional %s reads the sequence from its end", ErrNotStreamable, c.Mode)
	}
	if n < 0 || n > maxDim {
		return nil, fmt.Errorf("rnn: batch size must be in [0, %d], got %d", maxDim, n)
	}
	s := &State[T]{m: m, n: n}
	s.make([]int{c.NumLayers, n, c.outSize()}, []int{c.NumLayers, n, c.HiddenSize}, c.Mode == LSTM)
	return s, nil
}

// keepHelpers gives the State's steps helper goroutines of their own, kept from step to
// step, for the steps whose products are split over the cores (see stepSplit); they end
// when the State is no longer used.
func (s *State[T]) keepHelpers() {
	s.ws.kept = new(stepSplit[T])
	runtime.AddCleanup(s, func(sp *stepSplit[T]) { sp.stop() }, s.ws.kept)
}

// NewState returns the zero state of the cell for batches of n: h and, for LSTMCell, c
// are (n, HiddenSize).
func (c *Cell[T]) NewState(n int) (*State[T], error) {
	if !c.made() {
		return nil, fmt.Errorf("rnn: NewState on a Cell not made by NewCell")
	}
	if n < 0 || n > maxDim {
		return nil, fmt.Errorf("rnn: batch size must be in [0, %d], got %d", maxDim, n)
	}
	s := &State[T]{m: c.m, cell: c, n: n}
	s.make([]int{n, c.cfg.HiddenSize}, []int{n, c.cfg.HiddenSize}, c.cfg.Mode == LSTM)
	return s, nil
}

// make gives s its zero h of shape hShape and, when lstm, its zero c of shape cShape, and
// its helpers.
func (s *State[T]) make(hShape, cShape []int, lstm bool) {
	s.hShape, s.h = hShape, newTensor[T](hShape...)
	if lstm {
		s.cShape, s.c = cShape, newTensor[T](cShape...)
	}
	s.keepHelpers()
}

// H returns the hidden state: after a Step, h_n of the steps so far. Its values may be
// set, for example to an initial state, between calls of Step (copy them into H().Data,
// or give Data another slice of as many values); its shape may not. Step returns an
// error, and changes nothing, when H's Shape is not the shape NewState gave it or its
// Data does not hold that many values. Step writes into the slice Data holds.
func (s *State[T]) H() *Tensor[T] { return s.h }

// C returns the LSTM cell state (nil for the other modes), as H does, under H's rules.
func (s *State[T]) C() *Tensor[T] { return s.c }

// Reset sets the state to zeros, to start a new sequence.
func (s *State[T]) Reset() {
	if s == nil || s.h == nil {
		return
	}
	clear(s.h.Data)
	if s.c != nil {
		clear(s.c.Data)
	}
}

// Step runs the next time steps of the sequence from the state, updates the state and
// returns the output of these steps.
//
// For a Model, x holds one or more steps in the layout of Forward's input: (L, n,
// InputSize), (n, L, InputSize) with BatchFirst, or (L, InputSize) when the state's batch
// size n is 1; the output is Forward's output for these steps, (L, n, P), (n, L, P) or
// (L, P). For a Cell, x is one step as the cell's Forward takes it, (n, InputSize) or
// (InputSize) when n is 1, and the output is h', (n, HiddenSize) or (HiddenSize).
//
// The output is held by the State and overwritten by the next call of Step. A sequence
// given in parts of any lengths gives what Forward (or the cell's Forward, step after
// step) gives for the whole sequence, bit for bit.
func (s *State[T]) Step(x *Tensor[T]) (*Tensor[T], error) {
	return s.StepContext(context.Background(), x)
}

// StepContext is Step, stopped once ctx is done, as Model.ForwardContext stops: it
// returns no output and an error wrapping ctx.Err(), and leaves the state as it was
// before the call (a context that can be done costs a copy of h and c a call).
func (s *State[T]) StepContext(ctx context.Context, x *Tensor[T]) (*Tensor[T], error) {
	if s == nil || s.m == nil {
		return nil, fmt.Errorf("rnn: Step on a State not made by NewState")
	}
	c := s.m.cfg
	L, batched, err := s.checkStep(x)
	if err != nil {
		return nil, err
	}
	if err := checkState(s.h, "the state's h", s.hShape); err != nil {
		return nil, err
	}
	if err := checkState(s.c, "the state's c", s.cShape); err != nil {
		return nil, err
	}
	n, P := s.n, c.outSize()
	out := &s.out
	out.Data = grow(out.Data, L*n*P)
	switch {
	case s.cell != nil && batched:
		out.Shape = append(out.Shape[:0], n, P)
	case s.cell != nil:
		out.Shape = append(out.Shape[:0], P)
	case !batched:
		out.Shape = append(out.Shape[:0], L, P)
	case c.BatchFirst:
		out.Shape = append(out.Shape[:0], n, L, P)
	default:
		out.Shape = append(out.Shape[:0], L, n, P)
	}
	if err := ctx.Err(); err != nil {
		return nil, stopError(c, err)
	}
	if n == 0 {
		return out, nil
	}
	j := &s.job
	*j = job[T]{L: L, N: n, batchFirst: batched && c.BatchFirst && s.cell == nil,
		x: x.Data, out: out.Data, h0: s.h.Data, hn: s.h.Data, done: ctx.Done()}
	if s.c != nil {
		j.c0, j.cn = s.c.Data, s.c.Data
	}
	if j.done != nil {
		s.saved = append(s.saved[:0], s.h.Data...)
		if s.c != nil {
			s.saved = append(s.saved, s.c.Data...)
		}
	}
	ok := s.m.compute(&s.ws, j, 0, n, false)
	*j = job[T]{} // keep no reference to x
	if !ok {
		copy(s.h.Data, s.saved)
		if s.c != nil {
			copy(s.c.Data, s.saved[len(s.h.Data):])
		}
		return nil, stopError(c, ctx.Err())
	}
	return out, nil
}

// checkState reports whether t, the state's h or c (named name), still has the shape
// want and as many values as it needs.
func checkState[T Float](t *Tensor[T], name string, want []int) error {
	if t == nil {
		return nil
	}
	if !slices.Equal(t.Shape, want) {
		return fmt.Errorf("rnn: Step: %s has shape %s, not the shape %s it keeps", name, shapeString(t.Shape), shapeString(want))
	}
	return t.check(name)
}

// checkStep checks the input of Step and returns the number of steps it holds and whether
// it has a batch dimension.
func (s *State[T]) checkStep(x *Tensor[T]) (L int, batched bool, err error) {
	if s.cell != nil {
		n, batched, err := s.cell.checkInput(x)
		if err != nil {
			return 0, false, err
		}
		if batched && n != s.n || !batched && s.n != 1 {
			return 0, false, fmt.Errorf("rnn: Step: input batch size %d, the state's is %d", n, s.n)
		}
		return 1, batched, nil
	}
	c := s.m.cfg
	if err := x.check("input"); err != nil {
		return 0, false, err
	}
	nd := len(x.Shape)
	if nd != 2 && nd != 3 {
		return 0, false, fmt.Errorf("rnn: %s: expected input to be 2-D or 3-D but received %d-D tensor", c.Mode, nd)
	}
	if in := x.Shape[nd-1]; in != c.InputSize {
		return 0, false, fmt.Errorf("rnn: input.size(-1) must be equal to input_size. Expected %d, got %d", c.InputSize, in)
	}
	n := 1
	switch {
	case nd == 2:
		L = x.Shape[0]
	case c.BatchFirst:
		n, L = x.Shape[0], x.Shape[1]
	default:
		L, n = x.Shape[0], x.Shape[1]
	}
	if n != s.n {
		return 0, false, fmt.Errorf("rnn: Step: input batch size %d, the state's is %d", n, s.n)
	}
	if L == 0 {
		return 0, false, fmt.Errorf("rnn: Expected sequence length to be larger than 0 in RNN")
	}
	return L, nd == 3, nil
}
