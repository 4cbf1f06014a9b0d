package parity_test

import (
	"context"
	"slices"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/parity"
)

// check loads the model of testdata/convert/NAME.pt with opts and checks it against
// NAME.ref.pt.
func check(t *testing.T, name string, opts convert.Options) *parity.Report {
	t.Helper()
	m, err := convert.Load(fixture.Open(t, name+".pt"), opts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parity.Check(context.Background(), m, fixture.Open(t, name+".ref.pt"), parity.DefaultTolerance)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCheck checks every loadable case of testdata/convert/cases.json against the
// reference PyTorch computed: the good ones pass with rounding errors only, on output
// and h_n at least, and the mismatching one fails.
func TestCheck(t *testing.T) {
	for name, fx := range fixture.Cases(t) {
		if fx.Outcome == "invalid" {
			continue // does not load; package convert's TestLoad covers it
		}
		t.Run(name, func(t *testing.T) {
			r := check(t, name, fx.Options())
			if want := fx.Outcome != "mismatch"; r.Pass != want {
				t.Fatalf("pass = %v, want %v: %+v", r.Pass, want, r.Tensors)
			}
			if r.Pass && r.MaxAbsErr > 2e-6 {
				t.Errorf("max abs err %g", r.MaxAbsErr)
			}
			if len(r.Tensors) < 2 {
				t.Errorf("compared %d tensors, want output and h_n at least", len(r.Tensors))
			}
			t.Logf("%s: max abs err %.3g", r.Model.Module, r.MaxAbsErr)
		})
	}
}

// TestFlagsMatter shows the cases that need a flag fail without it: the flags are not
// decoration.
func TestFlagsMatter(t *testing.T) {
	for _, name := range []string{"rnn_relu", "gru_batch_first"} {
		if r := check(t, name, convert.Options{}); r.Pass {
			t.Errorf("%s passes without its flags", name)
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
}
