package parity

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report as `ptport check` prints it: the model (a whole model's
// layers too), where the initial states came from, a table of the compared tensors (|go - ref|, |ref - truth|,
// |go - truth|, the rule that decided and the result), the verdict and the diagnosis.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	if r.Model.Module != "" {
		prefix := ""
		if r.Model.Prefix != "" {
			prefix = ` under "` + r.Model.Prefix + `"` // as it is, as the file names are
		}
		file := ""
		if r.ModelFile != "" {
			file = r.ModelFile + ": "
		}
		fmt.Fprintf(ew, "model      %s%s%s, %s\n", file, r.Model.Module, prefix, strings.ToLower(r.Model.DType))
	}
	if r.Model.Whole && len(r.Model.Layers) > 0 {
		fmt.Fprintf(ew, "whole      %s\n", layerList(r.Model.Layers))
	}
	if r.Reference != "" {
		fmt.Fprintf(ew, "reference  %s\n", r.Reference)
	}
	if r.InitialState.H0 != "" {
		from := func(s string) string {
			switch {
			case s != Zeros:
				return "the reference's " + s
			case slices.ContainsFunc(r.Ignored, isState):
				return "zeros (ignored in the reference)"
			}
			return "zeros (the reference has none)"
		}
		states := "h0 from " + from(r.InitialState.H0)
		if r.InitialState.C0 != "" {
			states += ", c0 from " + from(r.InitialState.C0)
		}
		fmt.Fprintf(ew, "initial    %s\n", states)
	}
	if len(r.Ignored) > 0 {
		fmt.Fprintf(ew, "ignored    %s\n", strings.Join(r.Ignored, ", "))
	}
	if ew.n > 0 { // a report of NewReport has no lines above its table
		fmt.Fprintln(ew)
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tENTRY\tSHAPE\tMAX |GO-REF|\tMAX |REF-TRUTH|\tMAX |GO-TRUTH|\tMISMATCHES\tRULE\tRESULT")
	for _, t := range r.Tensors {
		result := "pass"
		if !t.Pass {
			result = "FAIL"
		}
		goRef, refTruth, goTruth, mism := "-", "-", "-", "-"
		if t.Rule != RuleShape {
			goRef, mism = errText(t.MaxAbsErr), fmt.Sprint(t.Mismatches)
			if t.Truth {
				refTruth, goTruth = errText(t.RefTruth), errText(t.GoTruth)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Entry, t.Shape, goRef, refTruth, goTruth, mism, t.Rule, result)
	}
	tw.Flush()
	fmt.Fprintln(ew)
	fmt.Fprintln(ew, r.Verdict())
	for _, t := range r.Tensors {
		if t.Reason != "" && t.Rule == RuleTruth {
			fmt.Fprintf(ew, "  %s: %s\n", t.Name, t.Reason)
		}
	}
	if !r.Pass {
		switch len(r.Diagnosis) {
		case 0:
			fmt.Fprintln(ew, "diagnosis: none of the usual porting mistakes explains it")
		default:
			for _, m := range r.Diagnosis {
				switch m.Name {
				case MistakeTrainMode: // nothing reproduces the draws of dropout
					fmt.Fprintf(ew, "diagnosis: %s (layer 0 within %s)\n", m.Description, errText(m.MaxAbsErr))
				default:
					fmt.Fprintf(ew, "diagnosis: %s (max abs err %s with it)\n", m.Description, errText(m.MaxAbsErr))
				}
			}
		}
	}
	return ew.err
}

// String returns the report as WriteText writes it.
func (r *Report) String() string {
	var b strings.Builder
	r.WriteText(&b)
	return b.String()
}

// Verdict is the report's one-line summary.
func (r *Report) Verdict() string {
	names := func(pass bool, rule string) []string {
		var out []string
		for _, t := range r.Tensors {
			if t.Pass == pass && (rule == "" || t.Rule == rule) {
				out = append(out, t.Name)
			}
		}
		return out
	}
	if len(r.Tensors) == 0 {
		return "FAIL: nothing compared"
	}
	if r.Pass {
		tol := r.Tensors[0].Tolerance
		if r.Rule == RuleTolerance {
			return fmt.Sprintf("PASS: every element of %s within atol %.3g + rtol %.3g × |ref| (max abs err %s, max rel err %s)",
				strings.Join(names(true, ""), ", "), tol.Atol, tol.Rtol, errText(r.MaxAbsErr), errText(r.MaxRelErr))
		}
		byTruth := names(true, RuleTruth)
		verb := "differs"
		if len(byTruth) > 1 {
			verb = "differ"
		}
		return fmt.Sprintf("PASS by the float64 truth: %s %s from the reference by up to %s, beyond atol %.3g + rtol %.3g × |ref|, but Go and the reference are both float32 rounding around the same float64 truth",
			strings.Join(byTruth, ", "), verb, errText(r.MaxAbsErr), tol.Atol, tol.Rtol)
	}
	var parts []string
	for _, t := range r.Tensors {
		if t.Pass {
			continue
		}
		switch t.Rule {
		case RuleShape:
			parts = append(parts, fmt.Sprintf("%s not compared (%s)", t.Name, t.Reason))
		default:
			parts = append(parts, fmt.Sprintf("%s differs (max abs err %s, %d of %d elements beyond atol %.3g + rtol %.3g × |ref|)",
				t.Name, errText(t.MaxAbsErr), t.Mismatches, numel(t.Shape), t.Atol, t.Rtol))
		}
	}
	return "FAIL: " + strings.Join(parts, "; ")
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// isState reports whether a reference's entry name is an initial state or below one.
func isState(name string) bool {
	top, _, _ := strings.Cut(name, ".")
	return top == RefC0 || slices.Contains(stateNames, top)
}

type errWriter struct {
	w   io.Writer
	n   int // bytes written
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.n += n
	e.err = err
	return n, err
}

// errText prints an error of a report: math.MaxFloat64, which stands for an error that is
// not finite (TensorReport.MaxAbsErr), as "inf", any other to 3 digits.
func errText(e float64) string {
	if e == math.MaxFloat64 {
		return "inf"
	}
	return fmt.Sprintf("%.3g", e)
}
