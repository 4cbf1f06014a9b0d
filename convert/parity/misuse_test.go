package parity_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/rnn"
)

// TestTruthOtherCheckpoint checks that Truth given a checkpoint other than the one its
// model was loaded from says so, where it panicked in gonum (a smaller checkpoint) or
// computed the truth of the other tensors (a larger one).
func TestTruthOtherCheckpoint(t *testing.T) {
	large := openParity(t, "gru_large.pt")  // GRU(8, 32)
	small := openParity(t, "hidden_gru.pt") // GRU(3, 5)
	for _, c := range []struct {
		model, other *convert.Checkpoint
		ref          string
	}{{large, small, "gru_large.ref.pt"}, {small, large, "hidden_gru.ref.pt"}} {
		m, err := convert.Load(c.model, convert.Options{})
		if err != nil {
			t.Fatal(err)
		}
		x, _ := openParity(t, c.ref).Tensor("input")
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("Truth of %s with %s panicked: %v", c.model.Path, c.other.Path, r)
				}
			}()
			_, err = parity.Truth(context.Background(), c.other, m, x, nil, nil)
			if err == nil || !strings.Contains(err.Error(), "the model was not loaded from this checkpoint") {
				t.Errorf("Truth of %s with %s: %v, want the error that the model is not the checkpoint's", c.model.Path, c.other.Path, err)
			}
		}()
		if _, err := parity.Truth(context.Background(), c.model, m, x, nil, nil); err != nil {
			t.Errorf("Truth of %s with its own checkpoint: %v", c.model.Path, err)
		}
	}
}

// TestNilArguments checks that Check, Run and Truth return an error for a nil checkpoint
// or model, and for a Model that convert.Load did not make, where they panicked or said
// the input did not fit 0 features.
func TestNilArguments(t *testing.T) {
	ctx := context.Background()
	cp := openParity(t, "gru_large.pt")
	ref := openParity(t, "gru_large.ref.pt")
	x, _ := ref.Tensor("input")
	for name, call := range map[string]func() error{
		"Check nil model": func() error { _, err := parity.Check(ctx, nil, ref, parity.Options{}); return err },
		"Check nil ref":   func() error { _, err := parity.Check(ctx, cp, nil, parity.Options{}); return err },
		"Run nil":         func() error { _, err := parity.Run(ctx, cp, nil, parity.Options{}); return err },
		"Truth nil cp":    func() error { _, err := parity.Truth(ctx, nil, &convert.Model{}, x, nil, nil); return err },
		"Truth nil model": func() error { _, err := parity.Truth(ctx, cp, nil, x, nil, nil); return err },
		"Truth zero model": func() error {
			_, err := parity.Truth(ctx, cp, &convert.Model{}, x, nil, nil)
			if err != nil && !strings.Contains(err.Error(), "not made by convert.Load") {
				t.Errorf("Truth of the zero Model: %v", err)
			}
			return err
		},
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s panicked: %v", name, r)
				}
			}()
			if err := call(); err == nil {
				t.Errorf("%s: no error", name)
			}
		}()
	}
}

// TestTruthChangedModel checks that Truth refuses a Model whose fields were changed after
// Load, as Forward does, where it computed the truth of the changed configuration
// (batch_first here) while Go ran the one Load built.
func TestTruthChangedModel(t *testing.T) {
	cp := openParity(t, "gru_large.pt")
	x, _ := openParity(t, "gru_large.ref.pt").Tensor("input")
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Config.BatchFirst = true
	if _, err := parity.Truth(context.Background(), cp, m, x, nil, nil); err == nil || !strings.Contains(err.Error(), "Model.Config was changed after Load") {
		t.Errorf("Truth of a changed Model: %v", err)
	}
}

// TestNewReportText checks that the text of a report gathered by NewReport, which has no
// model and no reference file to name, starts with its table, where it started with an
// empty line.
func TestNewReportText(t *testing.T) {
	ref := openParity(t, "gru_large.ref.pt")
	want, _ := ref.Tensor("output")
	v, err := want.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	r := parity.NewReport(parity.Compare("output", &rnn.Tensor[float32]{Data: v, Shape: want.Shape}, want, nil, nil))
	if s := r.String(); !strings.HasPrefix(s, "TENSOR ") || !r.Pass {
		t.Errorf("the report of a reference's own values:\n%q", s)
	}
}

// TestUnnamedReference: a reference read from memory without a name, that is no usable
// reference (a model's file), is "not a usable reference", where the error started
// with ": "; named, it starts with its name.
func TestUnnamedReference(t *testing.T) {
	model := openParity(t, "hidden_gru.pt")
	b, err := os.ReadFile(fixture.Path("parity", "hidden_gru.pt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "r.pt"} {
		ref, err := convert.NewCheckpoint(name, bytes.NewReader(b), int64(len(b)), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = parity.Check(context.Background(), model, ref, parity.Options{})
		want := "not a usable reference"
		if name != "" {
			want = name + ": " + want
		}
		var rerr *parity.ReferenceError
		if !errors.As(err, &rerr) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("reference named %q: %v, want a *ReferenceError, %q first", name, err, want)
		}
		ref.Close()
	}
}
