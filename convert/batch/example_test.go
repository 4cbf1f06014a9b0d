package batch_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/batch"
)

// Converting a folder twice: the second run finds every output up to date.
func ExampleRun() {
	out, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(out)
	opts := batch.Options{Inputs: []string{"../../testdata/notebook"}, OutDir: out, To: convert.NPZ, Jobs: 2}
	plan, err := batch.NewPlan(opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("inputs:", plan.Files)
	for range 2 {
		var lines []string
		sum, err := batch.Run(context.Background(), opts, func(r batch.Result) {
			rel, _ := filepath.Rel(out, r.Output)
			lines = append(lines, fmt.Sprintf("%s %s -> %s", r.Status, filepath.Base(r.Input), rel))
		})
		if err != nil {
			log.Fatal(err)
		}
		slices.Sort(lines) // results come in the order inputs finish
		for _, l := range lines {
			fmt.Println(l)
		}
		fmt.Printf("%d ok, %d skipped, %d failed\n", sum.OK, sum.Skipped, sum.Failed)
	}
	// Output:
	// inputs: 2
	// ok model.pt -> model.npz
	// ok reference.pt -> reference.npz
	// 2 ok, 0 skipped, 0 failed
	// skipped model.pt -> model.npz
	// skipped reference.pt -> reference.npz
	// 0 ok, 2 skipped, 0 failed
}
