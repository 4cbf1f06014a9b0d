package parity

import (
	"fmt"
	"math"

	"github.com/ptport/ptport/pickle"
)

// Tolerance is how far a result may be from its reference: an element passes when
// |got - ref| <= Atol + Rtol*|ref|, as in torch.testing.assert_close. A value that is
// not finite matches only an equal one, as there: an infinity the same infinity, and NaN
// a NaN (assert_close's equal_nan=True: a NaN where PyTorch computed one is the same
// result; a NaN against a number, either way, is a mismatch).
type Tolerance struct {
	Atol float64 `json:"atol"`
	Rtol float64 `json:"rtol"`
}

// check returns an error unless t's parts are finite numbers, zero or more: a negative or
// NaN part makes the comparison mean nothing, and an infinite one has no JSON form (a
// report always has one).
func (t Tolerance) check() error {
	if !(t.Atol >= 0 && t.Atol <= math.MaxFloat64 && t.Rtol >= 0 && t.Rtol <= math.MaxFloat64) {
		return fmt.Errorf("tolerance atol %g, rtol %g: each must be a finite number, zero or more", t.Atol, t.Rtol)
	}
	return nil
}

// Matches reports whether got is within t of ref by Tolerance's rule.
func (t Tolerance) Matches(got, ref float64) bool {
	switch {
	case got == ref || math.IsNaN(got) && math.IsNaN(ref):
		return true
	case math.IsInf(got, 0) || math.IsInf(ref, 0) || math.IsNaN(got) || math.IsNaN(ref):
		return false
	}
	return math.Abs(got-ref) <= t.Atol+t.Rtol*math.Abs(ref)
}

// DefaultTolerance returns torch.testing.assert_close's default tolerance for comparing
// tensors of the given dtypes: for each dtype its (atol, rtol), float64 (1e-7, 1e-7),
// float32 (1e-5, 1.3e-6), float16 (1e-5, 1e-3), bfloat16 (1e-5, 1.6e-2), and the larger
// of each over the dtypes, as assert_close does for two tensors of different dtypes.
// Other dtypes count as float32.
func DefaultTolerance(dtypes ...pickle.DType) Tolerance {
	var t Tolerance
	for _, d := range dtypes {
		var p Tolerance
		switch d {
		case pickle.F64:
			p = Tolerance{Atol: 1e-7, Rtol: 1e-7}
		case pickle.F16:
			p = Tolerance{Atol: 1e-5, Rtol: 1e-3}
		case pickle.BF16:
			p = Tolerance{Atol: 1e-5, Rtol: 1.6e-2}
		default:
			p = Tolerance{Atol: 1e-5, Rtol: 1.3e-6}
		}
		t.Atol, t.Rtol = max(t.Atol, p.Atol), max(t.Rtol, p.Rtol)
	}
	return t
}

// The rules a tensor is judged by (TensorReport.Rule).
const (
	// RuleTolerance: every element within Atol + Rtol*|ref|.
	RuleTolerance = "tolerance"
	// RuleTruth: Go and the reference are both rounding noise around the float64 truth.
	RuleTruth = "truth"
	// RuleShape: nothing was compared: the shapes differ, or (Compare) the reference
	// could not be read or the tolerance is unusable; the Reason says which.
	RuleShape = "shape"
)

// The truth rule. A result computed in float32 differs from its float64 truth by the
// rounding of every value it stored, amplified by the model; two right float32
// computations (Go's and PyTorch's) differ from the truth by errors of the same size,
// not the same errors, and so may differ from each other by more than atol when the model
// amplifies rounding (large weights, long sequences). Then the tensor passes when
//
//	max(G, R) <= TruthFactor * max(min(G, R), floor, noise)   and   max(G, R) <= cap
//
// with G = max |go - truth|, R = max |ref - truth| over the tensor, scale =
// max(1, max |truth|), floor = TruthFloor*scale, cap = TruthCap*scale, and noise the
// largest deviation from the truth of TruthNoiseRuns truth computations that round every
// value they store (weights, inputs, products, states) to float32's machine epsilon
// (x(1+δ), δ uniform in ±2⁻²³): how far float32 rounding alone moves this model at this
// input. A reference made from other weights or with another configuration (R far above
// G and the noise), a wrong port (G far above R and the noise) and wrong weights in the
// checkpoint (as a reference from other weights) fail.
const (
	// TruthFactor is how many times larger one error may be than the other (or than the
	// noise). Measured by scripts/rnn_difftest.py (seed 1, --amplified 150: float32 models
	// of every mode and layout with weights scaled 2 to 4.5 times, 20 to 60 steps), on the
	// tensors whose errors lie between the floor and the cap: G/R spans 0.23 to 5.4 (a
	// maximum over elements is a noisy statistic where a few directions of the model
	// amplify rounding: PyTorch's result against PyTorch's of the same model relabelled,
	// its sums in other orders, spreads as far), max(G, R)/noise only 0.17 to 2.5.
	// Compared with each other alone, 2 of those tensors would fail at 4; with the noise
	// as the floor, none does, while a change 10 times the rounding still fails
	// (testdata/parity: gru_large_*).
	TruthFactor = 4
	// TruthFloor, times the tensor's scale, is where the rule stops telling errors apart:
	// 8 float32 epsilons (9.5e-7 for values within ±1), above every error either side made
	// on the 240 tensors of the difftest's 103 small random float32 models (at most
	// 5e-7, a few roundings), and ten times below float32's default atol.
	TruthFloor = 8 * 0x1p-23
	// TruthCap, times the tensor's scale, is the largest error the rule accepts: 2⁻¹²,
	// where float32 keeps half of its 24 significant bits. Beyond it rounding noise is no
	// longer small against the values: agreeing with the truth proves nothing, and the
	// model must be checked in float64.
	TruthCap = 0x1p-12
	// TruthNoiseRuns is the number of rounded truth computations that measure the noise.
	TruthNoiseRuns = 4
	// truthNoiseU is the perturbation of each stored value in those runs.
	truthNoiseU = 0x1p-23
)

// TensorReport is the comparison of one result tensor with its reference.
type TensorReport struct {
	// Name is what the tensor is ("output", "h_n", "c_n", or the caller's name).
	Name string `json:"name"`
	// Entry is the reference entry compared with, e.g. "h_n.1" for c_n in a tuple.
	Entry string       `json:"entry"`
	Shape []int        `json:"shape"`
	DType pickle.DType `json:"dtype"` // the reference's
	Tolerance
	// MaxAbsErr and MaxRelErr are the largest |go - ref| and |go - ref|/|ref| over the
	// elements (a matching pair counts 0; the relative error leaves out a ref of 0). A
	// mismatch that is not finite (an infinity against a number or the other infinity, a
	// NaN against a number) counts as math.MaxFloat64 in both, which JSON can hold, and
	// so does a relative error that overflows.
	MaxAbsErr float64 `json:"max_abs_err"`
	MaxRelErr float64 `json:"max_rel_err"`
	// Mismatches counts the elements outside the tolerance.
	Mismatches int `json:"mismatches"`
	// Truth tells whether a float64 truth was compared; GoTruth and RefTruth are then
	// the largest |go - truth| and |ref - truth|.
	Truth    bool    `json:"truth"`
	GoTruth  float64 `json:"go_truth"`
	RefTruth float64 `json:"ref_truth"`
	// Noise is the measured float32 rounding noise (0 when not measured), Floor and Cap
	// the truth rule's bounds for this tensor.
	Noise float64 `json:"noise,omitempty"`
	Floor float64 `json:"floor,omitempty"`
	Cap   float64 `json:"cap,omitempty"`
	// Rule is the rule that decided (RuleTolerance, RuleTruth or RuleShape); Reason says
	// why the tensor failed or how it passed.
	Rule   string `json:"rule"`
	Pass   bool   `json:"pass"`
	Reason string `json:"reason,omitempty"`

	got, want, truth []float64 // kept for the per-step errors
}

// measure fills the tolerance part of tr from got and want.
func (tr *TensorReport) measure(got, want []float64) {
	tr.Pass, tr.Rule = true, RuleTolerance
	for i := range want {
		g, w := got[i], want[i]
		ok := tr.Matches(g, w)
		d := math.Abs(g - w)
		switch {
		case ok && !(d <= math.MaxFloat64):
			d = 0 // the same infinity, or NaN and NaN
		case !(d <= math.MaxFloat64):
			d = math.MaxFloat64 // JSON has no infinity; no finite error is larger
		}
		if !ok {
			tr.Pass = false
			tr.Mismatches++
		}
		tr.MaxAbsErr = max(tr.MaxAbsErr, d)
		switch {
		case d == math.MaxFloat64:
			tr.MaxRelErr = d
		case d > 0 && w != 0:
			tr.MaxRelErr = max(tr.MaxRelErr, min(d/math.Abs(w), math.MaxFloat64))
		}
	}
	if !tr.Pass {
		tr.Reason = fmt.Sprintf("%d of %d elements beyond atol %.3g + rtol %.3g × |ref|", tr.Mismatches, len(want), tr.Atol, tr.Rtol)
	}
	tr.got, tr.want = got, want
}

// measureTruth fills GoTruth, RefTruth and the rule's bounds from the truth.
func (tr *TensorReport) measureTruth(truth []float64) {
	tr.Truth = true
	scale := 1.0
	for i, t := range truth {
		tr.GoTruth = max(tr.GoTruth, absDiff(tr.got[i], t))
		tr.RefTruth = max(tr.RefTruth, absDiff(tr.want[i], t))
		if a := math.Abs(t); a > scale && a <= math.MaxFloat64 {
			scale = a // of the finite values (a NaN would make every bound NaN)
		}
	}
	tr.Floor, tr.Cap = TruthFloor*scale, TruthCap*scale
	tr.truth = truth
}

// inFloat64 says how to check a model whose float32 rounding the truth rule cannot tell
// from a wrong result: ptport computes in float64 what a checkpoint holds in F64.
const inFloat64 = "check it in float64: save the state_dict and the reference from model.double() on x.double(), which ptport computes in float64"

// judgeTruth applies the truth rule to a tensor that failed its tolerance.
func (tr *TensorReport) judgeTruth() {
	g, r := tr.GoTruth, tr.RefTruth
	hi, lo := max(g, r), min(g, r)
	bound := TruthFactor * max(lo, tr.Floor, tr.Noise)
	tr.Rule = RuleTruth
	nan, goNaN := 0, 0 // elements where the truth is NaN and the reference a number; Go's NaNs there
	for i, t := range tr.truth {
		if math.IsNaN(t) && !math.IsNaN(tr.want[i]) {
			nan++
			if math.IsNaN(tr.got[i]) {
				goNaN++
			}
		}
	}
	scale := tr.Floor / TruthFloor
	switch {
	case nan > 0:
		tr.Pass = false
		who := fmt.Sprintf("Go is NaN at %d of them", goNaN)
		if goNaN == nan {
			who = "Go too"
		}
		tr.Reason = fmt.Sprintf("the float64 truth of this model is NaN at %d of %d elements where the reference is a number (%s): the model as the checkpoint holds it computes NaN, so its weights hold NaN or infinite values, or the reference comes from other weights", nan, len(tr.truth), who)
	case hi > bound && r > g && lowPrecision(tr.DType) && r <= 64*unitRoundoff(tr.DType)*scale:
		tr.Pass = false
		name := typeName(tr.DType)
		tr.Reason = fmt.Sprintf("the reference is %s from the float64 truth of this model, Go only %s: as far as %s arithmetic (%d significant bits) strays, so the reference was probably computed in %s (a module converted by .%s()); compute it in float32 (model.float() on x.float()) to check the port, which computes in float32", errText(r), errText(g), name, bits(tr.DType), name, name)
	case hi > bound && g > r:
		tr.Pass = false
		tr.Reason = fmt.Sprintf("Go is %s from the float64 truth, the reference only %s: Go's result is wrong, not rounded", errText(g), errText(r))
	case hi > bound:
		tr.Pass = false
		tr.Reason = fmt.Sprintf("the reference is %s from the float64 truth of this model, Go only %s: the reference comes from other weights, inputs or configuration", errText(r), errText(g))
	case hi > tr.Cap && lo > tr.Cap:
		tr.Pass = false
		tr.Reason = fmt.Sprintf("Go (%s) and the reference (%s) are both far from the float64 truth: the model amplifies float32 rounding beyond %.3g (2⁻¹² of the values' scale), where agreeing with the truth proves nothing; %s", errText(g), errText(r), tr.Cap, inFloat64)
	case hi > tr.Cap:
		tr.Pass = false
		who := "the reference"
		if g > r {
			who = "Go"
		}
		tr.Reason = fmt.Sprintf("%s is %s from the float64 truth (Go %s, the reference %s), beyond %.3g (2⁻¹² of the values' scale), and this model amplifies float32 rounding (noise %s) too much to tell a wrong result from rounding there; %s", who, errText(hi), errText(g), errText(r), tr.Cap, errText(tr.Noise), inFloat64)
	default:
		tr.Pass = true
		tr.Reason = fmt.Sprintf("Go (%.3g) and the reference (%.3g) are both float32 rounding around the float64 truth (within %gx of each other, noise %.3g)", g, r, float64(TruthFactor), tr.Noise)
	}
}

func absDiff(a, b float64) float64 {
	d := math.Abs(a - b)
	switch {
	case a == b || (math.IsNaN(a) && math.IsNaN(b)):
		return 0
	case math.IsNaN(d) || math.IsInf(d, 0):
		return math.MaxFloat64
	}
	return d
}

// shapeMismatch marks tr as not compared.
func (tr *TensorReport) shapeMismatch(got []int) {
	tr.Pass, tr.Rule = false, RuleShape
	tr.Reason = fmt.Sprintf("shape %v from Go, %v in the reference", got, tr.Shape)
}

// lowPrecision reports whether d is a float type narrower than float32.
func lowPrecision(d pickle.DType) bool { return d == pickle.F16 || d == pickle.BF16 }

// bits is the number of significant bits of the float16 or bfloat16 type d.
func bits(d pickle.DType) int {
	if d == pickle.BF16 {
		return 8
	}
	return 11
}

// typeName is torch's name of the float16 or bfloat16 type d.
func typeName(d pickle.DType) string {
	if d == pickle.BF16 {
		return "bfloat16"
	}
	return "float16"
}

// unitRoundoff is the unit roundoff of the float16 or bfloat16 type d: 2^-bits.
func unitRoundoff(d pickle.DType) float64 { return math.Ldexp(1, -bits(d)) }
