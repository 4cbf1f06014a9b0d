package rnn

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// stopCases are forward passes long enough (a few billion multiply-adds) to be stopped
// on their way, one for each way the work is spread over goroutines.
var stopCases = []struct {
	name string
	c    Config
	L, N int
	// workers and dirPar are the plan the case is for, with GOMAXPROCS 2; split tells
	// that its steps are split by panels.
	workers int
	dirPar  bool
	split   bool
}{
	{"tanh one goroutine", Config{Mode: RNNTanh, InputSize: 64, HiddenSize: 256, NumLayers: 2, Bias: true}, 10000, 1, 1, false, false},
	{"relu batch split", Config{Mode: RNNReLU, InputSize: 64, HiddenSize: 256, NumLayers: 1, Bias: true}, 3000, 12, 2, false, false},
	{"lstm proj bidirectional", Config{Mode: LSTM, InputSize: 64, HiddenSize: 256, NumLayers: 2, Bias: true, Bidirectional: true, ProjSize: 128}, 1500, 2, 1, true, false},
	{"gru bidirectional batch split", Config{Mode: GRU, InputSize: 64, HiddenSize: 192, NumLayers: 1, Bias: true, Bidirectional: true}, 1500, 12, 2, false, false},
	{"lstm batch_first batch split", Config{Mode: LSTM, InputSize: 256, HiddenSize: 256, NumLayers: 2, Bias: true, BatchFirst: true}, 1000, 6, 2, false, false},
	{"lstm split steps", Config{Mode: LSTM, InputSize: 256, HiddenSize: 512, NumLayers: 1, Bias: true}, 1500, 1, 1, false, true},
}

// TestForwardContext: a forward pass whose context is cancelled before it starts, or on
// its way, returns no result and an error wrapping context.Canceled, in a fraction of the
// time the whole pass takes, whatever spreads its work over goroutines (the batch,
// the two directions, the panels of W_hh); every goroutine it started has ended, and the
// Model then computes what it computed before, to the bit, with or without a context.
func TestForwardContext(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	rng := rand.New(rand.NewPCG(31, 32))
	for _, tc := range stopCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.c, randomParams[float32](tc.c, rng))
			if err != nil {
				t.Fatal(err)
			}
			if w, dp := m.plan(tc.L, tc.N); w != tc.workers || dp != tc.dirPar {
				t.Fatalf("plan: %d workers, dirPar %v; want %d, %v", w, dp, tc.workers, tc.dirPar)
			}
			if split := splitParts(&m.layers[0][0].whh) > 1; split != tc.split {
				t.Fatalf("steps split: %v, want %v", split, tc.split)
			}
			shape := []int{tc.L, tc.N, tc.c.InputSize}
			if tc.c.BatchFirst {
				shape = []int{tc.N, tc.L, tc.c.InputSize}
			}
			x := randomTensor[float32](rng, shape...)
			goroutines := runtime.NumGoroutine()

			begin := time.Now()
			want, err := m.Forward(x, nil, nil)
			whole := time.Since(begin)
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if res, err := m.ForwardContext(ctx, x, nil, nil); res != nil || !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled before: result %v, error %v; want none, context.Canceled", res != nil, err)
			}

			stopsPromptly(t, whole, func(ctx context.Context) error {
				res, err := m.ForwardContext(ctx, x, nil, nil)
				if res != nil {
					t.Fatal("a cancelled pass gave a result")
				}
				return err
			})
			waitGoroutines(t, goroutines)

			got, err := m.ForwardContext(context.Background(), x, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "output after a cancelled pass", got.Output.Data, want.Output.Data)
			equal(t, "h_n after a cancelled pass", got.H.Data, want.H.Data)
			live, cancelLive := context.WithCancel(context.Background())
			defer cancelLive()
			got, err = m.ForwardContext(live, x, nil, nil) // looks at live's Done on its way
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "output with a live context", got.Output.Data, want.Output.Data)
			equal(t, "h_n with a live context", got.H.Data, want.H.Data)
			if tc.c.Mode == LSTM {
				equal(t, "c_n with a live context", got.C.Data, want.C.Data)
			}
			waitGoroutines(t, goroutines)
		})
	}
}

// stopsPromptly runs run, which takes about whole without a context, with a context
// cancelled after whole/20, and fails unless it returns an error wrapping
// context.Canceled before whole/2. A machine busy with other work may keep a goroutine
// from running for a while: a late return is tried again, twice at most.
func stopsPromptly(t *testing.T, whole time.Duration, run func(context.Context) error) {
	t.Helper()
	for try := 1; ; try++ {
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(whole/20, cancel)
		begin := time.Now()
		err := run(ctx)
		took := time.Since(begin)
		timer.Stop()
		cancel()
		t.Logf("whole pass %v; cancelled after %v, returned after %v", whole, whole/20, took)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled on its way: error %v; want context.Canceled", err)
		}
		if took <= whole/2 {
			return
		}
		if try == 3 {
			t.Errorf("cancelled after %v, returned after %v; the whole pass takes %v", whole/20, took, whole)
			return
		}
	}
}

// waitGoroutines waits a little for the goroutines to be back to n (a helper told to end
// returns a moment later), and fails if they are not.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > n {
		t.Errorf("%d goroutines, %d before the passes", got, n)
	}
}

// TestSequentialForwardContext: a Sequential stops in its recurrent layer, and before a
// layer, once its context is done, with an error wrapping context.Canceled; with a live
// context it computes what Forward computes.
func TestSequentialForwardContext(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	c := Config{Mode: GRU, InputSize: 64, HiddenSize: 256, NumLayers: 2, Bias: true}
	m, err := New(c, randomParams[float32](c, rng))
	if err != nil {
		t.Fatal(err)
	}
	lc := LinearConfig{InFeatures: 256, OutFeatures: 8, Bias: true}
	lp := map[string][]float32{}
	for _, p := range lc.Params() {
		lp[p.Name] = randomTensor[float32](rng, p.Shape...).Data
	}
	lin, err := NewLinear(lc, lp)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSequential[float32](m, lin)
	if err != nil {
		t.Fatal(err)
	}
	x := randomTensor[float32](rng, 10000, 1, 64)
	begin := time.Now()
	want, err := s.Forward(x)
	whole := time.Since(begin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if y, err := s.ForwardContext(ctx, x); y != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: result %v, error %v", y != nil, err)
	}
	stopsPromptly(t, whole, func(ctx context.Context) error {
		y, err := s.ForwardContext(ctx, x)
		if y != nil {
			t.Fatal("a cancelled pass gave a result")
		}
		return err
	})
	got, err := s.ForwardContext(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "output", got.Data, want.Data)
}

// TestStepContext: a State's StepContext over many steps, cancelled before it starts or
// on its way (steps split over the State's helpers), returns no output and an error
// wrapping context.Canceled and leaves the state as it was; stepping on from there gives
// what one uninterrupted Forward gives, to the bit.
func TestStepContext(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	rng := rand.New(rand.NewPCG(35, 36))
	c := Config{Mode: LSTM, InputSize: 64, HiddenSize: 512, NumLayers: 2, Bias: true}
	m, err := New(c, randomParams[float32](c, rng))
	if err != nil {
		t.Fatal(err)
	}
	if splitParts(&m.layers[0][0].whh) < 2 {
		t.Fatal("the steps are not split")
	}
	const first, L = 5, 600
	x := randomTensor[float32](rng, first+L, 1, c.InputSize)
	want, err := m.Forward(x, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.NewState(1)
	if err != nil {
		t.Fatal(err)
	}
	head := &Tensor[float32]{Data: x.Data[:first*c.InputSize], Shape: []int{first, 1, c.InputSize}}
	rest := &Tensor[float32]{Data: x.Data[first*c.InputSize:], Shape: []int{L, 1, c.InputSize}}
	if _, err := s.Step(head); err != nil {
		t.Fatal(err)
	}
	h, cs := append([]float32(nil), s.H().Data...), append([]float32(nil), s.C().Data...)
	goroutines := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if y, err := s.StepContext(ctx, rest); y != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: output %v, error %v", y != nil, err)
	}
	equal(t, "h, cancelled before", s.H().Data, h)

	live, cancelLive := context.WithCancel(context.Background())
	defer cancelLive()
	begin := time.Now()
	if _, err := s.StepContext(live, rest); err != nil {
		t.Fatal(err)
	}
	whole := time.Since(begin)
	stopsPromptly(t, whole, func(ctx context.Context) error {
		copy(s.H().Data, h)
		copy(s.C().Data, cs)
		y, err := s.StepContext(ctx, rest)
		if y != nil {
			t.Fatal("a cancelled step gave an output")
		}
		equal(t, "h, cancelled on its way", s.H().Data, h)
		equal(t, "c, cancelled on its way", s.C().Data, cs)
		return err
	})
	waitGoroutines(t, goroutines)

	y, err := s.Step(rest)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "output after a cancelled step", y.Data, want.Output.Data[first*c.HiddenSize:])
	equal(t, "h after a cancelled step", s.H().Data, want.H.Data)
	equal(t, "c after a cancelled step", s.C().Data, want.C.Data)
}
