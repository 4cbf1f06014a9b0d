package convert_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// TestUnnamedErrors: the errors of a checkpoint read from memory without a name read as
// what was wrong, where they started with ": " (the empty name and its colon); named,
// the same errors start with the name, and either way errors.Is and errors.As find what
// they wrap.
func TestUnnamedErrors(t *testing.T) {
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "testdata", "convert", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	load := func(b []byte) func(name string) error {
		return func(name string) error {
			cp, err := convert.NewCheckpoint(name, bytes.NewReader(b), int64(len(b)), nil)
			if err != nil {
				t.Fatalf("NewCheckpoint: %v", err)
			}
			defer cp.Close()
			_, err = convert.Load(cp, convert.Options{})
			return err
		}
	}
	open := func(ctx context.Context, b []byte) func(name string) error {
		return func(name string) error {
			cp, err := convert.NewCheckpointContext(ctx, name, bytes.NewReader(b), int64(len(b)), nil)
			if err == nil {
				cp.Close()
			}
			return err
		}
	}
	tanh := read("rnn_tanh.pt")
	var format *pickle.FormatError
	var invalid *convert.ValidationError
	var ambiguous *convert.AmbiguousError
	var selection *convert.SelectionError
	for _, c := range []struct {
		what string
		err  func(name string) error
		is   func(error) bool
	}{
		{"a truncated zip", open(context.Background(), tanh[:len(tanh)/2]), func(err error) bool { return errors.As(err, &format) }},
		{"a cancelled read", open(cancelled, tanh), func(err error) bool { return errors.Is(err, context.Canceled) }},
		{"no recurrent module", load(read("rnn_tanh.ref.pt")), func(err error) bool { return err != nil }},
		{"invalid keys", load(read("invalid_keys.pt")), func(err error) bool { return errors.As(err, &invalid) }},
		{"two modules", load(read("two_modules.pt")), func(err error) bool { return errors.As(err, &ambiguous) }},
		{"a selection of nothing", func(name string) error {
			cp, err := convert.NewCheckpoint(name, bytes.NewReader(tanh), int64(len(tanh)), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cp.Close()
			_, err = cp.Select(convert.Selection{Paths: []string{"no_such"}})
			return err
		}, func(err error) bool { return errors.As(err, &selection) }},
	} {
		unnamed, named := c.err(""), c.err("m.pt")
		if unnamed == nil || named == nil || !c.is(unnamed) || !c.is(named) {
			t.Errorf("%s: errors %v and %v, not of the kind wanted", c.what, unnamed, named)
			continue
		}
		if u := unnamed.Error(); strings.HasPrefix(u, ":") || strings.HasPrefix(u, " ") || strings.Contains(u, "m.pt") {
			t.Errorf("%s, unnamed: %q", c.what, u)
		}
		if n := named.Error(); !strings.HasPrefix(n, "m.pt: ") && !strings.HasPrefix(n, "m.pt holds ") {
			t.Errorf("%s, named m.pt: %q, want it first", c.what, n)
		}
	}
}
