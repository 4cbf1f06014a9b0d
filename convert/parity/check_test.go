package parity_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// check checks the model of testdata/convert/NAME.pt, loaded with opts, against
// NAME.ref.pt.
func check(t *testing.T, name string, opts convert.Options) *parity.Report {
	t.Helper()
	r, err := parity.Check(context.Background(), fixture.Open(t, name+".pt"), fixture.Open(t, name+".ref.pt"), parity.Options{Load: opts})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCheck checks every loadable case of testdata/convert/cases.json against the
// reference PyTorch computed: the good ones pass with rounding errors only, on output
// and h_n at least (a whole model's output alone), each measured against the float64
// truth, and the mismatching one fails.
func TestCheck(t *testing.T) {
	for name, fx := range fixture.Cases(t) {
		if fx.Outcome == "invalid" || fx.Outcome == "no_whole" {
			continue // does not load; package convert's TestLoad covers it
		}
		t.Run(name, func(t *testing.T) {
			r := check(t, name, fx.Options())
			if want := fx.Outcome != "mismatch"; r.Pass != want {
				t.Fatalf("pass = %v, want %v:\n%s", r.Pass, want, r)
			}
			if r.Pass && (r.MaxAbsErr > 2e-6 || r.Rule != parity.RuleTolerance) {
				t.Errorf("rule %s, max abs err %g", r.Rule, r.MaxAbsErr)
			}
			want := 2 // output and h_n
			if fx.Tensors > 0 {
				want = fx.Tensors
			}
			if len(r.Tensors) < want {
				t.Errorf("compared %d tensors, want %d at least", len(r.Tensors), want)
			}
			for _, tr := range r.Tensors {
				// The truth is the same model in float64, every layer of a whole model
				// too: Go's float32 is rounding around it (float64: the same to the last
				// bits), and so is PyTorch's.
				bound := 2e-6
				if r.Model.DType == "F64" {
					bound = 1e-13
				}
				if !tr.Truth || tr.GoTruth > bound || (r.Pass && tr.RefTruth > bound) {
					t.Errorf("%s: truth compared %v, |go - truth| %.3g, |ref - truth| %.3g", tr.Name, tr.Truth, tr.GoTruth, tr.RefTruth)
				}
			}
			t.Logf("%s: max abs err %.3g", r.Model.Module, r.MaxAbsErr)
		})
	}
}

// TestFlagsMatter shows the cases that need a flag fail without it: the flags are not
// decoration, and the diagnosis names the missing one.
func TestFlagsMatter(t *testing.T) {
	for name, mistake := range map[string]string{"rnn_relu": parity.MistakeNonlinearity, "gru_batch_first": parity.MistakeBatchFirst} {
		r := check(t, name, convert.Options{})
		if r.Pass {
			t.Errorf("%s passes without its flags", name)
		}
		if len(r.Diagnosis) == 0 || r.Diagnosis[0].Name != mistake {
			t.Errorf("%s: diagnosis %+v, want %s", name, r.Diagnosis, mistake)
		}
	}
}

func TestStepErrors(t *testing.T) {
	r := check(t, "drifted", convert.Options{})
	steps := r.StepErrors()
	if len(steps) != 1 || len(steps[0]) != 6 {
		t.Fatalf("step errors shape: %d directions, want 1 of 6 steps", len(steps))
	}
	if steps[0][0] > 1e-6 || steps[0][1] < 1e-3 {
		// h0 is zero, so a change to weight_hh first shows at the second step.
		t.Errorf("errors at steps 0 and 1 = %g, %g: want rounding, then the drift", steps[0][0], steps[0][1])
	}
	if slices.Max(steps[0]) != r.MaxAbsErr {
		t.Errorf("largest step error %g != max abs err %g", slices.Max(steps[0]), r.MaxAbsErr)
	}
	// Go is rounding around the truth of the checkpoint's model at every step: the
	// reference is what drifted.
	for i, e := range r.TruthStepErrors()[0] {
		if e > 1e-6 {
			t.Errorf("step %d: |go - truth| %g", i, e)
		}
	}
}

// TestWholeModelFinalStates: a whole model whose last layer is a Linear gives no final
// states, so a reference that holds them (as model(ids) -> (logits, (h, c)) saves them)
// is refused naming them, never compared with nothing; left out, the output is checked.
func TestWholeModelFinalStates(t *testing.T) {
	whole := fixture.Open(t, "char_lstm_whole.ref.pt")
	states := fixture.Open(t, "char_lstm.ref.pt")
	leaves := slices.Clone(whole.Leaves)
	for _, name := range []string{"h_n", "c_n"} {
		s, _ := states.Tensor(name)
		leaves = append(leaves, pickle.Leaf{Name: name, Value: s})
	}
	ref := convert.FromLeaves("states.ref.pt", leaves)
	opts := parity.Options{Load: convert.Options{Whole: true}}
	_, err := parity.Check(context.Background(), fixture.Open(t, "char_lstm_whole.pt"), ref, opts)
	var rerr *parity.ReferenceError
	if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "h_n, c_n: the whole model gives no final state") {
		t.Fatalf("got %v, want a ReferenceError naming h_n and c_n", err)
	}
	if p := rerr.Problems; len(p) != 1 || p[0].Kind != parity.ProblemNoFinalState || !slices.Equal(p[0].Entries, []string{"h_n", "c_n"}) {
		t.Errorf("problems %+v, want one ProblemNoFinalState of h_n, c_n", p)
	}
	opts.Ignore = []string{"h_n", "c_n"}
	r, err := parity.Check(context.Background(), fixture.Open(t, "char_lstm_whole.pt"), ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Pass || len(r.Tensors) != 1 || r.Tensors[0].Name != parity.RefOutput {
		t.Errorf("with h_n and c_n left out: pass %v, tensors %+v", r.Pass, r.Tensors)
	}
}

// TestTokenIDsProblem: token ids checked against a model loaded to run from its recurrent
// module are a ProblemTokenIDs when the whole model around it starts with an Embedding
// (Load.Whole takes them), and a problem of no kind when no such model is known.
func TestTokenIDsProblem(t *testing.T) {
	ref := fixture.Open(t, "char_lstm_whole.ref.pt")
	for _, c := range []struct {
		model string
		kind  parity.ProblemKind
	}{{"char_lstm_whole.pt", parity.ProblemTokenIDs}, {"rnn_tanh.pt", parity.ProblemOther}} {
		_, err := parity.Check(context.Background(), fixture.Open(t, c.model), ref, parity.Options{})
		var rerr *parity.ReferenceError
		if !errors.As(err, &rerr) || len(rerr.Problems) != 1 || rerr.Problems[0].Kind != c.kind || !strings.Contains(err.Error(), "token ids") {
			t.Errorf("%s: %v, want one problem of kind %d", c.model, err, c.kind)
		}
	}
}

// TestIgnore: what a check cannot do without, the input (and, for Check, the output),
// left out is a *ReferenceError saying so, from Check and Run alike; an ignored initial
// state is zeros, said as ignored; a member of a tuple left out leaves the other.
func TestIgnore(t *testing.T) {
	ctx := context.Background()
	model := openParity(t, "lstm.pt")
	for _, c := range []struct {
		ignore string
		run    bool
		want   string
	}{
		{"input", false, "input is ignored, but the model runs on it"},
		{"input", true, "input is ignored, but the model runs on it"},
		{"output", false, "output is ignored, but it is what the model's output is compared with"},
		{"h_n", false, ""},
		{"h_n.0", false, ""},
		{"h_n.1", false, ""},
	} {
		opts := parity.Options{Ignore: []string{c.ignore}}
		ref := openParity(t, "hn_tuple.ref.pt")
		var err error
		var r *parity.Report
		if c.run {
			_, err = parity.Run(ctx, model, ref, opts)
		} else {
			r, err = parity.Check(ctx, model, ref, opts)
		}
		var rerr *parity.ReferenceError
		if c.want != "" {
			if !errors.As(err, &rerr) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ignore %s (run %v): %v, want a ReferenceError saying %q", c.ignore, c.run, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("ignore %s: %v", c.ignore, err)
			continue
		}
		var got []string
		for _, tr := range r.Tensors {
			got = append(got, tr.Name+"="+tr.Entry)
		}
		want := map[string][]string{"h_n": {"output=output"}, "h_n.0": {"output=output", "c_n=h_n.1"}, "h_n.1": {"output=output", "h_n=h_n.0"}}[c.ignore]
		if !r.Pass || !slices.Equal(got, want) {
			t.Errorf("ignore %s: pass %v, compared %v, want %v", c.ignore, r.Pass, got, want)
		}
	}

	// An ignored initial state: the model starts from zeros, which the report says.
	r, err := parity.Check(ctx, model, openParity(t, "h0_tuple.ref.pt"), parity.Options{Ignore: []string{"h0"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.InitialState != (parity.InitialState{H0: parity.Zeros, C0: parity.Zeros}) || !strings.Contains(r.String(), "h0 from zeros (ignored in the reference)") {
		t.Errorf("h0 ignored: initial state %+v, report:\n%s", r.InitialState, r)
	}

	// A file of one tensor is the input: there is nothing else to leave out.
	x, _ := openParity(t, "hn_tuple.ref.pt").Tensor("input")
	single := convert.FromLeaves("x.pt", []pickle.Leaf{{Name: "input", Value: x}})
	_, err = parity.Run(ctx, model, single, parity.Options{Ignore: []string{"input"}})
	var rerr *parity.ReferenceError
	if !errors.As(err, &rerr) || len(rerr.Problems) != 1 || rerr.Problems[0].Kind != parity.ProblemNotIgnored {
		t.Errorf("one tensor, input ignored: %v, want a ProblemNotIgnored", err)
	}
}

// TestBatchFirstGivenFalse: a batch_first given as False (Load.BatchFirstSet) contradicts a
// reference's True, in Check and Run alike; not given, the reference's decides.
func TestBatchFirstGivenFalse(t *testing.T) {
	ctx := context.Background()
	given := parity.Options{Load: convert.Options{BatchFirstSet: true}}
	_, err := parity.Check(ctx, openParity(t, "config_in_ref.pt"), openParity(t, "config_in_ref.ref.pt"), given)
	var rerr *parity.ReferenceError
	if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "batch_first is True in the reference, but False in the model's options") {
		t.Errorf("Check: %v, want the contradiction", err)
	}
	if _, err := parity.Run(ctx, openParity(t, "config_in_ref.pt"), openParity(t, "config_in_ref.ref.pt"), given); !errors.As(err, &rerr) {
		t.Errorf("Run: %v, want the contradiction", err)
	}
	r, err := parity.Check(ctx, openParity(t, "config_in_ref.pt"), openParity(t, "config_in_ref.ref.pt"), parity.Options{})
	if err != nil || !r.Pass || !r.Model.BatchFirst {
		t.Errorf("batch_first not given: %v, %v", err, r)
	}
}

// TestErrorsBlameTheirSource: what a reference gives is blamed on the reference, never on
// the caller's options: a batch_first the shapes would fit only where no file fixes it
// (and never when the layout is not what failed), a nonlinearity for a GRU, an LSTMCell's
// state by the cell's rule; and a model's file and a reference given the other way round
// are said to be, not listed as entries to leave out.
func TestErrorsBlameTheirSource(t *testing.T) {
	ctx := context.Background()
	errOf := func(model, ref *convert.Checkpoint, opts parity.Options) *parity.ReferenceError {
		t.Helper()
		_, err := parity.Check(ctx, model, ref, opts)
		var rerr *parity.ReferenceError
		if !errors.As(err, &rerr) {
			t.Fatalf("%s, %s: %v, want a ReferenceError", model.Path, ref.Path, err)
		}
		return rerr
	}
	with := func(name string, extra ...pickle.Leaf) *convert.Checkpoint {
		return convert.FromLeaves(name, append(slices.Clone(openParity(t, name).Leaves), extra...))
	}

	// Token ids: the dtype failed, not the layout, which fits either way.
	if rerr := errOf(openParity(t, "int_input.pt"), openParity(t, "int_input.ref.pt"), parity.Options{}); rerr.BatchFirst != nil || strings.Contains(rerr.Error(), "batch_first") {
		t.Errorf("int input: BatchFirst %v, %v", rerr.BatchFirst, rerr)
	}
	// The shapes fit batch_first=True only: the caller's to give, unless the reference
	// says False.
	model := openParity(t, "forgot_batch_first.pt")
	if rerr := errOf(model, with("forgot_batch_first_h0.ref.pt"), parity.Options{}); rerr.BatchFirst == nil || !*rerr.BatchFirst {
		t.Errorf("batch_first free: BatchFirst %v, %v", rerr.BatchFirst, rerr)
	}
	rerr := errOf(model, with("forgot_batch_first_h0.ref.pt", pickle.Leaf{Name: "batch_first", Value: false}), parity.Options{})
	if rerr.BatchFirst != nil || !strings.Contains(rerr.Error(), "the shapes fit a model with batch_first=True, but the reference's batch_first is False") {
		t.Errorf("batch_first False in the reference: BatchFirst %v, %v", rerr.BatchFirst, rerr)
	}

	// A nonlinearity in the reference of a GRU.
	rerr = errOf(openParity(t, "hidden_gru.pt"), with("hidden_gru.ref.pt", pickle.Leaf{Name: "nonlinearity", Value: "tanh"}), parity.Options{})
	if !strings.Contains(rerr.Error(), `the reference gives nonlinearity "tanh", which GRU(3, 5) does not have`) {
		t.Errorf("nonlinearity for a GRU: %v", rerr)
	}

	// A batch_first True in the reference of a cell.
	rerr = errOf(openParity(t, "cell_large.pt"), with("cell_large.ref.pt", pickle.Leaf{Name: "batch_first", Value: true}), parity.Options{})
	if !strings.Contains(rerr.Error(), "the reference gives batch_first True, which LSTMCell(8, 32) does not have") {
		t.Errorf("batch_first for a cell: %v", rerr)
	}

	// An LSTMCell's h0 without its c0.
	rerr = errOf(openParity(t, "cell_h0_without_c0.pt"), openParity(t, "cell_h0_without_c0.ref.pt"), parity.Options{})
	if !strings.Contains(rerr.Error(), "nn.LSTMCell takes its state as the tuple (h0, c0)") {
		t.Errorf("LSTMCell: %v", rerr)
	}

	// The files the other way round, for Check and Run.
	for _, run := range []bool{false, true} {
		model, ref := openParity(t, "h0_tuple.ref.pt"), openParity(t, "lstm.pt")
		var err error
		if run {
			_, err = parity.Run(ctx, model, ref, parity.Options{})
		} else {
			_, err = parity.Check(ctx, model, ref, parity.Options{})
		}
		if !errors.As(err, &rerr) || len(rerr.Unknown) != 0 || len(rerr.Problems) != 1 || rerr.Problems[0].Kind != parity.ProblemSwapped {
			t.Errorf("swapped (run %v): %v, want one ProblemSwapped", run, err)
		}
	}
	// A reference with entries outside the schema is not taken for a model.
	if rerr := errOf(openParity(t, "lstm.pt"), openParity(t, "misspelled.ref.pt"), parity.Options{}); len(rerr.Unknown) == 0 {
		t.Errorf("misspelled: %v", rerr)
	}
}

// TestSettingsSources: a report says where the model's batch_first and nonlinearity came
// from: the pickled module, the reference, the options or PyTorch's default, and nothing
// for a setting the model does not have.
func TestSettingsSources(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		model, ref string
		opts       convert.Options
		want       parity.Settings
	}{
		{"convert/module_rnn.pt", "convert/module_rnn.ref.pt", convert.Options{}, parity.Settings{BatchFirst: parity.FromModule, Nonlinearity: parity.FromModule}},
		{"parity/config_in_ref.pt", "parity/config_in_ref.ref.pt", convert.Options{}, parity.Settings{BatchFirst: parity.FromReference, Nonlinearity: parity.FromReference}},
		{"parity/config_in_ref.pt", "parity/config_in_ref.ref.pt", convert.Options{BatchFirst: true, Nonlinearity: "relu"}, parity.Settings{BatchFirst: parity.FromReference, Nonlinearity: parity.FromReference}},
		{"parity/forgot_relu.pt", "parity/forgot_relu.ref.pt", convert.Options{Nonlinearity: "relu"}, parity.Settings{BatchFirst: parity.FromDefault, Nonlinearity: parity.FromOptions}},
		{"parity/forgot_batch_first.pt", "parity/forgot_batch_first.ref.pt", convert.Options{BatchFirst: true}, parity.Settings{BatchFirst: parity.FromOptions}},
		{"parity/forgot_batch_first.pt", "parity/forgot_batch_first.ref.pt", convert.Options{}, parity.Settings{BatchFirst: parity.FromDefault}},
		{"parity/cell_forgot_relu.pt", "parity/cell_forgot_relu.ref.pt", convert.Options{}, parity.Settings{Nonlinearity: parity.FromDefault}},
	} {
		dir, name, _ := strings.Cut(c.model, "/")
		_, ref, _ := strings.Cut(c.ref, "/")
		model, err := convert.Open(fixture.Path(dir, name), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer model.Close()
		rcp, err := convert.Open(fixture.Path(dir, ref), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer rcp.Close()
		r, err := parity.Check(ctx, model, rcp, parity.Options{Load: c.opts})
		if err != nil {
			t.Errorf("%s %+v: %v", c.model, c.opts, err)
		} else if r.Settings != c.want {
			t.Errorf("%s %+v: settings %+v, want %+v", c.model, c.opts, r.Settings, c.want)
		}
	}
}

// TestStopped: Check and Run with a context that is done return an error that names the
// model's file and wraps the context's error, for a recurrent module, a cell stepped
// through a sequence and a whole model alike, never a *ReferenceError: the stop is the
// caller's, not a problem of the reference.
func TestStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, whole := range map[string]bool{"lstm_proj_bi": false, "cell_lstm_steps": false, "char_lstm_whole": true} {
		model, ref := fixture.Open(t, name+".pt"), fixture.Open(t, name+".ref.pt")
		opts := parity.Options{Load: convert.Options{Whole: whole}}
		_, cerr := parity.Check(ctx, model, ref, opts)
		_, rerr := parity.Run(ctx, model, ref, opts)
		for what, err := range map[string]error{"Check": cerr, "Run": rerr} {
			var re *parity.ReferenceError
			if !errors.Is(err, context.Canceled) || errors.As(err, &re) || err.Error() != model.Path+": context canceled" {
				t.Errorf("%s %s, stopped: %v; want %s: context canceled", what, name, err, model.Path)
			}
		}
	}
}

// TestMatches: the element rule, assert_close's, for values that are not finite too: an
// infinity matches only the same infinity, whatever the tolerance, a NaN only a NaN.
func TestMatches(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	tol := parity.Tolerance{Atol: 1e-5, Rtol: 1.3e-6}
	wide := parity.Tolerance{Atol: math.MaxFloat64, Rtol: 1e300}
	for _, c := range []struct {
		got, ref float64
		want     bool
	}{
		{1, 1 + 1e-6, true}, {1, 1 + 1e-4, false}, {0, 0, true},
		{inf, inf, true}, {-inf, -inf, true}, {inf, -inf, false}, {-inf, inf, false},
		{0.1, inf, false}, {inf, 0.1, false}, {math.MaxFloat64, inf, false},
		{nan, nan, true}, {nan, 1, false}, {1, nan, false}, {nan, inf, false}, {inf, nan, false},
	} {
		if got := tol.Matches(c.got, c.ref); got != c.want {
			t.Errorf("Matches(%v, %v) = %v, want %v", c.got, c.ref, got, c.want)
		}
		if !math.IsInf(c.got, 0) && !math.IsInf(c.ref, 0) && !math.IsNaN(c.got) && !math.IsNaN(c.ref) {
			continue
		}
		if got := wide.Matches(c.got, c.ref); got != c.want {
			t.Errorf("with atol %v, rtol %v: Matches(%v, %v) = %v, want %v", wide.Atol, wide.Rtol, c.got, c.ref, got, c.want)
		}
	}
}

// TestUnusableTolerance: a tolerance that is not finite numbers, zero or more, is an error
// of Check, and compares nothing in Compare, whose report keeps a JSON form.
func TestUnusableTolerance(t *testing.T) {
	model, ref := fixture.Open(t, "rnn_tanh.pt"), fixture.Open(t, "rnn_tanh.ref.pt")
	for _, tol := range []parity.Tolerance{{Atol: math.Inf(1)}, {Rtol: math.Inf(1)}, {Atol: math.NaN()}, {Rtol: -1}} {
		_, err := parity.Check(context.Background(), model, ref, parity.Options{Tolerance: func(_, _ pickle.DType) parity.Tolerance { return tol }})
		if err == nil || !strings.Contains(err.Error(), "finite number, zero or more") {
			t.Errorf("Check with %+v: %v", tol, err)
		}
		x := &rnn.Tensor[float32]{Data: []float32{1}, Shape: []int{1}}
		want, _ := pickle.NewTensor(pickle.F32, []int{1}, []byte{0, 0, 0x80, 0x3f})
		tr := parity.Compare("y", x, want, nil, &tol)
		if tr.Pass || tr.Rule != parity.RuleShape || !strings.Contains(tr.Reason, "finite number") {
			t.Errorf("Compare with %+v: %+v", tol, tr)
		}
		if _, err := json.Marshal(parity.NewReport(tr)); err != nil {
			t.Errorf("Compare with %+v: no JSON form: %v", tol, err)
		}
	}
}
