package convert_test

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/pickle"
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
			case "no_whole":
				if err == nil || !strings.Contains(err.Error(), fx.Error) {
					t.Fatalf("Load: got %v, want an error containing %q", err, fx.Error)
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
			var layers []string
			for _, l := range m.Layers {
				layers = append(layers, strconv.Quote(l.Prefix)+" "+l.Module)
			}
			if fx.Layers != nil && !slices.Equal(layers, fx.Layers) {
				t.Errorf("layers:\n got %q\nwant %q", layers, fx.Layers)
			}
		})
	}
}

// TestLoadStrict: what load_state_dict(strict=True) refuses is refused, with every
// offending key named, and options that do not apply to the module are errors.
func TestLoadStrict(t *testing.T) {
	open := func(name string) *convert.Checkpoint {
		cp, err := convert.Open(fixture.Path("parity", name), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cp.Close() })
		return cp
	}
	for _, c := range []struct {
		file string
		opts convert.Options
		want []string
	}{
		{"unexpected_key.pt", convert.Options{}, []string{"unexpected keys: lstm.extra_param"}},
		{"transposed_lstm.pt", convert.Options{}, []string{"weight_ih_l0: shape [3 16] in file, [16 3] expected (transposed", "weight_hh_l0: shape [4 16] in file, [16 4] expected (transposed"}},
		{"missing_reverse.pt", convert.Options{}, []string{"missing keys: bias_hh_l1_reverse, bias_ih_l1_reverse, weight_hh_l1_reverse, weight_ih_l1_reverse"}},
		{"lstm.pt", convert.Options{Nonlinearity: "tanh"}, []string{"nonlinearity option applies to nn.RNN only"}},
		{"config_conflict.pt", convert.Options{BatchFirst: true}, []string{"batch_first=False"}},
		{"config_conflict.pt", convert.Options{Nonlinearity: "relu"}, []string{`nonlinearity "relu"`, "RNN_TANH"}},
	} {
		_, err := convert.Load(open(c.file), c.opts)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s %+v: error %v lacks %q", c.file, c.opts, err, w)
			}
		}
	}
	// The same module loads with options that agree with it.
	if _, err := convert.Load(open("config_conflict.pt"), convert.Options{Nonlinearity: "tanh"}); err != nil {
		t.Error(err)
	}
	// A batch_first given as False holds against a module whose batch_first is True, as
	// a true one does against False; given as False, it agrees with False.
	explicitFalse := convert.Options{BatchFirstSet: true}
	if _, err := convert.Load(fixture.Open(t, "module_rnn.pt"), explicitFalse); err == nil || !strings.Contains(err.Error(), "batch_first=False, but the pickled RNN module has batch_first=True") {
		t.Errorf("batch_first given False, module True: %v", err)
	}
	if m, err := convert.Load(fixture.Open(t, "module_rnn.pt"), convert.Options{}); err != nil || !m.Config.BatchFirst {
		t.Errorf("batch_first not given, module True: %v, batch_first %v", err, m != nil && m.Config.BatchFirst)
	}
	if _, err := convert.Load(open("config_conflict.pt"), explicitFalse); err != nil {
		t.Error(err)
	}
}

// TestCharLSTMExampleIsPyTorchs ties the output Example_charLSTM must print (which go test
// checks) to the text PyTorch generated, testdata/charlstm/generated.txt.
func TestCharLSTMExampleIsPyTorchs(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "func Example_charLSTM() {")
	if !ok {
		t.Fatal("no Example_charLSTM")
	}
	body, _, _ = strings.Cut(body, "\n}\n")
	_, out, ok := strings.Cut(body, "// Output:\n")
	if !ok {
		t.Fatal("Example_charLSTM has no output")
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		lines = append(lines, strings.TrimPrefix(strings.TrimSpace(l), "// "))
	}
	want, err := os.ReadFile(fixture.Path("charlstm", "generated.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines, "\n"); !strings.HasSuffix(got, strings.TrimSpace(string(want))) {
		t.Errorf("Example_charLSTM's output\n%s\ndoes not end with PyTorch's text\n%s", got, want)
	}
}

// TestLoadOthersUnderPrefix: the tensors under a recurrent module's prefix that no
// recurrent module has are unexpected, as load_state_dict(strict=True) reports them, in
// file order; those under another prefix and the module's own parameters are not.
func TestLoadOthersUnderPrefix(t *testing.T) {
	leaves := rnnLeaves(t, 1)
	for _, name := range []string{"m0.extra", "head.weight", "m0.sub.weight", "m0x"} {
		x, err := pickle.NewTensor(pickle.F32, []int{1}, []byte{0, 0, 0x80, 0x3f})
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, pickle.Leaf{Name: name, Value: x})
	}
	_, err := convert.Load(convert.FromLeaves("m", leaves), convert.Options{Prefix: "m0."})
	var verr *convert.ValidationError
	if !errors.As(err, &verr) || !slices.Equal(verr.Unexpected, []string{"m0.extra", "m0.sub.weight"}) {
		t.Fatalf("Load: %v, want the unexpected m0.extra, m0.sub.weight", err)
	}
}

// TestCheckInput: CheckInput calls a shape with a negative dimension what it is, not a
// pass past the output limit; an overflowing shape is past the limit; a small one passes.
func TestCheckInput(t *testing.T) {
	m, err := convert.Load(fixture.Open(t, "cell_lstm_steps.pt"), convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var le *pickle.LimitError
	for _, shape := range [][]int{{-5, 2, 3}, {5, -2, 3}, {-1 << 30, 1 << 30, 3}} {
		err := m.CheckInput(shape, pickle.F32)
		if err == nil || errors.As(err, &le) || !strings.Contains(err.Error(), "negative dimension") {
			t.Errorf("CheckInput(%v): %v, want an error naming the negative dimension", shape, err)
		}
	}
	if err := m.CheckInput([]int{1 << 30, 1 << 30, 3}, pickle.F32); !errors.As(err, &le) || le.Limit != convert.LimitOutput {
		t.Errorf("CheckInput of an overflowing shape: %v, want the output limit's error", err)
	}
	if err := m.CheckInput([]int{5, 2, 3}, pickle.F32); err != nil {
		t.Errorf("CheckInput([5 2 3]): %v", err)
	}
}
