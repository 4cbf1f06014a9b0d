package parity_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/parity"
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
