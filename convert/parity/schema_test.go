package parity

import (
	"strings"
	"testing"

	"github.com/ptport/ptport/pickle"
)

func TestClosest(t *testing.T) {
	for name, want := range map[string]string{
		"hn": "h_n", "cn": "c_n", "HN": "h_n", "outputs": "output", "x": "input", "y": "output",
		"h_0": "h0", "inputt": "input", "batchfirst": "batch_first", "nonlinearty": "nonlinearity",
		"epoch": "", "optimizer": "", "z": "",
	} {
		if got := closest(name); got != want {
			t.Errorf("closest(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestParseReference covers the schema's shapes of entries that PyTorch's fixtures do
// not: wrong value types, a state given twice, tuples of the wrong length.
func TestParseReference(t *testing.T) {
	x, err := pickle.NewTensor(pickle.F32, []int{2, 1, 1}, make([]byte, 8))
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(name string, v any) pickle.Leaf { return pickle.Leaf{Name: name, Value: v} }
	for _, c := range []struct {
		leaves []pickle.Leaf
		err    string // "" for none
	}{
		{[]pickle.Leaf{leaf("input", x), leaf("output", x)}, ""},
		{[]pickle.Leaf{leaf("input", x), leaf("output", x), leaf("hx.0", x), leaf("hx.1", x), leaf("h_n.0", x), leaf("h_n.1", x)}, ""},
		{[]pickle.Leaf{leaf("input", x)}, `no "output"`},
		{[]pickle.Leaf{leaf("output", x)}, `no "input"`},
		{[]pickle.Leaf{leaf("input", x), leaf("output", x), leaf("h0", x), leaf("hidden", x)}, "both give the initial state"},
		{[]pickle.Leaf{leaf("input", x), leaf("output", x), leaf("h0.0", x), leaf("h0.1", x), leaf("c0", x)}, "c0 is given twice"},
		{[]pickle.Leaf{leaf("input", x), leaf("output", x), leaf("h_n.0", x), leaf("h_n.1", x), leaf("c_n", x)}, "c_n is given twice"},
		{[]pickle.Leaf{leaf("input", x), leaf("output", x), leaf("h0.0", x), leaf("h0.1", x), leaf("h0.2", x)}, "a tensor or a tuple of two"},
		{[]pickle.Leaf{leaf("input.0", x), leaf("output", x)}, "want a tensor, found"},
		{[]pickle.Leaf{leaf("input", x), leaf("output", int64(3))}, "want a tensor, found"},
		{[]pickle.Leaf{leaf("input", x), leaf("output.0", x), leaf("output.1", x)}, "the whole tuple the module returns"},
		{[]pickle.Leaf{leaf("input", x), leaf("output.0", x), leaf("output.1.0", x), leaf("output.1.1", x)}, "the whole tuple the module returns"},
		{[]pickle.Leaf{leaf("input", x), leaf("output", x), leaf("batch_first", "yes")}, "batch_first: want True or False"},
		{[]pickle.Leaf{leaf("input", x), leaf("output", x), leaf("nonlinearity", "sigmoid")}, `nonlinearity: want "tanh" or "relu"`},
		{[]pickle.Leaf{leaf("input", x), leaf("output", x), leaf("note", "trained")}, "note: not a reference entry (known:"},
	} {
		_, err := parseReference("ref.pt", nil, c.leaves, nil, true)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%v: %v", c.leaves, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%v: error %v, want %q", c.leaves, err, c.err)
		}
	}
	// Ignoring an entry covers its tuple.
	r, err := parseReference("ref.pt", nil, []pickle.Leaf{leaf("input", x), leaf("output", x), leaf("hn.0", x), leaf("hn.1", x)}, []string{"hn"}, true)
	if err != nil || len(r.ignored) != 2 {
		t.Errorf("ignored %v: %v", r, err)
	}
}
