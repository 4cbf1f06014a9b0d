package parity

import (
	"fmt"
	"slices"

	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// Compare compares a result a port computed with its reference tensor want (read from
// the file a notebook exported), by Check's rules: every element within tol (nil:
// DefaultTolerance of got's and want's dtypes), or, for a result computed below float64,
// given its float64 truth (the same computation in float64 from the same weights and
// inputs, or nil), the truth rule with the floor and without a measured noise. name
// names the tensor in the report.
//
// A port checks its whole model this way, from token ids to logits, in a Go test:
//
//	want, _ := ref.Tensor("logits")
//	rep := parity.NewReport(parity.Compare("logits", got, want, truth, nil))
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
