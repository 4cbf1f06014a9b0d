package convert_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// A service loads a model once and runs it: here the notebook's torch.nn.RNN(2, 4) on
// the input of the reference file PyTorch wrote beside it.
func Example() {
	cp, err := convert.Open("../testdata/notebook/model.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ref, err := convert.Open("../testdata/notebook/reference.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ref.Close()
	x, _ := ref.Tensor("input")
	h0, _ := ref.Tensor("h0")
	y, hn, _, err := m.Forward(x, h0, nil)
	if err != nil {
		log.Fatal(err)
	}
	ys, err := y.Float32s()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Info().Module, m.DType)
	fmt.Println("output", y.Shape, "h_n", hn.Shape)
	fmt.Printf("y[0][0] = %.4f\n", ys[:4])
	// Output:
	// RNN(2, 4) F32
	// output [2 3 4] h_n [1 3 4]
	// y[0][0] = [0.0997 0.0000 0.0000 0.0000]
}

func ExampleInspect() {
	cp, err := convert.Open("../testdata/convert/two_modules.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	inv := convert.Inspect(cp)
	fmt.Println(inv.Format, len(inv.Tensors), "tensors")
	for _, m := range inv.Models {
		fmt.Println(m)
	}
	// Output:
	// zip 8 tensors
	// "enc." LSTM(3, 4)
	// "dec." GRU(4, 6)
}

// A checkpoint that holds several recurrent modules needs a prefix to choose one; the
// error says which there are.
func ExampleLoad() {
	cp, err := convert.Open("../testdata/convert/two_modules.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	_, err = convert.Load(cp, convert.Options{})
	var amb *convert.AmbiguousError
	if errors.As(err, &amb) {
		fmt.Println(amb.Candidates)
	}
	m, err := convert.Load(cp, convert.Options{Prefix: "dec"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q %s\n", m.Prefix, m.Info().Module)
	// Output:
	// ["enc." LSTM(3, 4) "dec." GRU(4, 6)]
	// "dec." GRU(4, 6)
}

func ExampleExport() {
	cp, err := convert.Open("../testdata/convert/nested_checkpoint.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "model.safetensors")
	f, err := convert.FormatOf(out)
	if err != nil {
		log.Fatal(err)
	}
	if err := convert.Export(context.Background(), out, f, cp); err != nil {
		log.Fatal(err)
	}

	back, err := convert.Open(out, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer back.Close()
	w, ok := back.Tensor("model_state_dict.encoder.rnn.weight_ih_l0")
	if !ok {
		log.Fatal("no weight_ih_l0")
	}
	fmt.Println(back.Format, len(back.Leaves), "leaves")
	fmt.Println(w.DType, w.Shape)
	fmt.Println(back.Leaves[12].Name, "=", back.Leaves[12].Value)
	// Output:
	// safetensors 28 leaves
	// F32 [15 3]
	// epoch = 3
}

// A complete port of a char-level model, Embedding -> LSTM -> Linear, trained by PyTorch
// (testdata/charlstm/gen.py): the checkpoint holds the state_dict under "model" and the
// vocabulary under "chars". Load finds the LSTM and, by their shapes, the embedding before
// it and the head after it; a Stream of the whole model generates greedily, one character
// at a time, the text PyTorch generated (testdata/charlstm/generated.txt).
func Example_charLSTM() {
	cp, err := convert.Open("../testdata/charlstm/checkpoint.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range m.Layers {
		fmt.Printf("%q %s\n", l.Prefix, l.Module)
	}
	model, err := convert.Sequential[float32](m)
	if err != nil {
		log.Fatal(err)
	}
	var chars string // the vocabulary: character i is token i
	for _, l := range cp.Leaves {
		if l.Name == "chars" {
			chars, _ = l.Value.(string)
		}
	}

	stream, err := model.NewStream(1) // one sequence, its LSTM state kept between steps
	if err != nil {
		log.Fatal(err)
	}
	text := []rune("It is a truth")
	ids := &rnn.Tensor[int64]{Shape: []int{len(text)}} // unbatched: (steps)
	for _, c := range text {
		ids.Data = append(ids.Data, int64(strings.IndexRune(chars, c)))
	}
	logits, err := stream.StepIndices(ids) // the prompt at once: (steps, vocab)
	if err != nil {
		log.Fatal(err)
	}
	next := &rnn.Tensor[int64]{Data: []int64{0}, Shape: []int{1}}
	for range 120 {
		last := logits.Data[len(logits.Data)-len(chars):]
		next.Data[0] = int64(slices.Index(last, slices.Max(last)))
		text = append(text, []rune(chars)[next.Data[0]])
		if logits, err = stream.StepIndices(next); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(string(text))
	// Output:
	// "model.embedding." Embedding(37, 16)
	// "model.lstm." LSTM(16, 48, num_layers=2)
	// "model.fc." Linear(in_features=48, out_features=37, bias=True)
	// It is a truther of the surrounding families, that a single man in possession of a wife. Bennet replied that he is last? Mr. Bennet re
}

// The typed model of package rnn, kept and run: here stepped one time step at a time
// from the state the last step left, as a service serving a stream does.
func ExampleRNN() {
	cp, err := convert.Open("../testdata/notebook/model.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		log.Fatal(err)
	}
	r, err := convert.RNN[float32](m) // m.DType is F32
	if err != nil {
		log.Fatal(err)
	}
	s, err := r.NewState(1)
	if err != nil {
		log.Fatal(err)
	}
	x, _ := rnn.NewTensor([]float32{0, 0}, 1, 2) // one step of the notebook's zeros, unbatched
	for range 2 {
		y, err := s.Step(x)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%.4f\n", y.Data)
	}
	// Output:
	// [0.0997 0.0000 0.0000 0.0000]
	// [0.1971 0.0000 0.0000 0.0000]
}

// What a Go port computes, written for Python: the typed model's results as tensors of
// package pickle (TensorOf), beside the inputs, in a file torch.load reads as the dict
// {"input": ..., "h0": ..., "output": ..., "h_n": ...}.
func ExampleTensorOf() {
	cp, err := convert.Open("../testdata/notebook/model.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		log.Fatal(err)
	}
	r, err := convert.RNN[float32](m)
	if err != nil {
		log.Fatal(err)
	}
	x := &rnn.Tensor[float32]{Data: make([]float32, 2*3*2), Shape: []int{2, 3, 2}} // (L, N, input_size)
	res, err := r.Forward(x, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	leaves := []pickle.Leaf{}
	for _, t := range []struct {
		name string
		t    *rnn.Tensor[float32]
	}{{"input", x}, {"output", res.Output}, {"h_n", res.H}} {
		p, err := convert.TensorOf(t.t)
		if err != nil {
			log.Fatal(err)
		}
		leaves = append(leaves, pickle.Leaf{Name: t.name, Value: p})
	}
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "go_results.pt")
	if err := convert.Export(context.Background(), out, convert.PT, convert.FromLeaves(out, leaves)); err != nil {
		log.Fatal(err)
	}

	back, err := convert.Open(out, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer back.Close()
	for _, l := range back.Leaves {
		t := l.Value.(*pickle.Tensor)
		fmt.Println(l.Name, t.DType, t.Shape)
	}
	y, _ := back.Tensor("output")
	ys, _ := y.Float32s()
	fmt.Println(slices.Equal(ys, res.Output.Data))
	// Output:
	// input F32 [2 3 2]
	// output F32 [2 3 4]
	// h_n F32 [1 3 4]
	// true
}
