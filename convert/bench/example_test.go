package bench_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/bench"
)

func ExampleForward() {
	cp, err := convert.Open("../../testdata/convert/lstm_proj_bi.pt", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cp.Close()
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		log.Fatal(err)
	}
	r, err := bench.Forward(context.Background(), m, 100, 8, 10*time.Millisecond)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Model.Module, "seq", r.Seq, "batch", r.Batch)
	fmt.Println("at least 5 passes:", r.Iterations >= 5)
	fmt.Println("median within the range:", r.MinNs <= r.NsPerForward && r.NsPerForward <= r.MaxNs)
	// Output:
	// LSTM(4, 6, num_layers=2, bidirectional=True, proj_size=3) seq 100 batch 8
	// at least 5 passes: true
	// median within the range: true
}
