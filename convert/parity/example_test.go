package parity_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/rnn"
)

// The notebook's model against the tensors PyTorch computed for it.
func ExampleCheck() {
	model, err := convert.Open("../../testdata/notebook/model.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	ref, err := convert.Open("../../testdata/notebook/reference.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ref.Close()
	r, err := parity.Check(context.Background(), model, ref, parity.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Model.Module, "pass:", r.Pass, "by", r.Rule, "from h0:", r.InitialState.H0)
	for _, t := range r.Tensors {
		fmt.Println(t.Name, t.Shape, "within 1e-7:", t.MaxAbsErr <= 1e-7, "rounding around the truth:", t.GoTruth < 1e-7)
	}
	// Output:
	// RNN(2, 4) pass: true by tolerance from h0: h0
	// output [2 3 4] within 1e-7: true rounding around the truth: true
	// h_n [1 3 4] within 1e-7: true rounding around the truth: true
}

// A batch_first GRU checked without saying so: the check fails and names the mistake.
func ExampleCheck_diagnosis() {
	model, err := convert.Open("../../testdata/parity/forgot_batch_first.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	ref, err := convert.Open("../../testdata/parity/forgot_batch_first.ref.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ref.Close()
	r, err := parity.Check(context.Background(), model, ref, parity.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pass:", r.Pass)
	for _, m := range r.Diagnosis {
		fmt.Println(m.Name+":", m.Description)
	}
	// Output:
	// pass: false
	// batch_first: batch_first flipped: the reference was computed with batch_first=True
}

// A port checked in a Go test: its float32 result against the reference PyTorch
// exported, with its float64 result as the truth. The GRU's large weights amplify
// rounding beyond atol; the truth shows both sides are rounding.
func ExampleCompare() {
	cp, err := convert.Open("../../testdata/parity/gru_large.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	ref, err := convert.Open("../../testdata/parity/gru_large.ref.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ref.Close()
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// The port: here package rnn's model, in float32 and, for the truth, in float64.
	params := map[string][]float64{}
	for _, p := range m.Config.Params() {
		w, _ := cp.Tensor(p.Name)
		if params[p.Name], err = w.Float64s(); err != nil {
			log.Fatal(err)
		}
	}
	m64, err := rnn.New(m.Config, params)
	if err != nil {
		log.Fatal(err)
	}
	x, _ := ref.Tensor("input")
	x32, err := x.Float32s()
	if err != nil {
		log.Fatal(err)
	}
	x64, err := x.Float64s()
	if err != nil {
		log.Fatal(err)
	}
	port, err := convert.RNN[float32](m)
	if err != nil {
		log.Fatal(err)
	}
	got, err := port.Forward(&rnn.Tensor[float32]{Data: x32, Shape: x.Shape}, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	truth, err := m64.Forward(&rnn.Tensor[float64]{Data: x64, Shape: x.Shape}, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	want, _ := ref.Tensor("output")
	r := parity.NewReport(parity.Compare("output", got.Output, want, truth.Output, nil))
	fmt.Println("pass:", r.Pass, "by", r.Rule)
	fmt.Println("beyond atol:", r.Tensors[0].Mismatches > 0)
	// Output:
	// pass: true by truth
	// beyond atol: true
}

// A complete port checked end to end in a Go test: the char-level model of
// testdata/charlstm (Embedding -> LSTM -> Linear), run as a service runs it, one token at
// a time with its state kept, and its float32 logits for a text compared with those
// PyTorch computed for the whole text, judged with the float64 truth of the whole model.
func ExampleTruth() {
	cp, err := convert.Open("../../testdata/charlstm/checkpoint.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	ref, err := convert.Open("../../testdata/parity/charlstm.ref.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ref.Close()
	m, err := convert.Load(cp, convert.Options{Whole: true})
	if err != nil {
		log.Fatal(err)
	}
	ids, _ := ref.Tensor("input") // (steps) token ids
	want, _ := ref.Tensor("output")
	text, err := ids.Int64s()
	if err != nil {
		log.Fatal(err)
	}

	// The port: the whole model of package rnn, streamed.
	model, err := convert.Sequential[float32](m)
	if err != nil {
		log.Fatal(err)
	}
	stream, err := model.NewStream(1)
	if err != nil {
		log.Fatal(err)
	}
	got := &rnn.Tensor[float32]{Shape: want.Shape} // (steps, vocabulary)
	next := &rnn.Tensor[int64]{Data: []int64{0}, Shape: []int{1}}
	for _, id := range text {
		next.Data[0] = id
		logits, err := stream.StepIndices(next)
		if err != nil {
			log.Fatal(err)
		}
		got.Data = append(got.Data, logits.Data...)
	}

	truth, err := parity.Truth(context.Background(), cp, m, ids, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	r := parity.NewReport(parity.Compare("logits", got, want, truth.Output, nil))
	t := r.Tensors[0]
	fmt.Println("logits", t.Shape, "pass:", r.Pass, "by", r.Rule)
	fmt.Println("Go and PyTorch both rounding around the truth:", t.GoTruth < 1e-5 && t.RefTruth < 1e-5)
	// Output:
	// logits [132 37] pass: true by tolerance
	// Go and PyTorch both rounding around the truth: true
}
