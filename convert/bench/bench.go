package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/rnn"
)

// Result is the time one forward pass of a model takes.
type Result struct {
	// NsPerForward is the median time of one forward pass, in nanoseconds.
	NsPerForward float64 `json:"ns_per_forward"`
	// MinNs and MaxNs are the fastest and slowest pass.
	MinNs      float64           `json:"min_ns"`
	MaxNs      float64           `json:"max_ns"`
	Iterations int               `json:"iterations"`
	Seq        int               `json:"seq"`
	Batch      int               `json:"batch"`
	Model      convert.ModelInfo `json:"model"`
}

// Forward times m's forward pass (the model alone, not file input or output) on random
// input of seq steps and batch sequences (batch 0: one unbatched sequence), after one
// warm-up pass, for at least minTime and at least 5 passes, and reports the median.
func Forward(m *convert.Model, seq, batch int, minTime time.Duration) (*Result, error) {
	if seq < 1 || batch < 0 {
		return nil, fmt.Errorf("bench: seq must be >= 1 and batch >= 0, got seq %d batch %d", seq, batch)
	}
	c := m.Config
	shape := []int{seq, batch, c.InputSize}
	switch {
	case batch == 0:
		shape = []int{seq, c.InputSize}
	case c.BatchFirst:
		shape = []int{batch, seq, c.InputSize}
	}
	var times []float64
	var err error
	if r := convert.RNN[float64](m); r != nil {
		times, err = timeForward(r, shape, minTime)
	} else {
		times, err = timeForward(convert.RNN[float32](m), shape, minTime)
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(times)
	med := times[len(times)/2]
	if len(times)%2 == 0 {
		med = (times[len(times)/2-1] + med) / 2
	}
	return &Result{NsPerForward: med, MinNs: times[0], MaxNs: times[len(times)-1],
		Iterations: len(times), Seq: seq, Batch: batch, Model: m.Info()}, nil
}

func timeForward[T rnn.Float](m *rnn.Model[T], shape []int, minTime time.Duration) ([]float64, error) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := &rnn.Tensor[T]{Data: make([]T, n), Shape: shape}
	for i := range x.Data {
		x.Data[i] = T(rng.Float64()*2 - 1)
	}
	if _, err := m.Forward(x, nil, nil); err != nil {
		return nil, err
	}
	var times []float64
	start := time.Now()
	for len(times) < 5 || time.Since(start) < minTime {
		t0 := time.Now()
		if _, err := m.Forward(x, nil, nil); err != nil {
			return nil, err
		}
		times = append(times, float64(time.Since(t0).Nanoseconds()))
	}
	return times, nil
}
