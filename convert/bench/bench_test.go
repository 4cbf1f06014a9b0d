package bench_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/bench"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/pickle"
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
			r, err := bench.Forward(context.Background(), m, 7, batch, time.Millisecond)
			if err != nil {
				t.Fatalf("%s batch %d: %v", tc.name, batch, err)
			}
			if r.Iterations < 5 || r.NsPerForward <= 0 {
				t.Errorf("%s batch %d: %+v", tc.name, batch, r)
			}
		}
	}
}

// TestForwardLimit: a pass larger than the model's OutputLimit, or one whose element count
// overflows, is refused before its input is made, with the limit's error; -1 lifts it.
func TestForwardLimit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		seq, batch int
		limit      int64
	}{
		{"overflow", 100_000_000, 100_000_000, 0},
		{"past the default", 1000, 1_000_000, 0},
		{"past a set limit", 100, 10, 1 << 10},
	} {
		m, err := convert.Load(fixture.Open(t, "cell_lstm_steps.pt"), convert.Options{OutputLimit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		_, err = bench.Forward(context.Background(), m, tc.seq, tc.batch, time.Millisecond)
		var le *pickle.LimitError
		if !errors.As(err, &le) || le.Limit != convert.LimitOutput {
			t.Errorf("%s: seq %d batch %d: got %v, want the output limit's error", tc.name, tc.seq, tc.batch, err)
		}
	}
	m, err := convert.Load(fixture.Open(t, "cell_lstm_steps.pt"), convert.Options{OutputLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bench.Forward(context.Background(), m, 100, 10, time.Millisecond); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

// TestForwardCancel: a context cancelled while Forward measures stops it at the next pass,
// long before its minimum time, with an error that wraps the context's; one cancelled
// before it starts runs nothing.
func TestForwardCancel(t *testing.T) {
	m, err := convert.Load(fixture.Open(t, "cell_lstm_steps.pt"), convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = bench.Forward(ctx, m, 7, 1, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want an error wrapping context.Canceled", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("stopped after %v", d)
	}
	if _, err := bench.Forward(ctx, m, 7, 1, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before the start: got %v", err)
	}
}

// TestForwardStopsWithinPass: a context done during a pass stops the pass itself, for
// every kind of model Forward runs (a recurrent module, a cell stepping, a whole model
// from token ids, a Stream of cells), at once: the pass does not go on looking at it.
func TestForwardStopsWithinPass(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts convert.Options
	}{
		{"rnn_tanh", convert.Options{}},
		{"cell_lstm_steps", convert.Options{}},
		{"char_lstm_whole", convert.Options{Whole: true}},
		{"module_seq_embed_gru", convert.Options{Whole: true}},
		{"cell_rnn_module", convert.Options{Whole: true}},
	} {
		tc.opts.OutputLimit = -1
		m, err := convert.Load(fixture.Open(t, tc.name+".pt"), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		// The first look is Forward's own, before the warm-up pass; the pass looks
		// between its steps, far more than twice over 400,000 of them.
		ctx := &fixture.StopAfter{Context: context.Background(), N: 3}
		_, err = bench.Forward(ctx, m, 400_000, 1, time.Hour)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "after 0 passes") {
			t.Errorf("%s: %v, want a stop within the warm-up pass, wrapping context.Canceled", tc.name, err)
		}
		if ctx.Looks() > 5 {
			t.Errorf("%s: looked at the context %d times, want 3 and the stop's own looks", tc.name, ctx.Looks())
		}
	}
}
