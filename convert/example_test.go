package convert_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ptport/ptport/convert"
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
