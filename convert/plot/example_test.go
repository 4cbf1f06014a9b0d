package plot_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/convert/plot"
)

func ExampleSave() {
	cp, err := convert.Open("../../testdata/convert/drifted.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	ref, err := convert.Open("../../testdata/convert/drifted.ref.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ref.Close()
	r, err := parity.Check(context.Background(), cp, ref, parity.Options{})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "errors.svg")
	if err := plot.Save(r, out); err != nil {
		log.Fatal(err)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("svg:", bytes.Contains(svg, []byte("<svg")))
	fmt.Println("titled:", bytes.Contains(svg, []byte("Go vs PyTorch: "+r.Model.Module)))
	// Output:
	// svg: true
	// titled: true
}
