package convert_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
)

// TestInspectWhole: Inspect lists the whole model that Load finds, from the shapes and
// pickled modules alone: around a state_dict's recurrent module, in a pickled
// Sequential, a Sequential without a recurrent module, and why it is not known when
// two heads fit one place.
func TestInspectWhole(t *testing.T) {
	cases := []struct {
		name    string
		modules []string // the classes of the layers, in order; nil when not known
		seq     bool
	}{
		{"char_lstm.pt", []string{"Embedding", "LSTM", "Linear"}, false},
		{"module_seq_embed_gru.pt", []string{"Embedding", "Tanh", "GRU"}, false},
		{"module_sequential.pt", []string{"LSTM", "Linear"}, false},
		{"module_seq_mlp.pt", []string{"Linear", "ReLU", "Dropout", "LayerNorm", "Linear", "LogSoftmax"}, true},
		{"two_heads_whole.pt", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cp := fixture.Open(t, c.name)
			inv := convert.Inspect(cp)
			if len(inv.Whole) != 1 {
				t.Fatalf("whole models %+v, want one", inv.Whole)
			}
			w := inv.Whole[0]
			var classes []string
			for _, l := range w.Layers {
				classes = append(classes, l.Module[:strings.IndexByte(l.Module, '(')])
			}
			if !reflect.DeepEqual(classes, c.modules) || w.Sequential != c.seq {
				t.Errorf("%+v, want the modules %v (Sequential %v)", w, c.modules, c.seq)
			}
			m, err := convert.Load(cp, convert.Options{Prefix: w.Prefix})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(w.Layers, m.Layers) {
				t.Errorf("Inspect finds %+v, Load %+v", w.Layers, m.Layers)
			}
			if c.modules == nil {
				_, err := convert.Load(cp, convert.Options{Whole: true})
				if w.Unknown == "" || err == nil || !strings.Contains(err.Error(), w.Unknown) {
					t.Errorf("unknown: %q; Load with Whole: %v", w.Unknown, err)
				}
			}
		})
	}
	// A recurrent module alone is no whole model of more.
	if inv := convert.Inspect(fixture.Open(t, "rnn_tanh.pt")); len(inv.Whole) != 0 {
		t.Errorf("rnn_tanh.pt: %+v", inv.Whole)
	}
}

// TestInspectModulesBeside: recurrent modules side by side, more than could be placed
// around any of them, leave the model around each not known, saying how many modules
// are beside it, without weighing each.
func TestInspectModulesBeside(t *testing.T) {
	inv := convert.Inspect(convert.FromLeaves("rnns", rnnLeaves(t, 40)))
	if len(inv.Models) != 40 || len(inv.Whole) != 40 {
		t.Fatalf("%d recurrent modules, %d whole models; want 40 of each", len(inv.Models), len(inv.Whole))
	}
	for _, w := range inv.Whole {
		if w.Layers != nil || !strings.HasPrefix(w.Unknown, "39 modules are beside RNN(1, 1, bias=False) at the root, more than fit around it") {
			t.Errorf("around %q: %+v, want not known: 39 modules beside it", w.Prefix, w)
		}
	}
}
