package rnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestNotebook reproduces the notebook's example: RNN(2, 4, 1) with weight_ih_l0 =
// [[1,5],[2,6],[3,7],[4,8]], weight_hh_l0 = I4, bias_ih_l0 = [0.1,0,0,0], bias_hh_l0 = 0,
// input zeros (2, 3, 2) and h0 zeros. The notebook printed 0.0997 and 0.1971 for the first
// hidden unit at steps 0 and 1.
func TestNotebook(t *testing.T) {
	c := Config{Mode: RNNTanh, InputSize: 2, HiddenSize: 4, NumLayers: 1, Bias: true}
	for _, withH0 := range []bool{true, false} {
		m, err := New(c, map[string][]float32{
			"weight_ih_l0": {1, 5, 2, 6, 3, 7, 4, 8},
			"weight_hh_l0": {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1},
			"bias_ih_l0":   {0.1, 0, 0, 0},
			"bias_hh_l0":   {0, 0, 0, 0},
		})
		if err != nil {
			t.Fatal(err)
		}
		x := newTensor[float32](2, 3, 2)
		var h0 *Tensor[float32]
		if withH0 {
			h0 = newTensor[float32](1, 3, 4)
		}
		res, err := m.Forward(x, h0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Output.Shape, []int{2, 3, 4}) || !slices.Equal(res.H.Shape, []int{1, 3, 4}) || res.C != nil {
			t.Fatalf("shapes: output %v, h_n %v, c_n %v", res.Output.Shape, res.H.Shape, res.C)
		}
		for n := 0; n < 3; n++ {
			if got := fmt.Sprintf("%.4f", res.Output.Data[(0*3+n)*4]); got != "0.0997" {
				t.Errorf("y[0][%d][0] = %s, notebook 0.0997", n, got)
			}
			if got := fmt.Sprintf("%.4f", res.Output.Data[(1*3+n)*4]); got != "0.1971" {
				t.Errorf("y[1][%d][0] = %s, notebook 0.1971", n, got)
			}
		}
		if !slices.Equal(res.H.Data, res.Output.Data[12:24]) {
			t.Errorf("h_n = %v, want y[1] = %v", res.H.Data, res.Output.Data[12:24])
		}
	}
}

func TestModeAndParams(t *testing.T) {
	for _, tc := range []struct {
		m     Mode
		s     string
		gates int
	}{{RNNTanh, "RNN_TANH", 1}, {RNNReLU, "RNN_RELU", 1}, {LSTM, "LSTM", 4}, {GRU, "GRU", 3}, {Mode(9), "Mode(9)", 0}} {
		if tc.m.String() != tc.s || tc.m.Gates() != tc.gates {
			t.Errorf("%d: %s %d, want %s %d", int(tc.m), tc.m, tc.m.Gates(), tc.s, tc.gates)
		}
	}
	c := Config{Mode: LSTM, InputSize: 3, HiddenSize: 5, NumLayers: 2, Bias: true, Bidirectional: true, ProjSize: 2}
	var got []string
	for _, p := range c.Params() {
		got = append(got, fmt.Sprintf("%s%v", p.Name, p.Shape))
	}
	want := []string{
		"weight_ih_l0[20 3]", "weight_hh_l0[20 2]", "bias_ih_l0[20]", "bias_hh_l0[20]", "weight_hr_l0[2 5]",
		"weight_ih_l0_reverse[20 3]", "weight_hh_l0_reverse[20 2]", "bias_ih_l0_reverse[20]", "bias_hh_l0_reverse[20]", "weight_hr_l0_reverse[2 5]",
		"weight_ih_l1[20 4]", "weight_hh_l1[20 2]", "bias_ih_l1[20]", "bias_hh_l1[20]", "weight_hr_l1[2 5]",
		"weight_ih_l1_reverse[20 4]", "weight_hh_l1_reverse[20 2]", "bias_ih_l1_reverse[20]", "bias_hh_l1_reverse[20]", "weight_hr_l1_reverse[2 5]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Params:\n got %v\nwant %v", got, want)
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Mode: GRU, InputSize: 1, HiddenSize: 1, NumLayers: 1}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		edit func(*Config)
		msg  string
	}{
		{func(c *Config) { c.Mode = 7 }, "unknown mode"},
		{func(c *Config) { c.InputSize = 0 }, "input size"},
		{func(c *Config) { c.HiddenSize = -1 }, "hidden size"},
		{func(c *Config) { c.NumLayers = 0 }, "number of layers"},
		{func(c *Config) { c.ProjSize = 1 }, "only supported for LSTM"},
		{func(c *Config) { c.Mode, c.HiddenSize, c.ProjSize = LSTM, 4, 4 }, "smaller than hidden_size"},
		{func(c *Config) { c.Mode, c.ProjSize = LSTM, -1 }, "positive integer"},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: error %v, want one containing %q", c, err, tc.msg)
		}
	}
}

// randomParams returns parameters for c drawn uniformly from ±1/sqrt(H), as PyTorch
// initializes them.
func randomParams[T Float](c Config, rng *rand.Rand) map[string][]T {
	k := 1 / math.Sqrt(float64(c.HiddenSize))
	ps := map[string][]T{}
	for _, p := range c.Params() {
		n := 1
		for _, s := range p.Shape {
			n *= s
		}
		v := make([]T, n)
		for i := range v {
			v[i] = T((2*rng.Float64() - 1) * k)
		}
		ps[p.Name] = v
	}
	return ps
}

func randomTensor[T Float](rng *rand.Rand, shape ...int) *Tensor[T] {
	t := newTensor[T](shape...)
	for i := range t.Data {
		t.Data[i] = T(rng.NormFloat64())
	}
	return t
}

func TestNewErrors(t *testing.T) {
	c := Config{Mode: RNNTanh, InputSize: 2, HiddenSize: 3, NumLayers: 1, Bias: true}
	good := randomParams[float64](c, rand.New(rand.NewPCG(1, 2)))
	for _, tc := range []struct {
		name string
		edit func(map[string][]float64)
		msg  string
	}{
		{"missing", func(p map[string][]float64) { delete(p, "bias_hh_l0") }, "missing parameter bias_hh_l0 (3,)"},
		{"extra", func(p map[string][]float64) { p["weight_hr_l0"] = nil }, "unexpected parameter weight_hr_l0"},
		{"size", func(p map[string][]float64) { p["weight_ih_l0"] = p["weight_ih_l0"][:5] }, "weight_ih_l0 has 5 values, shape (3, 2) needs 6"},
	} {
		p := map[string][]float64{}
		for k, v := range good {
			p[k] = v
		}
		tc.edit(p)
		if _, err := New(c, p); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.msg)
		}
	}
	if _, err := New(Config{Mode: LSTM, InputSize: 1, HiddenSize: 2, NumLayers: 1, ProjSize: 3}, good); err == nil {
		t.Error("New accepted an invalid Config")
	}
}

// TestForwardErrors checks the shape errors against PyTorch's messages.
func TestForwardErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rnn := Config{Mode: RNNTanh, InputSize: 3, HiddenSize: 4, NumLayers: 2, Bias: true}
	lstm := Config{Mode: LSTM, InputSize: 3, HiddenSize: 4, NumLayers: 2, Bias: true, ProjSize: 2}
	rnnBF := rnn
	rnnBF.BatchFirst = true
	z := func(s ...int) *Tensor[float32] { return newTensor[float32](s...) }
	for _, tc := range []struct {
		c         Config
		x, h0, c0 *Tensor[float32]
		msg       string
	}{
		{rnn, z(5, 2, 3), z(1, 2, 4), nil, "Expected hidden size (2, 2, 4), got [1, 2, 4]"},
		{rnn, z(5, 2, 2), nil, nil, "input.size(-1) must be equal to input_size. Expected 3, got 2"},
		{rnn, z(5, 3), z(2, 1, 4), nil, "For unbatched 2-D input, h0 should also be 2-D but got 3-D tensor"},
		{rnn, z(5, 3), z(3, 4), nil, "Expected hidden size (2, 1, 4), got [3, 1, 4]"},
		{rnn, z(5, 2, 3), z(2, 4), nil, "For batched 3-D input, h0 should also be 3-D but got 2-D tensor"},
		{rnn, z(5, 2, 3, 1), nil, nil, "expected input to be 2-D or 3-D but received 4-D tensor"},
		{rnn, z(0, 2, 3), nil, nil, "Expected sequence length to be larger than 0 in RNN"},
		{rnn, z(5, 2, 3), nil, z(2, 2, 4), "c0 is given but RNN_TANH has no cell state"},
		{rnnBF, z(5, 2, 3), z(2, 2, 4), nil, "Expected hidden size (2, 5, 4), got [2, 2, 4]"},
		// A state laid out batch first, as x is: the error says the state's batch is second.
		{rnnBF, z(3, 5, 3), z(3, 2, 4), nil, "Expected hidden size (2, 3, 4), got [3, 2, 4]: h0 is (layers*directions, batch, features) even with batch_first, its batch second"},
		{lstm, z(5, 3, 3), z(2, 3, 2), z(3, 2, 4), "Expected hidden[1] size (2, 3, 4), got [3, 2, 4]: c0 is (layers*directions, batch, features) even with batch_first"},
		{lstm, z(5, 2, 3), z(2, 2, 4), z(2, 2, 4), "Expected hidden[0] size (2, 2, 2), got [2, 2, 4]"},
		{lstm, z(5, 2, 3), z(2, 2, 2), z(2, 2, 2), "Expected hidden[1] size (2, 2, 4), got [2, 2, 2]"},
		{lstm, z(5, 2, 3), z(2, 2, 2), nil, "LSTM: h0 and c0 must be given together"},
		{lstm, z(5, 2, 3), nil, z(2, 2, 4), "LSTM: h0 and c0 must be given together"},
		{lstm, z(5, 3), z(2, 2), nil, "LSTM: h0 and c0 must be given together"},
		{rnn, &Tensor[float32]{Data: make([]float32, 5), Shape: []int{2, 1, 3}}, nil, nil, "input has 5 elements, shape [2 1 3] needs 6"},
		{rnn, nil, nil, nil, "input is nil"},
	} {
		m, err := New(tc.c, randomParams[float32](tc.c, rng))
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Forward(tc.x, tc.h0, tc.c0)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: error %v, want one containing %q", tc.x, err, tc.msg)
		}
	}
	var zero Model[float32]
	if _, err := zero.Forward(z(1, 1, 3), nil, nil); err == nil {
		t.Error("the zero Model ran")
	}
	// A batch of zero rows is valid and gives empty results, as in PyTorch.
	m, _ := New(rnn, randomParams[float32](rnn, rng))
	res, err := m.Forward(z(5, 0, 3), nil, nil)
	if err != nil || !slices.Equal(res.Output.Shape, []int{5, 0, 4}) || !slices.Equal(res.H.Shape, []int{2, 0, 4}) {
		t.Errorf("empty batch: %v, %v", res, err)
	}
}

// maxDiff returns the largest absolute difference of two equally long slices.
func maxDiff[T Float](a, b []T) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestLayoutsAgree runs the same data as seq-first, batch_first and one sequence at a time
// unbatched, on one goroutine and on several, and checks they agree.
func TestLayoutsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []Config{
		{Mode: RNNTanh, InputSize: 16, HiddenSize: 64, NumLayers: 2, Bias: true, Bidirectional: true},
		{Mode: LSTM, InputSize: 16, HiddenSize: 48, NumLayers: 2, Bias: true, Bidirectional: true, ProjSize: 24},
		{Mode: GRU, InputSize: 16, HiddenSize: 40, NumLayers: 1, Bias: false},
		{Mode: RNNReLU, InputSize: 16, HiddenSize: 33, NumLayers: 3, Bias: true},
	} {
		const L, N = 30, 12 // large enough for the parallel paths
		params := randomParams[float32](c, rng)
		m, err := New(c, params)
		if err != nil {
			t.Fatal(err)
		}
		bf := c
		bf.BatchFirst = true
		mbf, _ := New(bf, params)
		D, P := c.directions(), c.outSize()
		x := randomTensor[float32](rng, L, N, c.InputSize)
		h0 := randomTensor[float32](rng, D*c.NumLayers, N, P)
		var c0 *Tensor[float32]
		if c.Mode == LSTM {
			c0 = randomTensor[float32](rng, D*c.NumLayers, N, c.HiddenSize)
		}
		prev := runtime.GOMAXPROCS(1)
		serial, err := m.Forward(x, h0, c0)
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		par, err := m.Forward(x, h0, c0)
		if err != nil {
			t.Fatal(err)
		}
		// Layout mistakes give differences of the size of the values; the summation order
		// of a tile (which depends on the rows it holds) only rounding differences.
		const tol = 1e-5
		if d := maxDiff(serial.Output.Data, par.Output.Data); d > tol {
			t.Errorf("%v: parallel output differs by %g", c.Mode, d)
		}
		// batch_first: transpose x in, output back.
		xbf := newTensor[float32](N, L, c.InputSize)
		for tt := 0; tt < L; tt++ {
			for n := 0; n < N; n++ {
				copy(xbf.Data[(n*L+tt)*c.InputSize:][:c.InputSize], x.Data[(tt*N+n)*c.InputSize:])
			}
		}
		rbf, err := mbf.Forward(xbf, h0, c0)
		if err != nil {
			t.Fatal(err)
		}
		for tt := 0; tt < L; tt++ {
			for n := 0; n < N; n++ {
				a := serial.Output.Data[(tt*N+n)*D*P:][:D*P]
				b := rbf.Output.Data[(n*L+tt)*D*P:][:D*P]
				if d := maxDiff(a, b); d > tol {
					t.Fatalf("%v: batch_first output (%d,%d) differs by %g", c.Mode, tt, n, d)
				}
			}
		}
		if d := maxDiff(serial.H.Data, rbf.H.Data); d > tol {
			t.Errorf("%v: batch_first h_n differs by %g", c.Mode, d)
		}
		// Unbatched, sequence by sequence.
		for n := 0; n < N; n++ {
			xs := newTensor[float32](L, c.InputSize)
			for tt := 0; tt < L; tt++ {
				copy(xs.Data[tt*c.InputSize:][:c.InputSize], x.Data[(tt*N+n)*c.InputSize:])
			}
			hs := newTensor[float32](D*c.NumLayers, P)
			for l := 0; l < D*c.NumLayers; l++ {
				copy(hs.Data[l*P:][:P], h0.Data[(l*N+n)*P:])
			}
			var cs *Tensor[float32]
			if c0 != nil {
				H := c.HiddenSize
				cs = newTensor[float32](D*c.NumLayers, H)
				for l := 0; l < D*c.NumLayers; l++ {
					copy(cs.Data[l*H:][:H], c0.Data[(l*N+n)*H:])
				}
			}
			r, err := m.Forward(xs, hs, cs)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Output.Shape, []int{L, D * P}) || !slices.Equal(r.H.Shape, []int{D * c.NumLayers, P}) {
				t.Fatalf("unbatched shapes %v %v", r.Output.Shape, r.H.Shape)
			}
			for tt := 0; tt < L; tt++ {
				if d := maxDiff(r.Output.Data[tt*D*P:][:D*P], serial.Output.Data[(tt*N+n)*D*P:][:D*P]); d > tol {
					t.Fatalf("%v: unbatched sequence %d step %d differs by %g", c.Mode, n, tt, d)
				}
			}
			if c0 != nil {
				H := c.HiddenSize
				for l := 0; l < D*c.NumLayers; l++ {
					if d := maxDiff(r.C.Data[l*H:][:H], serial.C.Data[(l*N+n)*H:][:H]); d > tol {
						t.Fatalf("%v: unbatched c_n differs by %g", c.Mode, d)
					}
				}
			}
		}
	}
}

// TestParallelPaths checks that the batch split and the parallel directions give what one
// goroutine gives, to the bit, in either layout (each worker reads its rows of x and
// writes its rows of the output where they are).
func TestParallelPaths(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		prev := runtime.GOMAXPROCS(2)
		defer runtime.GOMAXPROCS(prev)
	}
	rng := rand.New(rand.NewPCG(15, 16))
	bi := Config{Mode: LSTM, InputSize: 32, HiddenSize: 96, NumLayers: 2, Bias: true, Bidirectional: true, ProjSize: 40}
	uni := Config{Mode: GRU, InputSize: 16, HiddenSize: 80, NumLayers: 3, Bias: true}
	biBF, uniBF := bi, uni
	biBF.BatchFirst, uniBF.BatchFirst = true, true
	for _, o := range allOps[float32]() {
		for _, tc := range []struct {
			c Config
			N int
		}{{bi, 1}, {bi, 3}, {bi, 5}, {bi, 6}, {bi, 13}, {bi, 32}, {uni, 1}, {uni, 2}, {uni, 7}, {uni, 9}, {uni, 17},
			{biBF, 5}, {biBF, 13}, {uniBF, 2}, {uniBF, 9}} {
			c := tc.c
			m := build(c, randomParams[float32](c, rng), o)
			const L = 30
			// The batch splits in parts of 3 rows or more.
			part := tc.N >= 6
			workers, dirPar := m.plan(L, tc.N)
			if (workers > 1) != part || dirPar != (!part && c.Bidirectional) {
				t.Fatalf("%v %s N=%d: plan %d workers, dirPar %v", c.Mode, o.name, tc.N, workers, dirPar)
			}
			for parts := 2; parts <= m.maxParts(tc.N); parts++ {
				for w := 0; w < parts; w++ {
					n0, n1 := m.batchStart(w, parts, tc.N), m.batchStart(w+1, parts, tc.N)
					if n1-n0 < 3 {
						t.Fatalf("%s N=%d, %d parts: part %d is [%d, %d)", o.name, tc.N, parts, w, n0, n1)
					}
				}
			}
			x := randomTensor[float32](rng, L, tc.N, c.InputSize)
			if c.BatchFirst {
				x = randomTensor[float32](rng, tc.N, L, c.InputSize)
			}
			par, err := m.Forward(x, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			prev := runtime.GOMAXPROCS(1)
			serial, err := m.Forward(x, nil, nil)
			runtime.GOMAXPROCS(prev)
			if err != nil {
				t.Fatal(err)
			}
			pairs := [][2][]float32{{par.Output.Data, serial.Output.Data}, {par.H.Data, serial.H.Data}}
			if c.Mode == LSTM {
				pairs = append(pairs, [2][]float32{par.C.Data, serial.C.Data})
			}
			for _, p := range pairs {
				if !slices.Equal(p[0], p[1]) {
					t.Errorf("%v %s N=%d: parallel and serial differ by %g", c.Mode, o.name, tc.N, maxDiff(p[0], p[1]))
				}
			}
		}
	}
}

// TestConcurrentForward runs one Model from many goroutines at once; each result must equal
// the one computed alone.
func TestConcurrentForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	c := Config{Mode: LSTM, InputSize: 8, HiddenSize: 24, NumLayers: 2, Bias: true, Bidirectional: true}
	m, err := New(c, randomParams[float64](c, rng))
	if err != nil {
		t.Fatal(err)
	}
	const G = 8
	xs := make([]*Tensor[float64], G)
	want := make([]*Result[float64], G)
	for g := range xs {
		xs[g] = randomTensor[float64](rng, 5+g, 1+g%3, 8)
		if want[g], err = m.Forward(xs[g], nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, G)
	for g := 0; g < G; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 20; rep++ {
				r, err := m.Forward(xs[g], nil, nil)
				if err != nil {
					errs[g] = err
					return
				}
				if !slices.Equal(r.Output.Data, want[g].Output.Data) || !slices.Equal(r.C.Data, want[g].C.Data) {
					errs[g] = fmt.Errorf("goroutine %d: result differs", g)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestNoAllocations checks that a forward pass allocates nothing once its workspace has
// grown: not in the time loop, nor in the input and output reordering.
func TestNoAllocations(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range []Config{
		{Mode: GRU, InputSize: 8, HiddenSize: 16, NumLayers: 2, Bias: true, Bidirectional: true},
		{Mode: LSTM, InputSize: 8, HiddenSize: 16, NumLayers: 3, Bias: true, ProjSize: 8, BatchFirst: true},
		{Mode: RNNTanh, InputSize: 8, HiddenSize: 40, NumLayers: 1},
	} {
		for _, o := range allOps[float32]() {
			m := build(c, randomParams[float32](c, rng), o)
			const L, N = 30, 5
			D, P := c.directions(), c.outSize()
			x := randomTensor[float32](rng, L, N, c.InputSize)
			j := &job[float32]{L: L, N: N, batchFirst: c.BatchFirst, x: x.Data,
				out: make([]float32, L*N*D*P), hn: make([]float32, D*c.NumLayers*N*P)}
			if c.Mode == LSTM {
				j.cn = make([]float32, D*c.NumLayers*N*c.HiddenSize)
			}
			ws := new(workspace[float32])
			m.compute(ws, j, 1, N, false) // rows 1..N-1: the gather and scatter paths
			if a := testing.AllocsPerRun(10, func() { m.compute(ws, j, 1, N, false) }); a != 0 {
				t.Errorf("%v %s: %v allocations per forward pass", c.Mode, o.name, a)
			}
		}
	}
}
