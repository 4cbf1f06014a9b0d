package parity

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// Tolerance is how far a Go result may be from PyTorch's: an element passes when
// |go - ref| <= Atol + Rtol*|ref|, as torch.testing.assert_close.
type Tolerance struct {
	Atol, Rtol float64
}

// DefaultTolerance is torch.testing's tolerance for float32.
var DefaultTolerance = Tolerance{Atol: 1e-5, Rtol: 1.3e-6}

// TensorReport is the comparison of one output tensor.
type TensorReport struct {
	Name      string  `json:"name"`
	Shape     []int   `json:"shape"`
	MaxAbsErr float64 `json:"max_abs_err"`
	MaxRelErr float64 `json:"max_rel_err"`
	Pass      bool    `json:"pass"`
	// Mismatches counts the elements outside the tolerance.
	Mismatches int `json:"mismatches"`
	// Error says why the tensor could not be compared (its shapes differ); the tensor
	// then fails.
	Error string `json:"error,omitempty"`

	got, want []float64 // kept for the per-step errors
}

// Report is the result of Check.
type Report struct {
	Pass      bool              `json:"pass"`
	MaxAbsErr float64           `json:"max_abs_err"`
	MaxRelErr float64           `json:"max_rel_err"`
	Atol      float64           `json:"atol"`
	Rtol      float64           `json:"rtol"`
	Model     convert.ModelInfo `json:"model"`
	Tensors   []TensorReport    `json:"tensors"`
}

// The names of the tensors in a reference file.
const (
	RefInput  = "input"
	RefH0     = "h0"
	RefC0     = "c0"
	RefOutput = "output"
	RefHN     = "h_n"
	RefCN     = "c_n"
)

// Check runs m on the reference's input (and h0, c0 when present) and compares the
// results with the reference's output, h_n and c_n, each that is present. output is
// required. The error is non-nil only when the reference cannot be used or ctx is done;
// a mismatch is a Report whose Pass is false.
func Check(ctx context.Context, m *convert.Model, ref *convert.Checkpoint, tol Tolerance) (*Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x, ok := ref.Tensor(RefInput)
	if !ok {
		return nil, fmt.Errorf("%s: no tensor named %q (a reference file holds input, output and optionally h0, c0, h_n, c_n)", ref.Path, RefInput)
	}
	if _, ok := ref.Tensor(RefOutput); !ok {
		return nil, fmt.Errorf("%s: no tensor named %q to compare with", ref.Path, RefOutput)
	}
	h0, _ := ref.Tensor(RefH0)
	c0, _ := ref.Tensor(RefC0)
	out, hn, cn, err := m.Forward(x, h0, c0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Path, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &Report{Pass: true, Atol: tol.Atol, Rtol: tol.Rtol, Model: m.Info()}
	for _, c := range []struct {
		name string
		got  *pickle.Tensor
	}{{RefOutput, out}, {RefHN, hn}, {RefCN, cn}} {
		want, ok := ref.Tensor(c.name)
		if !ok {
			continue
		}
		tr, err := compare(c.name, c.got, want, tol)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref.Path, err)
		}
		r.Pass = r.Pass && tr.Pass
		r.MaxAbsErr = max(r.MaxAbsErr, tr.MaxAbsErr)
		r.MaxRelErr = max(r.MaxRelErr, tr.MaxRelErr)
		r.Tensors = append(r.Tensors, tr)
	}
	return r, nil
}

// compare measures got against want. The relative error of an element whose reference
// is zero is not defined and is left out of MaxRelErr; the tolerance still bounds it.
func compare(name string, got, want *pickle.Tensor, tol Tolerance) (TensorReport, error) {
	tr := TensorReport{Name: name, Shape: want.Shape, Pass: true}
	if got == nil {
		tr.Pass, tr.Error = false, "the model produces no "+name
		return tr, nil
	}
	if !slices.Equal(got.Shape, want.Shape) {
		tr.Pass = false
		tr.Error = fmt.Sprintf("shape %v from Go, %v in the reference", got.Shape, want.Shape)
		return tr, nil
	}
	g, err := got.Float64s()
	if err != nil {
		return tr, err
	}
	w, err := want.Float64s()
	if err != nil {
		return tr, fmt.Errorf("%s: %w", name, err)
	}
	for i := range g {
		d := math.Abs(g[i] - w[i])
		ok := d <= tol.Atol+tol.Rtol*math.Abs(w[i]) || (math.IsNaN(g[i]) && math.IsNaN(w[i])) || g[i] == w[i]
		switch {
		case ok && math.IsNaN(d):
			d = 0
		case math.IsNaN(d) || math.IsInf(d, 0):
			d = math.MaxFloat64 // JSON has no infinity; no finite error is larger
		}
		if !ok {
			tr.Pass = false
			tr.Mismatches++
		}
		tr.MaxAbsErr = max(tr.MaxAbsErr, d)
		if w[i] != 0 && !math.IsInf(w[i], 0) {
			tr.MaxRelErr = max(tr.MaxRelErr, d/math.Abs(w[i]))
		}
	}
	tr.got, tr.want = g, w
	return tr, nil
}

// StepErrors returns, for each direction of the model, the largest absolute error of
// the output at each time step: where a port diverges shows in its shape (from the first
// step: weights or biases; growing with time: the recurrence). It is nil when the output
// could not be compared.
func (r *Report) StepErrors() [][]float64 {
	var out *TensorReport
	for i := range r.Tensors {
		if r.Tensors[i].Name == RefOutput && r.Tensors[i].got != nil {
			out = &r.Tensors[i]
		}
	}
	if out == nil {
		return nil
	}
	dirs := 1
	if r.Model.Bidirectional {
		dirs = 2
	}
	shape := out.Shape
	feat := shape[len(shape)-1]
	steps, batch := shape[0], 1
	switch {
	case len(shape) == 3 && r.Model.BatchFirst:
		steps, batch = shape[1], shape[0]
	case len(shape) == 3:
		batch = shape[1]
	}
	errs := make([][]float64, dirs)
	for d := range errs {
		errs[d] = make([]float64, steps)
	}
	width := feat / dirs
	for i := range out.got {
		f := i % feat
		row := i / feat // (step, batch) or (batch, step)
		t := row / batch
		if r.Model.BatchFirst && len(shape) == 3 {
			t = row % steps
		}
		d := min(f/width, dirs-1)
		e := math.Abs(out.got[i] - out.want[i])
		switch {
		case math.IsNaN(out.got[i]) && math.IsNaN(out.want[i]), out.got[i] == out.want[i]:
			e = 0
		case math.IsNaN(e) || math.IsInf(e, 0):
			e = math.MaxFloat64
		}
		errs[d][t] = max(errs[d][t], e)
	}
	return errs
}

// Values returns the Go and reference elements of the compared tensor named name, in C
// order, or nils when it was not compared.
func (r *Report) Values(name string) (got, want []float64) {
	for _, t := range r.Tensors {
		if t.Name == name {
			return t.got, t.want
		}
	}
	return nil, nil
}

// Inputs returns the model inputs a file holds: a reference-style file's input, h0 and
// c0 (the last two nil when absent), or the single tensor of a file holding one.
func Inputs(cp *convert.Checkpoint) (x, h0, c0 *pickle.Tensor, err error) {
	if t, ok := cp.Tensor(RefInput); ok {
		h0, _ = cp.Tensor(RefH0)
		c0, _ = cp.Tensor(RefC0)
		return t, h0, c0, nil
	}
	var only []*pickle.Tensor
	for _, l := range cp.Leaves {
		if t, ok := l.Value.(*pickle.Tensor); ok {
			only = append(only, t)
		}
	}
	if len(only) != 1 {
		return nil, nil, nil, fmt.Errorf("%s: want a tensor named %q or a single tensor, found %d tensors", cp.Path, RefInput, len(only))
	}
	return only[0], nil, nil, nil
}
