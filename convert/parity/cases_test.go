package parity_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// parityCase is one case of testdata/parity/cases.json (see testdata/parity/gen.py).
type parityCase struct {
	Model, Ref string
	Outcome    string // pass, fail or error
	Rule       string
	Flags      []string
	Ignore     []string
	Compared   map[string]string
	Initial    map[string]string
	Diagnosis  []string
	Error      []string
	Failing    []string
	Reason     []string // words the reason of every failing tensor holds
	Ports      map[string]struct{ Outcome, Rule string }
	Truth      string // the file of PyTorch's float64 results
}

func parityCases(t *testing.T) map[string]parityCase {
	t.Helper()
	b, err := os.ReadFile(fixture.Path("parity", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]parityCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 30 {
		t.Fatalf("cases.json lists %d cases", len(cases))
	}
	return cases
}

func openParity(t *testing.T, name string) *convert.Checkpoint {
	t.Helper()
	cp, err := convert.Open(fixture.Path("parity", name), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	return cp
}

// options turns a case's command-line flags into parity.Options.
func (c parityCase) options() parity.Options {
	opts := parity.Options{Ignore: c.Ignore}
	for i := 0; i < len(c.Flags); i++ {
		switch c.Flags[i] {
		case "--batch-first":
			opts.Load.BatchFirst = true
		case "--whole":
			opts.Load.Whole = true
		case "--nonlinearity":
			i++
			opts.Load.Nonlinearity = c.Flags[i]
		}
	}
	return opts
}

// TestCases checks every case PyTorch made in testdata/parity: the reference schema, the
// strict structure, each usual porting mistake made on purpose, the float64 truth and
// the tolerances by dtype. Each verdict, rule, compared entry, initial state, failing
// tensor and diagnosis is what gen.py derived from PyTorch's computations.
func TestCases(t *testing.T) {
	for name, c := range parityCases(t) {
		t.Run(name, func(t *testing.T) {
			r, err := parity.Check(context.Background(), openParity(t, c.Model), openParity(t, c.Ref), c.options())
			if c.Outcome == "error" {
				if err == nil {
					t.Fatalf("no error; report:\n%s", r)
				}
				for _, w := range c.Error {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				t.Logf("%v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", r)
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("the report has no JSON form (check --json): %v", err)
			}
			if r.Pass != (c.Outcome == "pass") || r.Rule != c.Rule {
				t.Errorf("pass %v by %s, want %s by %s", r.Pass, r.Rule, c.Outcome, c.Rule)
			}
			got := map[string]string{}
			var failing []string
			for _, tr := range r.Tensors {
				got[tr.Name] = tr.Entry
				if !tr.Pass {
					failing = append(failing, tr.Name)
				}
			}
			if c.Compared != nil && !mapsEqual(got, c.Compared) {
				t.Errorf("compared %v, want %v", got, c.Compared)
			}
			for _, tr := range r.Tensors {
				for _, w := range c.Reason {
					if !tr.Pass && !strings.Contains(tr.Reason, w) {
						t.Errorf("%s: reason lacks %q: %s", tr.Name, w, tr.Reason)
					}
				}
			}
			if c.Failing != nil && !slices.Equal(failing, c.Failing) {
				t.Errorf("failing %v, want %v", failing, c.Failing)
			}
			if c.Initial != nil {
				want := parity.InitialState{H0: c.Initial["h0"], C0: c.Initial["c0"]}
				if r.InitialState != want {
					t.Errorf("initial state %+v, want %+v", r.InitialState, want)
				}
			}
			var diag []string
			for _, d := range r.Diagnosis {
				if !slices.Contains(diag, d.Name) {
					diag = append(diag, d.Name)
				}
			}
			if c.Diagnosis != nil && !slices.Equal(diag, c.Diagnosis) {
				t.Errorf("diagnosis %v, want %v", diag, c.Diagnosis)
			}
			if strings.Contains(r.Verdict(), "within atol") != (r.Pass && r.Rule == parity.RuleTolerance) {
				t.Errorf("verdict %q", r.Verdict())
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestCaseErrors checks the types of the errors a caller branches on.
func TestCaseErrors(t *testing.T) {
	cases := parityCases(t)
	check := func(name string) error {
		c := cases[name]
		_, err := parity.Check(context.Background(), openParity(t, c.Model), openParity(t, c.Ref), c.options())
		return err
	}
	var rerr *parity.ReferenceError
	if err := check("misspelled"); !errors.As(err, &rerr) ||
		!slices.Equal(rerr.Unknown, []parity.UnknownEntry{{Name: "hn", Closest: "h_n"}, {Name: "cn", Closest: "c_n"}}) {
		t.Errorf("misspelled: %#v", err)
	}
	if err := check("forgot_batch_first_h0"); !errors.As(err, &rerr) || rerr.BatchFirst == nil || !*rerr.BatchFirst {
		t.Errorf("forgot_batch_first_h0: %v", err)
	}
	var verr *convert.ValidationError
	for name, want := range map[string]func(*convert.ValidationError) bool{
		"missing_layer":   func(v *convert.ValidationError) bool { return slices.Equal(v.Missing, cases["missing_layer"].Error) },
		"missing_reverse": func(v *convert.ValidationError) bool { return len(v.Missing) == 4 },
		"unexpected_key":  func(v *convert.ValidationError) bool { return slices.Equal(v.Unexpected, []string{"lstm.extra_param"}) },
		"transposed_lstm": func(v *convert.ValidationError) bool {
			return len(v.Mismatched) == 2 && strings.Contains(v.Mismatched[0], "transposed") && strings.Contains(v.Mismatched[1], "transposed")
		},
	} {
		if err := check(name); !errors.As(err, &verr) || !want(verr) {
			t.Errorf("%s: %#v", name, err)
		}
	}
}

// TestPorts compares ports' results with the large-weight GRU's reference, as a port's
// own Go test would: a right port in float32 passes by the float64 truth, a wrong one
// and one that misread a weight fail.
func TestPorts(t *testing.T) {
	c := parityCases(t)["gru_large"]
	cp, ref := openParity(t, c.Model), openParity(t, c.Ref)
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	params := map[string][]float64{}
	for _, p := range m.Config.Params() {
		if params[p.Name], err = tensor(cp, p.Name).Float64s(); err != nil {
			t.Fatal(err)
		}
	}
	m64, err := rnn.New(m.Config, params)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor(ref, parity.RefInput)
	x64, err := x.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	truth, err := m64.Forward(&rnn.Tensor[float64]{Data: x64, Shape: x.Shape}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Ports) != 3 {
		t.Fatalf("%d ports", len(c.Ports))
	}
	for file, want := range c.Ports {
		out := tensor(openParity(t, file), parity.RefOutput)
		v, err := out.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		got := &rnn.Tensor[float32]{Data: v, Shape: out.Shape}
		r := parity.NewReport(parity.Compare(parity.RefOutput, got, tensor(ref, parity.RefOutput), truth.Output, nil))
		if r.Pass != (want.Outcome == "pass") || r.Rule != want.Rule {
			t.Errorf("%s: pass %v by %s, want %s by %s\n%s", file, r.Pass, r.Rule, want.Outcome, want.Rule, r)
		}
		if r.Tensors[0].Mismatches == 0 {
			t.Errorf("%s: within atol: the truth rule is not what decided", file)
		}
		// Without the truth, tolerance alone fails the right port too.
		if r := parity.NewReport(parity.Compare(parity.RefOutput, got, tensor(ref, parity.RefOutput), nil, nil)); r.Pass {
			t.Errorf("%s passes by tolerance", file)
		}
	}
}

// TestTruthOfModels compares parity.Truth, the float64 truth of cells and of whole
// models (every layer around the recurrent module, pickled Sequentials, the char-level
// model), with PyTorch's own float64 results of the same models and inputs, to 1e-12 of
// the values' scale, plus, where the model amplifies rounding, 1e-6 of PyTorch's float32
// error (float64 rounds 2^29 times finer than float32, and is amplified alike). For a
// failing case the truth is of the checkpoint's model as checked, not the reference's.
func TestTruthOfModels(t *testing.T) {
	n := 0
	for name, c := range parityCases(t) {
		if c.Truth == "" {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			cp, ref, want := openParity(t, c.Model), openParity(t, c.Ref), openParity(t, c.Truth)
			m, err := convert.Load(cp, c.options().Load)
			if err != nil {
				t.Fatal(err)
			}
			h0, c0 := tensor(ref, parity.RefH0), tensor(ref, parity.RefC0)
			if h0 == nil {
				h0, c0 = tensor(ref, "hx.0"), tensor(ref, "hx.1")
			}
			got, err := parity.Truth(context.Background(), cp, m, tensor(ref, parity.RefInput), h0, c0)
			if err != nil {
				t.Fatal(err)
			}
			results := map[string]*rnn.Tensor[float64]{parity.RefOutput: got.Output, parity.RefHN: got.H, parity.RefCN: got.C}
			compared := 0
			for _, l := range want.Leaves {
				w := values(t, want, l.Name)
				var f32 []float64 // PyTorch's float32 results of the same model
				if c.Outcome == "pass" {
					f32 = values(t, ref, l.Name)
				}
				g := results[l.Name]
				if g == nil || !slices.Equal(g.Shape, tensor(want, l.Name).Shape) {
					t.Fatalf("%s: truth %v, PyTorch's float64 has shape %v", l.Name, g, tensor(want, l.Name).Shape)
				}
				scale, amplified := 1.0, 0.0
				for i := range w {
					scale = max(scale, math.Abs(w[i]))
					if f32 != nil {
						amplified = max(amplified, math.Abs(f32[i]-w[i]))
					}
				}
				worst := 0.0
				for i := range w {
					worst = max(worst, math.Abs(g.Data[i]-w[i]))
				}
				if bound := 1e-12*scale + 1e-6*amplified; worst > bound {
					t.Errorf("%s: |truth - PyTorch's float64| %g, beyond %g", l.Name, worst, bound)
				}
				t.Logf("%s %v: |truth - PyTorch's float64| %.3g (PyTorch's float32 %.3g from it)", l.Name, g.Shape, worst, amplified)
				compared++
			}
			if compared == 0 {
				t.Error("nothing compared")
			}
		})
	}
	if n < 8 {
		t.Errorf("%d cases with PyTorch's float64 results", n)
	}
}

// values reads the named tensor of cp as float64s, or nil.
func values(t *testing.T, cp *convert.Checkpoint, name string) []float64 {
	t.Helper()
	tn := tensor(cp, name)
	if tn == nil {
		return nil
	}
	v, err := tn.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPlotReading checks what the plot's reading (package plot's doc, the README) says
// against the diagnosis, on every failing case: where the reference was made otherwise,
// Go stays at rounding from the truth at every step; the mistakes that change what
// every step computes show from the first step; a changed recurrent weight shows from the
// second.
func TestPlotReading(t *testing.T) {
	for name, c := range parityCases(t) {
		if c.Outcome != "fail" || c.Rule == parity.RuleShape {
			continue
		}
		t.Run(name, func(t *testing.T) {
			r, err := parity.Check(context.Background(), openParity(t, c.Model), openParity(t, c.Ref), c.options())
			if err != nil {
				t.Fatal(err)
			}
			steps, truth := r.StepErrors(), r.TruthStepErrors()
			if steps == nil || truth == nil {
				return // the output was not compared (its shape differs)
			}
			// Rounding: 2e-5, or, where the model amplifies it, within the truth rule's
			// factor of the rounding noise measured for the output.
			bound := 2e-5
			for _, tr := range r.Tensors {
				if tr.Name == parity.RefOutput {
					bound = max(bound, parity.TruthFactor*tr.Noise)
				}
			}
			for d := range truth {
				for s, e := range truth[d] {
					if e > bound {
						t.Errorf("direction %d step %d: |go - truth| %g, beyond %g", d, s, e, bound)
					}
				}
			}
			atol := r.Tensors[0].Atol
			first := 0.0
			for d := range steps {
				first = max(first, steps[d][0])
			}
			fromFirst := first > atol
			switch {
			case len(r.Diagnosis) > 0 && !fromFirst:
				t.Errorf("%s explains it, but step 0 is within atol (%g)", r.Diagnosis[0].Name, first)
			case name == "drifted" && (fromFirst || steps[0][1] <= atol):
				t.Errorf("a changed weight_hh: steps 0 and 1 %g, %g", steps[0][0], steps[0][1])
			}
		})
	}
}

// tensor is the checkpoint's tensor of that name, or nil.
func tensor(cp *convert.Checkpoint, name string) *pickle.Tensor {
	t, _ := cp.Tensor(name)
	return t
}

// TestChecksAgainstTruth runs the parity check on every passing case of a folder of
// models as porters check them: $PTPORT_MODEL_CASES (scripts/rnn_difftest.py writes
// random cells, whole models and pickled Sequentials there), or testdata/parity. Each must
// pass, or fail only where the model amplifies float32 rounding beyond the truth rule's
// cap, Go and PyTorch alike, and the check says to check it in float64; a float64 model's
// results must be its truth to the last bits. For the float32
// models it reports, by family, the ratio |go - truth| / |torch - truth| of every compared
// tensor: the median, the 90th percentile and the worst, overall and among the tensors
// whose larger error is above the truth rule's floor (below it, the ratio is that of the
// last bits of a few values).
func TestChecksAgainstTruth(t *testing.T) {
	dir := os.Getenv("PTPORT_MODEL_CASES")
	if dir == "" {
		dir = fixture.Path("parity")
	}
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]struct {
		parityCase
		Family string
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	open := func(name string) *convert.Checkpoint {
		cp, err := convert.Open(filepath.Join(dir, name), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cp.Close() })
		return cp
	}
	type stats struct {
		all, above                 []float64
		worst                      float64
		where                      string
		f64, byTruth, n, undecided int
	}
	families := map[string]*stats{}
	names := slices.Sorted(maps.Keys(cases))
	for _, name := range names {
		c := cases[name]
		if c.Outcome != "pass" {
			continue
		}
		r, err := parity.Check(context.Background(), open(c.Model), open(c.Ref), c.options())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		family := c.Family
		switch {
		case family != "":
		case r.Model.Whole:
			family = "whole"
		case r.Model.Cell:
			family = "cell"
		default:
			family = "module"
		}
		st := families[family]
		if st == nil {
			st = &stats{}
			families[family] = st
		}
		if !r.Pass {
			if undecidable(r) {
				// Beyond the cap: float32 cannot decide, and the check says so.
				st.undecided++
				t.Logf("%s: undecidable in float32: %s", name, r.Verdict())
			} else {
				t.Errorf("%s: fails:\n%s", name, r)
			}
			continue
		}
		st.n++
		if r.Rule == parity.RuleTruth {
			st.byTruth++
		}
		for _, tr := range r.Tensors {
			if !tr.Truth {
				t.Errorf("%s: %s: no truth compared", name, tr.Name)
				continue
			}
			scale := tr.Floor / parity.TruthFloor // max(1, max |truth|)
			if r.Model.DType == "F64" {
				st.f64++
				if tr.GoTruth > 1e-12*scale {
					t.Errorf("%s: %s: a float64 model %.3g from its truth", name, tr.Name, tr.GoTruth)
				}
				continue
			}
			if tr.RefTruth == 0 {
				continue
			}
			ratio := tr.GoTruth / tr.RefTruth
			st.all = append(st.all, ratio)
			if max(tr.GoTruth, tr.RefTruth) > tr.Floor {
				st.above = append(st.above, ratio)
			}
			if ratio > st.worst {
				st.worst, st.where = ratio, fmt.Sprintf("%s %s: |go - truth| %.3g, |torch - truth| %.3g", name, tr.Name, tr.GoTruth, tr.RefTruth)
			}
		}
	}
	total := 0
	for _, family := range slices.Sorted(maps.Keys(families)) {
		st := families[family]
		total += st.n
		line := fmt.Sprintf("%s: %d models pass (%d by the truth rule), %d beyond the truth rule's cap (undecidable in float32), %d float64 tensors at their truth",
			family, st.n, st.byTruth, st.undecided, st.f64)
		if len(st.all) > 0 {
			slices.Sort(st.all)
			line += fmt.Sprintf("; float32, %d tensors: |go - truth| / |torch - truth| median %.3g, 90th percentile %.3g, worst %.3g (%s)",
				len(st.all), st.all[len(st.all)/2], st.all[len(st.all)*9/10], st.worst, st.where)
		}
		if len(st.above) > 0 {
			slices.Sort(st.above)
			line += fmt.Sprintf("; %d above the floor: median %.3g, 90th percentile %.3g, worst %.3g",
				len(st.above), st.above[len(st.above)/2], st.above[len(st.above)*9/10], st.above[len(st.above)-1])
		}
		t.Log(line)
	}
	if total == 0 {
		t.Fatalf("no passing case in %s", dir)
	}
}

// undecidable reports whether every failing tensor of r failed the truth rule only for
// its cap: Go and the reference within the factor of each other (or of the noise), both
// beyond where float32 can decide.
func undecidable(r *parity.Report) bool {
	for _, tr := range r.Tensors {
		if tr.Pass {
			continue
		}
		hi, lo := max(tr.GoTruth, tr.RefTruth), min(tr.GoTruth, tr.RefTruth)
		if tr.Rule != parity.RuleTruth || hi <= tr.Cap || hi > parity.TruthFactor*max(lo, tr.Floor, tr.Noise) {
			return false
		}
	}
	return true
}
