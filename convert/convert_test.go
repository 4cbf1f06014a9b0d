package convert

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixture describes one case of testdata/convert/cases.json, written by gen.py.
type fixture struct {
	Flags      []string `json:"flags"`
	Outcome    string   `json:"outcome"`
	Config     string   `json:"config"`
	Prefix     string   `json:"prefix"`
	Prefixes   []string `json:"prefixes"`
	DType      string   `json:"dtype"`
	Missing    []string `json:"missing"`
	Unexpected []string `json:"unexpected"`
	Mismatched []string `json:"mismatched"`
}

const fixtures = "../testdata/convert"

func loadFixtures(t *testing.T) map[string]fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]fixture
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 10 {
		t.Fatalf("cases.json lists %d cases", len(cases))
	}
	return cases
}

// optionsOf turns a case's command-line flags into Options.
func optionsOf(flags []string) Options {
	var o Options
	for i := 0; i < len(flags); i++ {
		switch flags[i] {
		case "--nonlinearity":
			i++
			o.Nonlinearity = flags[i]
		case "--prefix":
			i++
			o.Prefix = flags[i]
		case "--batch-first":
			o.BatchFirst = true
		}
	}
	return o
}

func openFixture(t *testing.T, name string) *Checkpoint {
	t.Helper()
	cp, err := Open(filepath.Join(fixtures, name), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	return cp
}

func TestFixtures(t *testing.T) {
	for name, fx := range loadFixtures(t) {
		t.Run(name, func(t *testing.T) {
			cp := openFixture(t, name+".pt")
			m, err := Load(cp, optionsOf(fx.Flags))
			switch fx.Outcome {
			case "invalid":
				var verr *ValidationError
				if !errors.As(err, &verr) {
					t.Fatalf("Load: got %v, want a ValidationError", err)
				}
				for _, c := range []struct {
					got, want []string
					what      string
				}{{verr.Missing, fx.Missing, "missing"}, {verr.Unexpected, fx.Unexpected, "unexpected"}} {
					if !slices.Equal(c.got, c.want) {
						t.Errorf("%s keys: got %v, want %v", c.what, c.got, c.want)
					}
				}
				if len(verr.Mismatched) != len(fx.Mismatched) || !strings.HasPrefix(verr.Mismatched[0], fx.Mismatched[0]+":") {
					t.Errorf("mismatched: got %v, want %v", verr.Mismatched, fx.Mismatched)
				}
				return
			case "ambiguous":
				_, err := Load(cp, Options{})
				var aerr *AmbiguousError
				if !errors.As(err, &aerr) {
					t.Fatalf("Load without --prefix: got %v, want an AmbiguousError", err)
				}
				for _, p := range fx.Prefixes {
					if !strings.Contains(aerr.Error(), `"`+p+`"`) {
						t.Errorf("ambiguity error %q does not list prefix %q", aerr, p)
					}
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(m.Config); fx.Config != "" && got != fx.Config {
				t.Errorf("config: got %s, want %s", got, fx.Config)
			}
			if fx.Prefix != "" && m.Prefix != fx.Prefix {
				t.Errorf("prefix: got %q, want %q", m.Prefix, fx.Prefix)
			}
			if fx.DType != "" && string(m.DType) != fx.DType {
				t.Errorf("dtype: got %s, want %s", m.DType, fx.DType)
			}
			r, err := Check(m, openFixture(t, name+".ref.pt"), DefaultTolerance)
			if err != nil {
				t.Fatal(err)
			}
			if want := fx.Outcome != "mismatch"; r.Pass != want {
				t.Fatalf("pass = %v, want %v: %+v", r.Pass, want, r.Tensors)
			}
			if r.Pass && r.MaxAbsErr > 2e-6 {
				t.Errorf("max abs err %g", r.MaxAbsErr)
			}
			if len(r.Tensors) < 2 {
				t.Errorf("compared %d tensors, want output and h_n at least", len(r.Tensors))
			}
			t.Logf("%s: max abs err %.3g", describe(m.Config), r.MaxAbsErr)
		})
	}
}

// TestFlagsMatter shows the cases that need a flag fail without it: the flags are not
// decoration.
func TestFlagsMatter(t *testing.T) {
	for _, name := range []string{"rnn_relu", "gru_batch_first"} {
		cp := openFixture(t, name+".pt")
		m, err := Load(cp, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Check(m, openFixture(t, name+".ref.pt"), DefaultTolerance)
		if err != nil {
			t.Fatal(err)
		}
		if r.Pass {
			t.Errorf("%s passes without its flags", name)
		}
	}
}

func TestStepErrors(t *testing.T) {
	m, err := Load(openFixture(t, "drifted.pt"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Check(m, openFixture(t, "drifted.ref.pt"), DefaultTolerance)
	if err != nil {
		t.Fatal(err)
	}
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
	for _, ext := range []string{".svg", ".png"} {
		out := filepath.Join(t.TempDir(), "err"+ext)
		if err := Plot(r, out); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(out); err != nil || fi.Size() < 1000 {
			t.Errorf("plot %s: %v", out, err)
		}
	}
}
