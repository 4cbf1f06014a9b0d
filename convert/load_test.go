package convert_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
)

// TestLoad loads every case of testdata/convert/cases.json with its flags: the invalid
// ones fail with every missing, unexpected and mis-shaped key, the ambiguous ones list
// their candidates without a prefix, and the others load the configuration, prefix and
// dtype PyTorch saved. (package parity's TestCheck runs them.)
func TestLoad(t *testing.T) {
	for name, fx := range fixture.Cases(t) {
		t.Run(name, func(t *testing.T) {
			cp := fixture.Open(t, name+".pt")
			m, err := convert.Load(cp, fx.Options())
			switch fx.Outcome {
			case "invalid":
				var verr *convert.ValidationError
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
				_, err := convert.Load(cp, convert.Options{})
				var aerr *convert.AmbiguousError
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
			if got := m.Info().Module; fx.Config != "" && got != fx.Config {
				t.Errorf("config: got %s, want %s", got, fx.Config)
			}
			if fx.Prefix != "" && m.Prefix != fx.Prefix {
				t.Errorf("prefix: got %q, want %q", m.Prefix, fx.Prefix)
			}
			if fx.DType != "" && string(m.DType) != fx.DType {
				t.Errorf("dtype: got %s, want %s", m.DType, fx.DType)
			}
		})
	}
}
