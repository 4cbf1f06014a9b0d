package rnn

import (
	"math/rand/v2"
	"testing"
)

// benchRows are the shapes scripts/bench compares with PyTorch (float32, seq-first).
var benchRows = []struct {
	name                        string
	mode                        Mode
	input, hidden, layers, L, N int
}{
	{"notebook", RNNTanh, 2, 4, 1, 3, 1},
	{"stream", RNNTanh, 64, 256, 2, 1000, 1},
	{"small", RNNTanh, 64, 128, 1, 100, 32},
	{"medium", RNNTanh, 128, 256, 2, 100, 32},
	{"large", RNNTanh, 512, 1024, 1, 50, 32},
	{"lstm", LSTM, 128, 256, 2, 100, 32},
	{"gru", GRU, 128, 256, 2, 100, 32},
}

func BenchmarkForward(b *testing.B) {
	for _, r := range benchRows {
		b.Run(r.name, func(b *testing.B) {
			benchForward[float32](b, Config{Mode: r.mode, InputSize: r.input, HiddenSize: r.hidden, NumLayers: r.layers, Bias: true}, r.L, r.N)
		})
	}
}

// BenchmarkForward64 is BenchmarkForward's medium row in float64.
func BenchmarkForward64(b *testing.B) {
	benchForward[float64](b, Config{Mode: RNNTanh, InputSize: 128, HiddenSize: 256, NumLayers: 2, Bias: true}, 100, 32)
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
	for b.Loop() {
		if _, err := m.Forward(x, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(m.work(L, N))*2/(float64(b.Elapsed().Nanoseconds())/float64(b.N)), "GFLOP/s")
}

// BenchmarkKernelSets runs the benchmark rows with every float32 kernel set of this
// machine, and with the assembly GEMM but the Go activations ("+goact"); run it with
// -cpu 1,2 to see the effect of the parallel paths.
func BenchmarkKernelSets(b *testing.B) {
	sets := allOps[float32]()
	if len(sets) > 1 {
		mixed := *sets[len(sets)-1]
		mixed.name += "+goact"
		mixed.tanh, mixed.lstm, mixed.gru = tanhGo[float32], lstmGo[float32], gruGo[float32]
		sets = append(sets, &mixed)
	}
	for _, r := range benchRows {
		for _, o := range sets {
			b.Run(r.name+"/"+o.name, func(b *testing.B) {
				c := Config{Mode: r.mode, InputSize: r.input, HiddenSize: r.hidden, NumLayers: r.layers, Bias: true}
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
