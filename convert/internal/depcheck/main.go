// Command depcheck is what a service that runs a model does, and no more: it opens a
// checkpoint, loads its recurrent model and runs it on the input of a reference file:
//
//	depcheck MODEL REF
//
// Its test proves from `go list -deps` that such a program links none of ptport's
// plotting, batch, parity or benchmarking code and no CLI library.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/ptport/ptport/convert"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "depcheck:", err)
		os.Exit(1)
	}
}

func run(args []string, w io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: depcheck MODEL REF")
	}
	cp, err := convert.Open(args[0], nil)
	if err != nil {
		return err
	}
	defer cp.Close()
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		return err
	}
	ref, err := convert.Open(args[1], nil)
	if err != nil {
		return err
	}
	defer ref.Close()
	x, _ := ref.Tensor("input")
	h0, _ := ref.Tensor("h0")
	y, hn, _, err := m.Forward(x, h0, nil)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, m.Info().Module, "output", y.Shape, "h_n", hn.Shape)
	return err
}
