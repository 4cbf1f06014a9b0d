package rnn_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"sync"

	"github.com/ptport/ptport/rnn"
)

// The notebook's network: torch.nn.RNN(2, 4) with its weights set by hand, run over zeros.
func ExampleModel_Forward() {
	c := rnn.Config{Mode: rnn.RNNTanh, InputSize: 2, HiddenSize: 4, NumLayers: 1, Bias: true}
	m, err := rnn.New(c, map[string][]float32{ // the state_dict
		"weight_ih_l0": {1, 5, 2, 6, 3, 7, 4, 8},
		"weight_hh_l0": {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1},
		"bias_ih_l0":   {0.1, 0, 0, 0},
		"bias_hh_l0":   {0, 0, 0, 0},
	})
	if err != nil {
		log.Fatal(err)
	}
	x, _ := rnn.NewTensor(make([]float32, 2*3*2), 2, 3, 2) // (L, N, input_size)
	res, err := m.Forward(x, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Output.Shape, res.H.Shape)
	fmt.Printf("%.4f %.4f\n", res.Output.Data[0], res.Output.Data[3*4])
	// Output:
	// [2 3 4] [1 3 4]
	// 0.0997 0.1971
}

// A pass whose context is done stops between two time steps and returns no result.
func ExampleModel_ForwardContext() {
	c := rnn.Config{Mode: rnn.GRU, InputSize: 8, HiddenSize: 16, NumLayers: 1, Bias: true}
	params := map[string][]float32{}
	for _, p := range c.Params() {
		n := 1
		for _, s := range p.Shape {
			n *= s
		}
		params[p.Name] = values(n, len(params), 64)
	}
	m, err := rnn.New(c, params)
	if err != nil {
		log.Fatal(err)
	}
	x, _ := rnn.NewTensor(make([]float32, 1000*8), 1000, 8) // 1000 steps, unbatched
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as Ctrl-C would, or a deadline
	res, err := m.ForwardContext(ctx, x, nil, nil)
	fmt.Println(res == nil, errors.Is(err, context.Canceled))
	fmt.Println(err)
	// Output:
	// true true
	// rnn: GRU forward: context canceled
}

// values returns n parameter values, multiples of 1/div, from a fixed formula
// (testdata/rnn/examples.py computes the examples' outputs with PyTorch from the same).
func values(n, seed int, div float32) []float32 {
	v := make([]float32, n)
	for j := range v {
		v[j] = float32((j*j*7+j*3+seed*11)%17-8) / div
	}
	return v
}

// params returns values for every parameter of c, as torch.nn.LSTM lists them.
func params(c rnn.Config, seed int) map[string][]float32 {
	ps := map[string][]float32{}
	for i, p := range c.Params() {
		n := 1
		for _, s := range p.Shape {
			n *= s
		}
		ps[p.Name] = values(n, seed+i+1, 8)
	}
	return ps
}

// A State runs a sequence a step at a time, as a service serving a stream does, with the
// results of one Forward over the whole sequence.
func ExampleState_Step() {
	c := rnn.Config{Mode: rnn.LSTM, InputSize: 3, HiddenSize: 4, NumLayers: 2, Bias: true}
	m, err := rnn.New(c, params(c, 0))
	if err != nil {
		log.Fatal(err)
	}
	seq := []float32{0.5, -1, 2, 0, 1, 1, -0.5, 0.25, 0} // 3 steps of 3 values
	s, err := m.NewState(1)
	if err != nil {
		log.Fatal(err)
	}
	var stepped []float32
	for t := 0; t < 3; t++ {
		x, _ := rnn.NewTensor(seq[3*t:3*t+3], 1, 3) // one step, unbatched: (1, input_size)
		y, err := s.Step(x)
		if err != nil {
			log.Fatal(err)
		}
		stepped = append(stepped, y.Data...) // y is reused by the next Step
	}
	x, _ := rnn.NewTensor(seq, 3, 3)
	whole, err := m.Forward(x, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(slices.Equal(stepped, whole.Output.Data), slices.Equal(s.H().Data, whole.H.Data), slices.Equal(s.C().Data, whole.C.Data))
	fmt.Printf("%.4f\n", s.H().Data[4:])
	// Output:
	// true true true
	// [0.1419 -0.1058 -0.1470 0.3472]
}

// A service keeps one Model and serves many streams at once: each request, in its own
// goroutine, steps its sequence with a State of its own, reset between sequences. The
// results are those of Forward over each whole sequence, to the bit.
func ExampleModel_NewState() {
	c := rnn.Config{Mode: rnn.GRU, InputSize: 3, HiddenSize: 4, NumLayers: 2, Bias: true}
	m, err := rnn.New(c, params(c, 3)) // immutable: shared by every goroutine
	if err != nil {
		log.Fatal(err)
	}
	requests := [][]float32{ // 4 sequences of 5 steps of 3 values
		values(15, 1, 4), values(15, 2, 4), values(15, 3, 4), values(15, 4, 4),
	}
	answers := make([][]float32, len(requests)) // each request's last output
	var wg sync.WaitGroup
	for i, seq := range requests {
		wg.Go(func() {
			s, err := m.NewState(1) // one State per stream, never shared
			if err != nil {
				log.Fatal(err)
			}
			for round := 0; round < 2; round++ { // the same sequence twice: Reset starts anew
				s.Reset()
				for t := 0; t < 5; t++ {
					x, _ := rnn.NewTensor(seq[3*t:3*t+3], 1, 3) // one step, unbatched
					y, err := s.Step(x)
					if err != nil {
						log.Fatal(err)
					}
					answers[i] = append(answers[i][:0], y.Data...)
				}
			}
		})
	}
	wg.Wait()
	for i, seq := range requests {
		x, _ := rnn.NewTensor(seq, 5, 3)
		whole, err := m.Forward(x, nil, nil)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(i, slices.Equal(answers[i], whole.Output.Data[4*4:]))
	}
	// Output:
	// 0 true
	// 1 true
	// 2 true
	// 3 true
}

// A cell computes one step, as torch.nn.GRUCell's forward does; fed its own h, it steps
// a sequence.
func ExampleCell_Forward() {
	c := rnn.CellConfig{Mode: rnn.GRU, InputSize: 2, HiddenSize: 2}
	cell, err := rnn.NewCell(c, map[string][]float32{
		"weight_ih": {1, 0, 0, 1, 0.5, 0.5, -1, 0, 0, -1, 1, 1}, // (3*2, 2): gates r, z, n
		"weight_hh": {0, 1, 1, 0, 0.5, 0, 0, 0.5, 1, 0, 0, 1},   // (3*2, 2)
	})
	if err != nil {
		log.Fatal(err)
	}
	x, _ := rnn.NewTensor([]float32{1, 0.5}, 2) // unbatched: (input_size)
	var h *rnn.Tensor[float32]
	for step := 0; step < 3; step++ {
		if h, _, err = cell.Forward(x, h, nil); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%.4f\n", h.Data)
	}
	// Output:
	// [-0.1483 0.6617]
	// [-0.2852 0.8558]
	// [-0.4079 0.9238]
}

// A char-level model: token ids -> Embedding -> LSTM -> Linear -> logits, generating
// greedily one token at a time through a Stream.
func ExampleStream_StepIndices() {
	const vocab, dim, hidden = 5, 3, 4
	ec := rnn.EmbeddingConfig{NumEmbeddings: vocab, EmbeddingDim: dim}
	emb, err := rnn.NewEmbedding(ec, map[string][]float32{"weight": values(vocab*dim, 12, 4)})
	if err != nil {
		log.Fatal(err)
	}
	lc := rnn.Config{Mode: rnn.LSTM, InputSize: dim, HiddenSize: hidden, NumLayers: 2, Bias: true}
	lstm, err := rnn.New(lc, params(lc, 12))
	if err != nil {
		log.Fatal(err)
	}
	hc := rnn.LinearConfig{InFeatures: hidden, OutFeatures: vocab}
	head, err := rnn.NewLinear(hc, map[string][]float32{"weight": values(vocab*hidden, 21, 2)})
	if err != nil {
		log.Fatal(err)
	}
	model, err := rnn.NewSequential[float32](emb, lstm, head)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(model)

	stream, err := model.NewStream(1)
	if err != nil {
		log.Fatal(err)
	}
	ids := []int64{1, 3} // the prompt
	logits, err := stream.StepIndices(&rnn.Tensor[int64]{Data: ids, Shape: []int{len(ids)}})
	if err != nil {
		log.Fatal(err)
	}
	next := &rnn.Tensor[int64]{Data: []int64{0}, Shape: []int{1}}
	for len(ids) < 12 {
		last := logits.Data[len(logits.Data)-vocab:] // (L, vocab): the last step's logits
		next.Data[0] = int64(slices.Index(last, slices.Max(last)))
		ids = append(ids, next.Data[0])
		if logits, err = stream.StepIndices(next); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(ids)
	// Output:
	// Sequential(Embedding(5, 3), LSTM(3, 4, num_layers=2), Linear(in_features=4, out_features=5, bias=False))
	// [1 3 1 1 1 2 2 3 3 2 2 3]
}

// Tensors convert to and from gonum's matrices.
func ExampleTensor_Dense() {
	x, err := rnn.NewTensor([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if err != nil {
		log.Fatal(err)
	}
	d, err := x.Dense()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.At(1, 2))
	back := rnn.FromMatrix[float64](d.T())
	fmt.Println(back.Shape, back.Data)
	// Output:
	// 6
	// [3 2] [1 4 2 5 3 6]
}
