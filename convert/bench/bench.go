package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// Result is the time one forward pass of a model takes.
type Result struct {
	// NsPerForward is the median time of one forward pass, in nanoseconds.
	NsPerForward float64 `json:"ns_per_forward"`
	// MinNs and MaxNs are the fastest and slowest pass.
	MinNs      float64           `json:"min_ns"`
	MaxNs      float64           `json:"max_ns"`
	Iterations int               `json:"iterations"`
	Seq        int               `json:"seq"`
	Batch      int               `json:"batch"`
	Model      convert.ModelInfo `json:"model"`
}

// Forward times m's forward pass (the model alone, not file input or output) on random
// input of seq steps and batch sequences (batch 0: one unbatched sequence), after one
// warm-up pass, for at least minTime and at least 5 passes, and reports the median. A
// cell steps through the seq steps, from a State; a whole model (Model.Whole) runs from
// its input, random token ids for a first Embedding. The work is charged against the
// model's Options.OutputLimit before the input is made (Model.CheckInput).
//
// Forward stops once ctx is done, within a pass (between its time steps, as
// rnn.Model.ForwardContext does) or between passes, returning an error that wraps
// ctx.Err().
// Its memory does not grow with the number of passes: the median is that of a uniform
// sample of at most 65536 of them (all of them when there are fewer), the fastest and the
// slowest are those of every pass.
func Forward(ctx context.Context, m *convert.Model, seq, batch int, minTime time.Duration) (*Result, error) {
	if seq < 1 || batch < 0 {
		return nil, fmt.Errorf("bench: seq must be >= 1 and batch >= 0, got seq %d batch %d", seq, batch)
	}
	// What a pass computes is charged before its input is made: rows of seq × batch
	// steps, whatever the kind of model (Model.CheckInput).
	dt := pickle.F32
	if m.DType == pickle.F64 {
		dt = pickle.F64
	}
	if err := m.CheckInput(shape(m.Config, seq, batch, max(m.Config.InputSize, 1)), dt); err != nil {
		return nil, fmt.Errorf("bench: seq %d, batch %d: %w", seq, batch, err)
	}
	var run func(context.Context) error
	var err error
	if m.DType == pickle.F64 {
		run, err = runner[float64](m, seq, batch)
	} else {
		run, err = runner[float32](m, seq, batch)
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench: not started: %w", err)
	}
	sm := newSampler(maxSamples)
	// stopped is the error of a stop, once ctx is done, or nil.
	stopped := func() error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bench: stopped after %d passes: %w", sm.n, err)
		}
		return nil
	}
	if err := run(ctx); err != nil { // the warm-up pass
		if stop := stopped(); stop != nil {
			return nil, stop
		}
		return nil, err
	}
	start := time.Now()
	for sm.n < 5 || time.Since(start) < minTime {
		if stop := stopped(); stop != nil {
			return nil, stop
		}
		t0 := time.Now()
		if err := run(ctx); err != nil {
			if stop := stopped(); stop != nil {
				return nil, stop
			}
			return nil, err
		}
		sm.add(float64(time.Since(t0).Nanoseconds()))
	}
	return &Result{NsPerForward: sm.median(), MinNs: sm.min, MaxNs: sm.max,
		Iterations: sm.n, Seq: seq, Batch: batch, Model: m.Info()}, nil
}

// maxSamples is the number of pass times Forward keeps for the median.
const maxSamples = 1 << 16

// sampler keeps a uniform sample of at most cap(kept) of the values added to it
// (reservoir sampling), with their count, least and greatest.
type sampler struct {
	kept     []float64
	n        int
	min, max float64
	rng      *rand.Rand
}

func newSampler(size int) *sampler {
	return &sampler{kept: make([]float64, 0, size), rng: rand.New(rand.NewPCG(3, 4))}
}

func (s *sampler) add(v float64) {
	if s.n == 0 || v < s.min {
		s.min = v
	}
	if s.n == 0 || v > s.max {
		s.max = v
	}
	s.n++
	if len(s.kept) < cap(s.kept) {
		s.kept = append(s.kept, v)
	} else if i := s.rng.IntN(s.n); i < len(s.kept) {
		s.kept[i] = v
	}
}

// median returns the median of the kept values (the mean of the middle two of an even
// count); it sorts them.
func (s *sampler) median() float64 {
	k := s.kept
	slices.Sort(k)
	med := k[len(k)/2]
	if len(k)%2 == 0 {
		med = (k[len(k)/2-1] + med) / 2
	}
	return med
}

// runner returns a function that runs one pass of the model m is in T, stopping between
// time steps once its context is done.
func runner[T rnn.Float](m *convert.Model, seq, batch int) (func(context.Context) error, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	var run func(context.Context) error
	if !m.Whole {
		if r, err := convert.RNN[T](m); err == nil {
			x := random[T](rng, shape(m.Config, seq, batch, m.Config.InputSize))
			run = func(ctx context.Context) error { _, err := r.ForwardContext(ctx, x, nil, nil); return err }
		} else if c, err := convert.Cell[T](m); err == nil {
			step, err := stepper(c, rng, seq, batch)
			if err != nil {
				return nil, err
			}
			run = step
		}
	} else {
		s, err := convert.Sequential[T](m)
		if err != nil {
			return nil, err
		}
		if run, err = wholeRunner(s, m.Config, rng, seq, batch); err != nil {
			return nil, err
		}
	}
	if run == nil {
		return nil, fmt.Errorf("bench: the model at %q has nothing to run", m.Prefix)
	}
	return run, nil
}

// shape is the shape of the input of seq steps and batch sequences of width features
// in c's layout (batch 0: unbatched).
func shape(c rnn.Config, seq, batch, width int) []int {
	switch {
	case batch == 0:
		return []int{seq, width}
	case c.BatchFirst:
		return []int{batch, seq, width}
	}
	return []int{seq, batch, width}
}

func random[T rnn.Float](rng *rand.Rand, shape []int) *rnn.Tensor[T] {
	n := 1
	for _, d := range shape {
		n *= d
	}
	x := &rnn.Tensor[T]{Data: make([]T, n), Shape: shape}
	for i := range x.Data {
		x.Data[i] = T(rng.Float64()*2 - 1)
	}
	return x
}

// stepper returns a pass of a cell over seq steps from the zero state.
func stepper[T rnn.Float](c *rnn.Cell[T], rng *rand.Rand, seq, batch int) (func(context.Context) error, error) {
	in := c.Config().InputSize
	st, err := c.NewState(max(batch, 1))
	if err != nil {
		return nil, err
	}
	step := []int{batch, in}
	if batch == 0 {
		step = []int{in}
	}
	xs := make([]*rnn.Tensor[T], seq)
	for i := range xs {
		xs[i] = random[T](rng, step)
	}
	return func(ctx context.Context) error {
		st.Reset()
		for _, x := range xs {
			if _, err := st.StepContext(ctx, x); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// wholeRunner returns a pass of a whole model over seq steps: token ids for a first
// Embedding, values otherwise; a model of cells steps through them in a Stream.
func wholeRunner[T rnn.Float](s *rnn.Sequential[T], c rnn.Config, rng *rand.Rand, seq, batch int) (func(context.Context) error, error) {
	layers := s.Layers()
	cells := false
	for _, l := range layers {
		_, ok := l.(*rnn.Cell[T])
		cells = cells || ok
	}
	emb, _ := layers[0].(*rnn.Embedding[T])
	var width int
	switch l := layers[0].(type) {
	case *rnn.Linear[T]:
		width = l.Config().InFeatures
	case *rnn.Model[T]:
		width = l.Config().InputSize
	case *rnn.Cell[T]:
		width = l.Config().InputSize
	case *rnn.LayerNorm[T]:
		ns := l.Config().NormalizedShape
		width = ns[len(ns)-1]
	default:
		width = c.InputSize
	}
	if emb == nil && width == 0 {
		return nil, fmt.Errorf("bench: the width of the input of %s is not known", s)
	}
	if cells {
		st, err := s.NewStream(max(batch, 1))
		if err != nil {
			return nil, err
		}
		// One step: (batch) ids or (batch, width) values; () or (width) unbatched.
		idShape, xShape := []int{batch}, []int{batch, width}
		if batch == 0 {
			idShape, xShape = []int{}, []int{width}
		}
		var steps []func() error
		for range seq {
			if emb != nil {
				ids := randomIDs(rng, emb.Config().NumEmbeddings, idShape)
				steps = append(steps, func() error { _, err := st.StepIndices(ids); return err })
			} else {
				x := random[T](rng, xShape)
				steps = append(steps, func() error { _, err := st.Step(x); return err })
			}
		}
		return func(ctx context.Context) error {
			st.Reset()
			for _, step := range steps {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := step(); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	if emb != nil {
		sh := shape(c, seq, batch, 0)
		ids := randomIDs(rng, emb.Config().NumEmbeddings, sh[:len(sh)-1])
		return func(ctx context.Context) error { _, err := s.ForwardIndicesContext(ctx, ids); return err }, nil
	}
	x := random[T](rng, shape(c, seq, batch, width))
	return func(ctx context.Context) error { _, err := s.ForwardContext(ctx, x); return err }, nil
}

func randomIDs(rng *rand.Rand, n int, shape []int) *rnn.Tensor[int64] {
	size := 1
	for _, d := range shape {
		size *= d
	}
	ids := &rnn.Tensor[int64]{Data: make([]int64, size), Shape: shape}
	for i := range ids.Data {
		ids.Data[i] = rng.Int64N(int64(n))
	}
	return ids
}
