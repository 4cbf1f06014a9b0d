package batch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// cancelAt is a context cancelled at the n-th look at its error (never, for n 0), which
// counts the looks: a test stops a batch at a look of its choosing.
type cancelAt struct {
	context.Context
	cancel func()

	mu       sync.Mutex
	n, calls int
}

func newCancelAt(n int) *cancelAt {
	ctx, cancel := context.WithCancel(context.Background())
	return &cancelAt{Context: ctx, cancel: cancel, n: n}
}

func (c *cancelAt) Err() error {
	c.mu.Lock()
	c.calls++
	if c.n > 0 && c.calls >= c.n {
		c.cancel()
	}
	c.mu.Unlock()
	return c.Context.Err()
}

// TestBatchStopsHashing: an input touched since its output was written (its size the
// same, its time not) is hashed to tell whether the output is up to date, and a batch
// stopped while it hashes stops there, as it stops reading an input: interrupted, the
// output as it was, where the hash read the whole input whatever the batch's context.
func TestBatchStopsHashing(t *testing.T) {
	root, out := t.TempDir(), t.TempDir()
	x, err := pickle.NewTensor(pickle.F32, []int{1 << 21}, make([]byte, 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(root, "big.pt")
	if err := convert.Export(context.Background(), in, convert.PT, convert.FromLeaves("big", []pickle.Leaf{{Name: "w", Value: x}})); err != nil {
		t.Fatal(err)
	}
	opts := Options{Inputs: []string{root}, OutDir: out, To: convert.NPZ}
	if sum, _ := runBatch(t, opts); sum.OK != 1 {
		t.Fatalf("first run: %+v", sum)
	}
	output := filepath.Join(out, "big.npz")
	written, err := os.ReadFile(output)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(in, later, later); err != nil {
		t.Fatal(err)
	}

	whole := newCancelAt(0)
	if sum, err := Run(whole, opts, func(Result) {}); err != nil || sum.Skipped != 1 {
		t.Fatalf("touched: %+v, %v; want it skipped, up to date", sum, err)
	}
	// The hash looks at the context at each read of 32 KiB: 256 looks of 8 MiB.
	if whole.calls < 256 {
		t.Fatalf("a run that hashed 8 MiB looked at its context %d times, want 256 or more", whole.calls)
	}
	n := whole.calls / 2 // into the hash, which takes most of the looks
	stop := newCancelAt(n)
	sum, err := Run(stop, opts, func(Result) {})
	if err != nil || !sum.Interrupted || sum.Skipped != 0 {
		t.Errorf("stopped at look %d of %d: %+v, %v; want interrupted", n, whole.calls, sum, err)
	}
	if stop.calls > n+16 {
		t.Errorf("stopped at look %d: looked %d times, reading on", n, stop.calls)
	}
	if now, err := os.ReadFile(output); err != nil || !bytes.Equal(now, written) {
		t.Errorf("the output changed: %v", err)
	}
}
