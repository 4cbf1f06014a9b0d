package parity

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// Compare compares a result a port computed with its reference tensor want (read from
// the file a notebook exported), by Check's rules: every element within tol (nil:
// DefaultTolerance of got's and want's dtypes), or, for a result computed below float64,
// given its float64 truth (Truth, or the same computation in float64 from the same
// weights and inputs; nil for none), the truth rule with the floor and without a measured
// noise. name names the tensor in the report. A tol whose parts are not finite numbers,
// zero or more, compares nothing (RuleShape, its Reason says why).
//
// A port checks its whole model this way, from token ids to logits, in a Go test:
//
//	m, _ := convert.Load(cp, convert.Options{Whole: true})
//	truth, _ := parity.Truth(ctx, cp, m, ids, nil, nil)
//	want, _ := ref.Tensor("output")
//	rep := parity.NewReport(parity.Compare("logits", got, want, truth.Output, nil))
//	if !rep.Pass { t.Error(rep) }
func Compare[T rnn.Float](name string, got *rnn.Tensor[T], want *pickle.Tensor, truth *rnn.Tensor[float64], tol *Tolerance) TensorReport {
	dt := pickle.F32
	var z T
	if _, ok := any(z).(float64); ok {
		dt = pickle.F64
	}
	tr := TensorReport{Name: name, Entry: name}
	if want == nil {
		tr.Rule, tr.Reason = RuleShape, "the reference has no such tensor"
		return tr
	}
	tr.Shape, tr.DType = want.Shape, want.DType
	if tol != nil {
		tr.Tolerance = *tol
	} else {
		tr.Tolerance = DefaultTolerance(dt, want.DType)
	}
	if err := tr.Tolerance.check(); err != nil {
		// Nothing compared, and the report keeps a JSON form.
		tr.Rule, tr.Reason, tr.Tolerance = RuleShape, err.Error(), Tolerance{}
		return tr
	}
	if got == nil || !slices.Equal(got.Shape, want.Shape) || len(got.Data) != numel(got.Shape) {
		var shape []int
		if got != nil {
			shape = got.Shape
		}
		tr.shapeMismatch(shape)
		return tr
	}
	w, err := want.Float64s()
	if err != nil {
		tr.Rule, tr.Reason = RuleShape, fmt.Sprintf("the reference tensor cannot be read: %v", err)
		return tr
	}
	g := make([]float64, len(got.Data))
	for i, v := range got.Data {
		g[i] = float64(v)
	}
	tr.measure(g, w)
	if truth != nil {
		if !slices.Equal(truth.Shape, want.Shape) || len(truth.Data) != len(w) {
			tr.Pass, tr.Rule = false, RuleShape
			tr.Reason = fmt.Sprintf("the truth has shape %v, the reference %v", truth.Shape, want.Shape)
			return tr
		}
		tr.measureTruth(truth.Data)
		if !tr.Pass && dt != pickle.F64 {
			tr.judgeTruth()
		}
	}
	return tr
}

// NewReport gathers comparisons into a report with Check's verdict.
func NewReport(tensors ...TensorReport) *Report {
	r := &Report{Pass: len(tensors) > 0, Rule: RuleTolerance, Tensors: tensors, Diagnosis: []Mistake{}}
	for _, t := range tensors {
		r.MaxAbsErr = max(r.MaxAbsErr, t.MaxAbsErr)
		r.MaxRelErr = max(r.MaxRelErr, t.MaxRelErr)
		switch {
		case !t.Pass && r.Pass:
			r.Pass, r.Rule = false, t.Rule
		case t.Pass && t.Rule == RuleTruth && r.Pass:
			r.Rule = RuleTruth
		}
	}
	return r
}

// Truth computes the float64 truth of m, a model convert.Load loaded from cp, at x, h0
// and c0 as m.Forward takes them (nil states: zeros): the model computed again in float64
// from cp's weights by this package's own code (gonum's BLAS for the matrix products),
// independent of package rnn's kernels, as Check computes it to judge Go and the
// reference. When m runs whole (convert.Options.Whole), x is the whole model's input,
// token ids for a first Embedding, and it takes no states; the truth covers every layer.
// The result holds the output, and h_n and c_n where m.Forward gives them (nil
// otherwise), in the shapes m.Forward gives them. Its tensors are what Compare takes as a
// port's truth.
//
// cp must be the checkpoint m was loaded from: a parameter of m that cp does not hold, or
// holds in another shape, is an error, and so are the errors m.CheckInput gives for x (a
// Model whose fields were changed, an input past Options.OutputLimit). The inputs are judged as Check judges a
// reference's: a recurrent module's input and states must be floating point, and an
// LSTM's h0 needs its c0.
func Truth(ctx context.Context, cp *convert.Checkpoint, m *convert.Model, x, h0, c0 *pickle.Tensor) (*rnn.Result[float64], error) {
	switch {
	case cp == nil:
		return nil, errors.New("parity: Truth of a nil Checkpoint")
	case m == nil || !m.Whole && m.Config.Validate() != nil:
		return nil, errors.New("parity: Truth of a Model not made by convert.Load")
	}
	if x == nil {
		return nil, errors.New("parity: Truth: no input")
	}
	if err := m.CheckInput(x.Shape, x.DType); err != nil {
		return nil, fmt.Errorf("parity: Truth: %w", err)
	}
	tm, err := truthModel(cp, m)
	if err != nil {
		return nil, err
	}
	switch {
	case m.Whole && (h0 != nil || c0 != nil):
		return nil, errors.New("parity: Truth: a whole model starts from zero states: it takes no h0 or c0")
	case !m.Whole && !floating(x.DType):
		return nil, fmt.Errorf("parity: Truth: the input is %s: a recurrent module's input must be floating point", x.DType)
	case h0 == nil && c0 != nil:
		return nil, errors.New("parity: Truth: c0 without h0")
	case m.Config.Mode == rnn.LSTM && h0 != nil && c0 == nil:
		return nil, errors.New("parity: Truth: h0 without c0: an LSTM takes its initial state as (h0, c0)")
	}
	in, err := tm.readInput(x)
	if err != nil {
		return nil, fmt.Errorf("parity: Truth: input: %w", err)
	}
	var hs, cs []float64
	for _, s := range []struct {
		t *pickle.Tensor
		v *[]float64
	}{{h0, &hs}, {c0, &cs}} {
		if s.t == nil {
			continue
		}
		if !floating(s.t.DType) {
			return nil, fmt.Errorf("parity: Truth: a state is %s: states must be floating point", s.t.DType)
		}
		if *s.v, err = s.t.Float64s(); err != nil {
			return nil, fmt.Errorf("parity: Truth: %w", err)
		}
	}
	r, err := tm.forward(ctx, in, hs, cs, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("parity: Truth: %w", err)
	}
	res := &rnn.Result[float64]{Output: &rnn.Tensor[float64]{Data: r.output, Shape: r.outShape}}
	if r.hn != nil {
		res.H = &rnn.Tensor[float64]{Data: r.hn, Shape: r.hShape}
	}
	if r.cn != nil {
		res.C = &rnn.Tensor[float64]{Data: r.cn, Shape: r.cShape}
	}
	return res, nil
}
