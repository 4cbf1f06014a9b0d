package bench_test

import (
	"testing"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/bench"
	"github.com/ptport/ptport/convert/internal/fixture"
)

// TestForwardKinds times a cell stepping a sequence, a whole char model from token ids and
// a pickled Sequential of layers, batched and not.
func TestForwardKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts convert.Options
	}{
		{"cell_lstm_steps", convert.Options{}},
		{"cell_rnn_module", convert.Options{}},
		{"char_lstm_whole", convert.Options{Whole: true}},
		{"module_custom_charrnn", convert.Options{Whole: true}},
		{"module_seq_mlp", convert.Options{}},
		{"module_seq_embed_gru", convert.Options{Whole: true}},
	} {
		m, err := convert.Load(fixture.Open(t, tc.name+".pt"), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{0, 3} {
			r, err := bench.Forward(m, 7, batch, time.Millisecond)
			if err != nil {
				t.Fatalf("%s batch %d: %v", tc.name, batch, err)
			}
			if r.Iterations < 5 || r.NsPerForward <= 0 {
				t.Errorf("%s batch %d: %+v", tc.name, batch, r)
			}
		}
	}
}
