package rnn

import (
	"math/rand/v2"
	"testing"
	"time"
)

// benchRows are the shapes scripts/bench compares with PyTorch and ONNX Runtime
// (seq-first), as scripts/bench_torch.py lists them.
var benchRows = []struct {
	name                        string
	mode                        Mode
	input, hidden, layers, L, N int
	bidir, f64                  bool
}{
	{"notebook", RNNTanh, 2, 4, 1, 3, 1, false, false},
	{"stream", RNNTanh, 64, 256, 2, 1000, 1, false, false},
	{"small", RNNTanh, 64, 128, 1, 100, 32, false, false},
	{"medium", RNNTanh, 128, 256, 2, 100, 32, false, false},
	{"large", RNNTanh, 512, 1024, 1, 50, 32, false, false},
	{"lstm", LSTM, 128, 256, 2, 100, 32, false, false},
	{"gru", GRU, 128, 256, 2, 100, 32, false, false},
	{"lstm_stream", LSTM, 128, 512, 1, 200, 1, false, false},
	{"lstm_large", LSTM, 1024, 1024, 2, 64, 64, false, false},
	{"gru_small", GRU, 32, 64, 1, 50, 8, false, false},
	{"bilstm", LSTM, 128, 256, 2, 100, 32, true, false},
	{"medium64", RNNTanh, 128, 256, 2, 100, 32, false, true},
	{"lstm64", LSTM, 128, 256, 2, 100, 32, false, true},
	{"gru64", GRU, 128, 256, 2, 100, 32, false, true},
	{"lstm_stream64", LSTM, 128, 512, 1, 200, 1, false, true},
}

// BenchmarkForward times Forward on each of benchRows and reports its GFLOP/s: two
// floating-point operations per multiply-add of the matrix products (Model.work).
func BenchmarkForward(b *testing.B) {
	for _, r := range benchRows {
		b.Run(r.name, func(b *testing.B) {
			c := Config{Mode: r.mode, InputSize: r.input, HiddenSize: r.hidden, NumLayers: r.layers, Bias: true, Bidirectional: r.bidir}
			if r.f64 {
				benchForward[float64](b, c, r.L, r.N)
			} else {
				benchForward[float32](b, c, r.L, r.N)
			}
		})
	}
}

func benchForward[T Float](b *testing.B, c Config, L, N int) {
	rng := rand.New(rand.NewPCG(1, 1))
	m, err := New(c, randomParams[T](c, rng))
	if err != nil {
		b.Fatal(err)
	}
	x := randomTensor[T](rng, L, N, c.InputSize)
	if _, err := m.Forward(x, nil, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := cpuTime(false)
	for b.Loop() {
		if _, err := m.Forward(x, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	flops := float64(m.work(L, N)) * 2 * float64(b.N)
	b.ReportMetric(flops/float64(b.Elapsed().Nanoseconds()), "GFLOP/s")
	reportCPU(b, flops, cpu0, cpuOK, false)
}

// reportCPU reports flops over the processor time spent since cpu0 (by the process, or
// by the calling thread) as cpu-GFLOP/s: the rate per busy core, which time slices the
// machine gives other processes do not lower as they lower GFLOP/s.
func reportCPU(b *testing.B, flops float64, cpu0 time.Duration, ok, thread bool) {
	if !ok {
		return
	}
	if cpu1, ok := cpuTime(thread); ok && cpu1 > cpu0 {
		b.ReportMetric(flops/float64((cpu1-cpu0).Nanoseconds()), "cpu-GFLOP/s")
	}
}

// BenchmarkKernelSets runs the benchmark rows with every float32 kernel set of this
// machine, and with the assembly GEMM but the Go activations ("+goact"); run it with
// -cpu 1 and -cpu 2 (one run each: see scripts/bench) to see the effect of the parallel
// paths.
func BenchmarkKernelSets(b *testing.B) {
	sets := allOps[float32]()
	if len(sets) > 1 {
		mixed := *sets[len(sets)-1]
		mixed.name += "+goact"
		mixed.tanh, mixed.lstm, mixed.gru = tanhGo[float32], lstmGo[float32], gruGo[float32]
		sets = append(sets, &mixed)
	}
	for _, r := range benchRows {
		if r.f64 {
			continue
		}
		for _, o := range sets {
			b.Run(r.name+"/"+o.name, func(b *testing.B) {
				c := Config{Mode: r.mode, InputSize: r.input, HiddenSize: r.hidden, NumLayers: r.layers, Bias: true, Bidirectional: r.bidir}
				rng := rand.New(rand.NewPCG(1, 1))
				m := build(c, randomParams[float32](c, rng), o)
				x := randomTensor[float32](rng, r.L, r.N, c.InputSize)
				for b.Loop() {
					if _, err := m.Forward(x, nil, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkStep steps a 2-layer LSTM of hidden size 256 one time step at a time (batch 1),
// as a service generating text does; it allocates nothing.
func BenchmarkStep(b *testing.B) {
	c := Config{Mode: LSTM, InputSize: 64, HiddenSize: 256, NumLayers: 2, Bias: true}
	rng := rand.New(rand.NewPCG(1, 1))
	m, err := New(c, randomParams[float32](c, rng))
	if err != nil {
		b.Fatal(err)
	}
	s, err := m.NewState(1)
	if err != nil {
		b.Fatal(err)
	}
	x := randomTensor[float32](rng, 1, 1, c.InputSize)
	if _, err := s.Step(x); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Step(x); err != nil {
			b.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(10, func() { s.Step(x) }); a != 0 {
		b.Fatalf("%v allocations per Step", a)
	}
}

// BenchmarkStreamStep runs the char-level model of scripts/bench_charlstm.sh,
// Embedding(65, 64) -> LSTM(64, 512, num_layers=2) -> Linear(512, 65), one token per
// step through a Stream, as greedy generation does (random weights: the time does not
// depend on them). It allocates nothing.
func BenchmarkStreamStep(b *testing.B) {
	const V, E, H = 65, 64, 512
	rng := rand.New(rand.NewPCG(1, 1))
	emb, err := NewEmbedding(EmbeddingConfig{NumEmbeddings: V, EmbeddingDim: E}, map[string][]float32{"weight": randomTensor[float32](rng, V, E).Data})
	if err != nil {
		b.Fatal(err)
	}
	c := Config{Mode: LSTM, InputSize: E, HiddenSize: H, NumLayers: 2, Bias: true}
	lstm, err := New(c, randomParams[float32](c, rng))
	if err != nil {
		b.Fatal(err)
	}
	head, err := NewLinear(LinearConfig{InFeatures: H, OutFeatures: V, Bias: true},
		map[string][]float32{"weight": randomTensor[float32](rng, V, H).Data, "bias": randomTensor[float32](rng, V).Data})
	if err != nil {
		b.Fatal(err)
	}
	seq, err := NewSequential[float32](emb, lstm, head)
	if err != nil {
		b.Fatal(err)
	}
	st, err := seq.NewStream(1)
	if err != nil {
		b.Fatal(err)
	}
	id := &Tensor[int64]{Data: []int64{3}, Shape: []int{1}}
	if _, err := st.StepIndices(id); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.StepIndices(id); err != nil {
			b.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(10, func() { st.StepIndices(id) }); a != 0 {
		b.Fatalf("%v allocations per step", a)
	}
}
