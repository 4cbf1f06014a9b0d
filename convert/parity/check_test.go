package parity_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/pickle"
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
