package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// looks is a context whose Err reports cancellation from its n-th call on (never, for
// n 0): a test stops a command at a look of its choosing and counts the looks.
type looks struct {
	context.Context
	mu       sync.Mutex
	n, calls int
}

func (c *looks) Done() <-chan struct{} { return make(chan struct{}) } // may be done

func (c *looks) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.n > 0 && c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

// execute runs the command line args with the context ctx, as a signal would cancel
// it, and returns what it printed and its error.
func execute(ctx context.Context, args ...string) (stdout string, err error) {
	var out, errs bytes.Buffer
	root := newRoot(&out, &errs)
	root.SetArgs(args)
	_, err = root.ExecuteContextC(ctx)
	return out.String(), err
}

// TestStopInspecting: a command stopped while it lists what a checkpoint of many
// tensors holds (after the reading, which a Ctrl-C stopped already), or inspect stopped
// once its listing is made, stops there with the context's error (which ptport's exit
// status 130 and "interrupted" follow), printing and writing nothing, where it listed
// on to the end, printed all and exited 0.
func TestStopInspecting(t *testing.T) {
	dir := t.TempDir()
	var leaves []pickle.Leaf
	for i := range 30000 {
		x, err := pickle.NewTensor(pickle.F32, []int{1}, []byte{0, 0, 0x80, 0x3f})
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, pickle.Leaf{Name: fmt.Sprintf("layer%d.weight", i), Value: x})
	}
	in := filepath.Join(dir, "many.safetensors")
	if err := convert.Export(context.Background(), in, convert.Safetensors, convert.FromLeaves("many", leaves)); err != nil {
		t.Fatal(err)
	}
	cp, err := convert.Open(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	listing := &looks{Context: context.Background()}
	if _, err := convert.InspectContext(listing, cp); err != nil {
		t.Fatal(err)
	}
	reading := &looks{Context: context.Background()}
	if _, err := convert.OpenContext(reading, in, nil); err != nil {
		t.Fatal(err)
	}
	whole := &looks{Context: context.Background()}
	if out, err := execute(whole, "inspect", in); err != nil || out == "" {
		t.Fatalf("inspect: %v, printed %d bytes", err, len(out))
	}
	// The look halfway through the listing's, after the reading's.
	n := whole.calls - listing.calls/2
	if n <= reading.calls {
		t.Fatalf("inspect looked %d times, its reading %d, its listing %d: no look to stop the listing at", whole.calls, reading.calls, listing.calls)
	}
	// Stopped at its last look, the listing made, inspect writes none of it.
	for _, args := range [][]string{{"inspect", in}, {"inspect", in, "--json"}} {
		ctx := &looks{Context: context.Background(), n: whole.calls}
		if printed, err := execute(ctx, args...); !errors.Is(err, context.Canceled) || printed != "" {
			t.Errorf("%v stopped at its last look: %v, printed %d bytes; want context.Canceled, nothing printed", args, err, len(printed))
		}
	}
	out := filepath.Join(dir, "out", "many.npz")
	for _, args := range [][]string{{"inspect", in}, {"inspect", in, "--json"}, {"convert", in, "-o", out}} {
		ctx := &looks{Context: context.Background(), n: n}
		printed, err := execute(ctx, args...)
		if !errors.Is(err, context.Canceled) || printed != "" {
			t.Errorf("%v stopped at look %d of %d: %v, printed %d bytes; want context.Canceled, nothing printed", args, n, whole.calls, err, len(printed))
		}
		if ctx.calls > n+2 {
			t.Errorf("%v stopped at look %d: looked %d times", args, n, ctx.calls)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("convert, stopped, wrote %s", out)
	}
}

// TestStopCheckNotebook: check without arguments reads its embedded notebook files
// with the command's context, as it reads a file named: a context done from the start
// stops it at the reading of the first, naming it.
func TestStopCheckNotebook(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	printed, err := execute(ctx, "check")
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "notebook model.pt: ") || printed != "" {
		t.Errorf("check, stopped: %v, printed %q; want notebook model.pt: and context.Canceled, nothing printed", err, printed)
	}
}
