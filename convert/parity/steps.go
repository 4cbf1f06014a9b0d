package parity

// StepErrors returns, for each direction of the model, the largest |go - ref| of the
// output at each time step (one step for a cell given one). It is nil when the output
// could not be compared.
func (r *Report) StepErrors() [][]float64 {
	return r.stepErrors(func(t *TensorReport) ([]float64, []float64) { return t.got, t.want })
}

// TruthStepErrors is StepErrors of |go - truth|: where Go is rounding off the truth while
// it differs from the reference, the reference is what moved. It is nil when no truth
// was compared.
func (r *Report) TruthStepErrors() [][]float64 {
	return r.stepErrors(func(t *TensorReport) ([]float64, []float64) { return t.got, t.truth })
}

func (r *Report) stepErrors(values func(*TensorReport) (a, b []float64)) [][]float64 {
	var out *TensorReport
	for i := range r.Tensors {
		if t := &r.Tensors[i]; t.Name == RefOutput {
			if a, b := values(t); a != nil && b != nil {
				out = t
			}
		}
	}
	cellStep := r.Model.Cell && !r.Model.Whole && out != nil && len(out.Shape) < 3 // a cell's one step
	if out == nil || len(out.Shape) == 0 || (len(out.Shape) < 2 && !cellStep) {
		return nil
	}
	a, b := values(out)
	dirs := 1
	if r.Model.Bidirectional {
		dirs = 2
	}
	shape := out.Shape
	feat := shape[len(shape)-1]
	steps, batch := shape[0], 1
	switch {
	case cellStep:
		steps, batch = 1, len(a)/feat // (batch, hidden_size) or (hidden_size)
	case len(shape) == 3 && r.Model.BatchFirst:
		steps, batch = shape[1], shape[0]
	case len(shape) == 3:
		batch = shape[1]
	}
	if feat == 0 || steps == 0 || batch == 0 {
		return nil
	}
	errs := make([][]float64, dirs)
	for d := range errs {
		errs[d] = make([]float64, steps)
	}
	width := max(feat/dirs, 1)
	for i := range a {
		f := i % feat
		row := i / feat // (step, batch) or (batch, step)
		t := row / batch
		if r.Model.BatchFirst && len(shape) == 3 {
			t = row % steps
		}
		d := min(f/width, dirs-1)
		errs[d][t] = max(errs[d][t], absDiff(a[i], b[i]))
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
