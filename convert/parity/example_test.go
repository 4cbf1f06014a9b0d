package parity_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/parity"
)

// The notebook's model against the tensors PyTorch computed for it.
func ExampleCheck() {
	cp, err := convert.Open("../../testdata/notebook/model.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ref, err := convert.Open("../../testdata/notebook/reference.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ref.Close()
	r, err := parity.Check(context.Background(), m, ref, parity.DefaultTolerance)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Model.Module, "pass:", r.Pass)
	for _, t := range r.Tensors {
		fmt.Println(t.Name, t.Shape, "within 1e-7:", t.MaxAbsErr <= 1e-7)
	}
	// Output:
	// RNN(2, 4) pass: true
	// output [2 3 4] within 1e-7: true
	// h_n [1 3 4] within 1e-7: true
}

// A port with a drifted recurrent weight: the error is rounding at the first step (the
// initial state is zero, so weight_hh is not used yet) and grows from the second.
func ExampleReport_StepErrors() {
	cp, err := convert.Open("../../testdata/convert/drifted.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ref, err := convert.Open("../../testdata/convert/drifted.ref.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ref.Close()
	r, err := parity.Check(context.Background(), m, ref, parity.DefaultTolerance)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pass:", r.Pass)
	for t, e := range r.StepErrors()[0] {
		fmt.Printf("step %d: within atol: %v\n", t, e <= r.Atol)
	}
	// Output:
	// pass: false
	// step 0: within atol: true
	// step 1: within atol: false
	// step 2: within atol: false
	// step 3: within atol: false
	// step 4: within atol: false
	// step 5: within atol: false
}
