package rnn

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// sliceSteps returns steps [t0, t1) of x, a Forward input in c's layout (batched or not).
func sliceSteps[T Float](c Config, x *Tensor[T], t0, t1 int) *Tensor[T] {
	in := c.InputSize
	switch {
	case len(x.Shape) == 2:
		return &Tensor[T]{Data: x.Data[t0*in : t1*in], Shape: []int{t1 - t0, in}}
	case c.BatchFirst:
		N, L := x.Shape[0], x.Shape[1]
		s := newTensor[T](N, t1-t0, in)
		for n := 0; n < N; n++ {
			copy(s.Data[n*(t1-t0)*in:(n+1)*(t1-t0)*in], x.Data[(n*L+t0)*in:(n*L+t1)*in])
		}
		return s
	default:
		N := x.Shape[1]
		return &Tensor[T]{Data: x.Data[t0*N*in : t1*N*in], Shape: []int{t1 - t0, N, in}}
	}
}

// appendSteps appends the output of a Step to acc in Forward's layout (time-major for
// seq-first and unbatched; for batch_first acc is filled sequence by sequence at step t0).
func placeSteps[T Float](c Config, full []T, part *Tensor[T], t0, L int) {
	switch {
	case len(part.Shape) == 2 || !c.BatchFirst:
		copy(full[t0*len(part.Data)/part.Shape[0]:], part.Data)
	default:
		N, l, P := part.Shape[0], part.Shape[1], part.Shape[2]
		for n := 0; n < N; n++ {
			copy(full[(n*L+t0)*P:(n*L+t0+l)*P], part.Data[n*l*P:(n+1)*l*P])
		}
	}
}

// TestStepEqualsForward runs sequences through State.Step in parts of varied lengths and
// checks every output and the final state against one Forward over the whole sequence,
// bit for bit, for every mode, with and without biases, with proj_size, with several
// layers, in every layout and batch size, with every kernel set.
func TestStepEqualsForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	var cfgs []Config
	for _, mode := range []Mode{RNNTanh, RNNReLU, LSTM, GRU} {
		for _, layers := range []int{1, 3} {
			for _, bias := range []bool{true, false} {
				c := Config{Mode: mode, InputSize: 7, HiddenSize: 20, NumLayers: layers, Bias: bias, BatchFirst: layers == 3}
				cfgs = append(cfgs, c)
				if mode == LSTM {
					c.ProjSize = 9
					cfgs = append(cfgs, c)
				}
			}
		}
	}
	const L = 13
	chunks := [][]int{{1}, {2}, {3, 1, 5, 4}, {L}}
	for _, c := range cfgs {
		for _, o := range allOps[float32]() {
			m := build(c, randomParams[float32](c, rng), o)
			for _, N := range []int{0, 1, 2, 3, 7} { // 0: unbatched
				n := max(N, 1)
				var x, h0, c0 *Tensor[float32]
				P, H := c.outSize(), c.HiddenSize
				switch {
				case N == 0:
					x = randomTensor[float32](rng, L, c.InputSize)
					h0 = randomTensor[float32](rng, c.NumLayers, P)
					c0 = randomTensor[float32](rng, c.NumLayers, H)
				case c.BatchFirst:
					x = randomTensor[float32](rng, N, L, c.InputSize)
				default:
					x = randomTensor[float32](rng, L, N, c.InputSize)
				}
				if N > 0 {
					h0 = randomTensor[float32](rng, c.NumLayers, N, P)
					c0 = randomTensor[float32](rng, c.NumLayers, N, H)
				}
				if c.Mode != LSTM {
					c0 = nil
				}
				want, err := m.Forward(x, h0, c0)
				if err != nil {
					t.Fatal(err)
				}
				for _, ch := range chunks {
					name := fmt.Sprintf("%v layers=%d bias=%v proj=%d %s N=%d chunks=%v", c.Mode, c.NumLayers, c.Bias, c.ProjSize, o.name, N, ch)
					s, err := m.NewState(n)
					if err != nil {
						t.Fatal(err)
					}
					copy(s.H().Data, h0.Data)
					if c0 != nil {
						copy(s.C().Data, c0.Data)
					}
					got := make([]float32, len(want.Output.Data))
					for t0, i := 0, 0; t0 < L; i++ {
						t1 := min(L, t0+ch[i%len(ch)])
						y, err := s.Step(sliceSteps(c, x, t0, t1))
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						if nd := len(x.Shape); len(y.Shape) != nd || y.Shape[nd-1] != P {
							t.Fatalf("%s: output shape %v", name, y.Shape)
						}
						placeSteps(c, got, y, t0, L)
						t0 = t1
					}
					if !slices.Equal(got, want.Output.Data) {
						t.Errorf("%s: stepped output differs from Forward's by %g", name, maxDiff(got, want.Output.Data))
					}
					if !slices.Equal(s.H().Data, want.H.Data) {
						t.Errorf("%s: stepped h differs from h_n by %g", name, maxDiff(s.H().Data, want.H.Data))
					}
					if c.Mode == LSTM && !slices.Equal(s.C().Data, want.C.Data) {
						t.Errorf("%s: stepped c differs from c_n by %g", name, maxDiff(s.C().Data, want.C.Data))
					}
				}
			}
		}
	}
}

// TestCellStepsEqualForward steps a sequence through a cell, by its Forward and by a
// State, and checks both against a one-layer network's Forward, bit for bit.
func TestCellStepsEqualForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, mode := range []Mode{RNNTanh, RNNReLU, LSTM, GRU} {
		for _, bias := range []bool{true, false} {
			cc := CellConfig{Mode: mode, InputSize: 5, HiddenSize: 17, Bias: bias}
			mc := cc.model()
			for _, o := range allOps[float64]() {
				params := randomParams[float64](mc, rng)
				m := build(mc, params, o)
				cp := map[string][]float64{}
				for k, v := range params {
					cp[strings.TrimSuffix(k, "_l0")] = v
				}
				if err := checkParams(cc.Params(), cp); err != nil {
					t.Fatal(err)
				}
				cell := newCell(cc, cp, o)
				for _, N := range []int{1, 2, 4} {
					const L = 9
					x := randomTensor[float64](rng, L, N, 5)
					want, err := m.Forward(x, nil, nil)
					if err != nil {
						t.Fatal(err)
					}
					s, err := cell.NewState(N)
					if err != nil {
						t.Fatal(err)
					}
					var h, c *Tensor[float64]
					for step := 0; step < L; step++ {
						xt := &Tensor[float64]{Data: x.Data[step*N*5 : (step+1)*N*5], Shape: []int{N, 5}}
						if h, c, err = cell.Forward(xt, h, c); err != nil {
							t.Fatal(err)
						}
						y, err := s.Step(xt)
						if err != nil {
							t.Fatal(err)
						}
						w := want.Output.Data[step*N*17 : (step+1)*N*17]
						if !slices.Equal(h.Data, w) || !slices.Equal(y.Data, w) || !slices.Equal(s.H().Data, w) {
							t.Fatalf("%v bias=%v %s N=%d step %d: cell differs from Forward by %g", mode, bias, o.name, N, step, maxDiff(h.Data, w))
						}
					}
					if mode == LSTM && (!slices.Equal(c.Data, want.C.Data) || !slices.Equal(s.C().Data, want.C.Data)) {
						t.Errorf("%v %s N=%d: c differs from c_n", mode, o.name, N)
					}
				}
			}
		}
	}
}

// TestStepAllocations checks that a Step allocates nothing once the State's buffers have
// grown, for a Model and for a Cell.
func TestStepAllocations(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, c := range []Config{
		{Mode: LSTM, InputSize: 8, HiddenSize: 32, NumLayers: 2, Bias: true, ProjSize: 16},
		{Mode: GRU, InputSize: 8, HiddenSize: 32, NumLayers: 3, BatchFirst: true},
		{Mode: RNNTanh, InputSize: 8, HiddenSize: 32, NumLayers: 1, Bias: true},
	} {
		m, err := New(c, randomParams[float32](c, rng))
		if err != nil {
			t.Fatal(err)
		}
		for _, N := range []int{1, 4} {
			s, err := m.NewState(N)
			if err != nil {
				t.Fatal(err)
			}
			x := randomTensor[float32](rng, 1, N, 8)
			if c.BatchFirst {
				x.Shape = []int{N, 1, 8}
			}
			if _, err := s.Step(x); err != nil {
				t.Fatal(err)
			}
			if a := testing.AllocsPerRun(20, func() { s.Step(x) }); a != 0 {
				t.Errorf("%v N=%d: %v allocations per Step", c.Mode, N, a)
			}
		}
	}
	cell, err := NewCell(CellConfig{Mode: LSTM, InputSize: 8, HiddenSize: 32, Bias: true}, cellParams[float32](CellConfig{Mode: LSTM, InputSize: 8, HiddenSize: 32, Bias: true}, rng))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := cell.NewState(1)
	x := randomTensor[float32](rng, 8)
	s.Step(x)
	if a := testing.AllocsPerRun(20, func() { s.Step(x) }); a != 0 {
		t.Errorf("LSTMCell: %v allocations per Step", a)
	}
}

// TestStateSet checks the states a user sets between Steps: new values, in H().Data or C().Data
// or in slices of as many values given to them, step from there as Forward from h0 and c0
// does, bit for bit; a changed shape or a slice of another length is an error that changes
// nothing, from Step and StepContext, for a Model and a Cell.
func TestStateSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	c := Config{Mode: LSTM, InputSize: 3, HiddenSize: 4, NumLayers: 2, Bias: true, ProjSize: 2}
	m, err := New(c, randomParams[float32](c, rng))
	if err != nil {
		t.Fatal(err)
	}
	cc := CellConfig{Mode: LSTM, InputSize: 3, HiddenSize: 4, Bias: true}
	cell, err := NewCell(cc, cellParams[float32](cc, rng))
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := m.NewState(2)
	cs, _ := cell.NewState(2)
	for _, tc := range []struct {
		name      string
		s         *State[float32]
		x, h0, c0 *Tensor[float32]
	}{
		{name: "LSTM", s: ms, x: randomTensor[float32](rng, 3, 2, 3), h0: randomTensor[float32](rng, 2, 2, 2), c0: randomTensor[float32](rng, 2, 2, 4)},
		{name: "LSTMCell", s: cs, x: randomTensor[float32](rng, 2, 3), h0: randomTensor[float32](rng, 2, 4), c0: randomTensor[float32](rng, 2, 4)},
	} {
		var want *Tensor[float32]
		if tc.s.cell == nil {
			r, err := m.Forward(tc.x, tc.h0, tc.c0)
			if err != nil {
				t.Fatal(err)
			}
			want = r.Output
		} else {
			h, _, err := cell.Forward(tc.x, tc.h0, tc.c0)
			if err != nil {
				t.Fatal(err)
			}
			want = h
		}
		s := tc.s
		h, cst := s.H(), s.C()
		hData, cData, hShape := h.Data, cst.Data, slices.Clone(h.Shape)
		for _, bad := range []struct {
			what string
			set  func()
			msg  string
		}{
			{"H's Data shorter", func() { h.Data = h.Data[:1] }, "the state's h has 1 elements, shape " + fmt.Sprint(hShape) + " needs"},
			{"H's Data longer", func() { h.Data = make([]float32, 100) }, "the state's h has 100 elements"},
			{"H's Data nil", func() { h.Data = nil }, "the state's h has 0 elements"},
			{"C's Data shorter", func() { cst.Data = []float32{7} }, "the state's c has 1 elements"},
			{"H's Shape", func() { h.Shape = []int{9, 9} }, "the state's h has shape [9, 9], not the shape " + shapeString(hShape) + " it keeps"},
			{"H's Shape, as many values", func() { h.Shape = []int{len(hData)} }, "not the shape " + shapeString(hShape)},
			{"C's Shape nil", func() { cst.Shape = nil }, "the state's c has shape []"},
		} {
			for _, step := range []func() (*Tensor[float32], error){
				func() (*Tensor[float32], error) { return s.Step(tc.x) },
				func() (*Tensor[float32], error) {
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					return s.StepContext(ctx, tc.x)
				},
			} {
				copy(hData, tc.h0.Data)
				copy(cData, tc.c0.Data)
				bad.set()
				if y, err := step(); err == nil || y != nil || !strings.Contains(err.Error(), bad.msg) {
					t.Errorf("%s, %s: Step gave %v, %v, want an error containing %q", tc.name, bad.what, y, err, bad.msg)
				}
				if !slices.Equal(hData, tc.h0.Data) || !slices.Equal(cData, tc.c0.Data) {
					t.Errorf("%s, %s: the refused Step changed the state", tc.name, bad.what)
				}
				h.Data, cst.Data, h.Shape, cst.Shape = hData, cData, slices.Clone(hShape), slices.Clone(tc.c0.Shape)
			}
		}
		// Values set in place, or slices of as many values given to H and C, step as
		// Forward from h0 and c0.
		copy(h.Data, tc.h0.Data)
		copy(cst.Data, tc.c0.Data)
		y, err := s.Step(tc.x)
		if err != nil || !slices.Equal(y.Data, want.Data) {
			t.Errorf("%s: Step from values copied into H and C: %v, want Forward's output", tc.name, err)
		}
		h.Data, cst.Data = slices.Clone(tc.h0.Data), slices.Clone(tc.c0.Data)
		given := h.Data
		y, err = s.Step(tc.x)
		if err != nil || !slices.Equal(y.Data, want.Data) {
			t.Errorf("%s: Step from slices given to H and C: %v, want Forward's output", tc.name, err)
		}
		if &h.Data[0] != &given[0] || slices.Equal(given, tc.h0.Data) {
			t.Errorf("%s: Step did not write h_n into the slice given to H", tc.name)
		}
	}
}

// cellParams returns random parameters for a cell.
func cellParams[T Float](c CellConfig, rng *rand.Rand) map[string][]T {
	ps := map[string][]T{}
	for k, v := range randomParams[T](c.model(), rng) {
		ps[strings.TrimSuffix(k, "_l0")] = v
	}
	return ps
}

func TestStateErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	bi := Config{Mode: GRU, InputSize: 3, HiddenSize: 4, NumLayers: 1, Bidirectional: true}
	m, _ := New(bi, randomParams[float32](bi, rng))
	if _, err := m.NewState(1); !errors.Is(err, ErrNotStreamable) || !strings.Contains(err.Error(), "bidirectional") {
		t.Errorf("bidirectional NewState: %v", err)
	}
	c := Config{Mode: LSTM, InputSize: 3, HiddenSize: 4, NumLayers: 2, Bias: true}
	m, _ = New(c, randomParams[float32](c, rng))
	if _, err := m.NewState(-1); err == nil {
		t.Error("NewState(-1) succeeded")
	}
	s, _ := m.NewState(2)
	z := func(sh ...int) *Tensor[float32] { return newTensor[float32](sh...) }
	for _, tc := range []struct {
		x   *Tensor[float32]
		msg string
	}{
		{z(5, 3, 3), "input batch size 3, the state's is 2"},
		{z(5, 3), "input batch size 1, the state's is 2"},
		{z(5, 2, 4), "Expected 3, got 4"},
		{z(0, 2, 3), "larger than 0"},
		{z(5, 2, 3, 1), "2-D or 3-D"},
		{nil, "input is nil"},
	} {
		if _, err := s.Step(tc.x); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Step(%v): %v, want an error containing %q", tc.x, err, tc.msg)
		}
	}
	var zero State[float32]
	if _, err := zero.Step(z(1, 2, 3)); err == nil {
		t.Error("the zero State stepped")
	}
	// Reset returns to the zero state: the same outputs as a fresh State.
	x := randomTensor[float32](rng, 4, 2, 3)
	y1, _ := s.Step(x)
	first := slices.Clone(y1.Data)
	s.Step(x)
	s.Reset()
	y3, _ := s.Step(x)
	if !slices.Equal(first, y3.Data) {
		t.Error("Reset did not restore the zero state")
	}
}

func TestCellErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	lc := CellConfig{Mode: LSTM, InputSize: 3, HiddenSize: 4, Bias: true}
	lstm, err := NewCell(lc, cellParams[float32](lc, rng))
	if err != nil {
		t.Fatal(err)
	}
	rc := CellConfig{Mode: RNNReLU, InputSize: 3, HiddenSize: 4}
	relu, err := NewCell(rc, cellParams[float32](rc, rng))
	if err != nil {
		t.Fatal(err)
	}
	z := func(sh ...int) *Tensor[float32] { return newTensor[float32](sh...) }
	for _, tc := range []struct {
		cell     *Cell[float32]
		x, h, cx *Tensor[float32]
		msg      string
	}{
		{lstm, z(2, 5), nil, nil, "LSTMCell: input has inconsistent input_size: got 5 expected 3"},
		{lstm, z(2, 3), z(3, 4), z(3, 4), "Input batch size 2 doesn't match hidden0 batch size 3"},
		{lstm, z(2, 3), z(2, 5), z(2, 4), "hidden0 has inconsistent hidden_size: got 5, expected 4"},
		{lstm, z(2, 3), z(2, 4), z(2, 5), "hidden1 has inconsistent hidden_size: got 5, expected 4"},
		{lstm, z(2, 2, 3), nil, nil, "LSTMCell: Expected input to be 1-D or 2-D but received 3-D tensor"},
		{lstm, z(3), z(1, 4), z(1, 4), "h should be 1-D but got 2-D"},
		{lstm, z(2, 3), z(2, 4), nil, "h and c must be given together"},
		{relu, z(2, 3), nil, z(2, 4), "RNNCell: c is given"},
		{relu, z(2, 3), z(3, 4), nil, "RNNCell: Input batch size 2 doesn't match hidden0 batch size 3"},
	} {
		if _, _, err := tc.cell.Forward(tc.x, tc.h, tc.cx); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: %v, want an error containing %q", tc.x, err, tc.msg)
		}
	}
	// Unbatched input gives unbatched results.
	h, c, err := lstm.Forward(z(3), z(4), z(4))
	if err != nil || !slices.Equal(h.Shape, []int{4}) || !slices.Equal(c.Shape, []int{4}) {
		t.Errorf("unbatched: %v %v %v", h, c, err)
	}
	if _, err := NewCell(lc, map[string][]float32{"weight_ih": make([]float32, 48)}); err == nil || !strings.Contains(err.Error(), "missing parameter weight_hh (16, 4)") {
		t.Errorf("NewCell with missing parameters: %v", err)
	}
	if _, err := NewCell(CellConfig{Mode: GRU, InputSize: 0, HiddenSize: 2}, map[string][]float32{}); err == nil {
		t.Error("NewCell accepted input size 0")
	}
	got := fmt.Sprint(lc.Params())
	if want := "[{weight_ih [16 3]} {weight_hh [16 4]} {bias_ih [16]} {bias_hh [16]}]"; got != want {
		t.Errorf("Params() = %s, want %s", got, want)
	}
}

// TestStepAllocationsSplit checks that the steps of a State whose products are split
// over the cores (W_hh beyond splitMinBytes, GOMAXPROCS 2) allocate nothing either: the
// State keeps its helper goroutines from step to step, and they end with the State.
// (testing.AllocsPerRun runs at GOMAXPROCS 1, where nothing is split.)
func TestStepAllocationsSplit(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	goroutines := runtime.NumGoroutine()
	defer func() {
		// The helpers end once the State is unreachable.
		for i := 0; i < 100 && runtime.NumGoroutine() > goroutines; i++ {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > goroutines {
			t.Errorf("%d goroutines after the State is gone, %d before it", n, goroutines)
		}
	}()
	c := Config{Mode: GRU, InputSize: 8, HiddenSize: 320, NumLayers: 1, Bias: true}
	m, err := New(c, randomParams[float32](c, rand.New(rand.NewPCG(41, 42))))
	if err != nil {
		t.Fatal(err)
	}
	if parts := splitParts(&m.layers[0][0].whh); parts < 2 {
		t.Fatalf("W_hh of %d bytes is not split", 4*len(m.layers[0][0].whh.data))
	}
	s, err := m.NewState(1)
	if err != nil {
		t.Fatal(err)
	}
	x := randomTensor[float32](rand.New(rand.NewPCG(43, 44)), 1, 1, 8)
	if _, err := s.Step(x); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const steps = 2000
	for range steps {
		s.Step(x)
	}
	runtime.ReadMemStats(&after)
	// The steps allocate nothing; a helper that goes to sleep on its condition variable
	// between products may have the runtime allocate a waiter record, now and then (a
	// few times in thousands of steps), which a count over all goroutines includes.
	if n := after.Mallocs - before.Mallocs; n > steps/100 {
		t.Errorf("%d allocations in %d split steps", n, steps)
	}
	// And the split steps give Forward's results.
	full := randomTensor[float32](rand.New(rand.NewPCG(45, 46)), 9, 1, 8)
	want, _ := m.Forward(full, nil, nil)
	s.Reset()
	for t0 := 0; t0 < 9; t0++ {
		y, _ := s.Step(sliceSteps(c, full, t0, t0+1))
		if !slices.Equal(y.Data, want.Output.Data[t0*320:(t0+1)*320]) {
			t.Fatalf("split step %d differs from Forward", t0)
		}
	}
}
