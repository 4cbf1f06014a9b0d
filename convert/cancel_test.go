package convert_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/pickle"
)

// cancelling is an io.ReaderAt that cancels a context once more than after bytes were
// read from it, and counts what is read after that.
type cancelling struct {
	r      *bytes.Reader
	after  int64
	cancel context.CancelFunc

	mu          sync.Mutex
	read, since int64 // bytes read, and read once cancelled
	reads       int   // reads once cancelled
}

func (c *cancelling) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read > c.after {
		c.since += int64(n)
		c.reads++
	}
	if c.read += int64(n); c.read > c.after {
		c.cancel()
	}
	return n, err
}

// manyLeaves is a checkpoint of n small tensors and n values.
func manyLeaves(t *testing.T, n int) *convert.Checkpoint {
	t.Helper()
	var leaves []pickle.Leaf
	for i := range n {
		x, err := pickle.NewTensor(pickle.F32, []int{2}, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40})
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, pickle.Leaf{Name: fmt.Sprintf("layer%d.weight", i), Value: x})
	}
	for i := range n {
		leaves = append(leaves, pickle.Leaf{Name: fmt.Sprintf("history.%d", i), Value: float64(i) / 4})
	}
	return convert.FromLeaves("many", leaves)
}

// TestOpenContext: in every format, a read that its context stops returns an error that
// wraps context.Canceled and names the file: stopped before it starts, it reads nothing;
// stopped while it reads (the context cancelled by a read of the file, halfway through
// what a whole read reads), it reads little more, however many values and tensors are
// left; let finish, it reads what Open reads. No goroutine outlives a read.
func TestOpenContext(t *testing.T) {
	dir := t.TempDir()
	cp := manyLeaves(t, 5000)
	goroutines := runtime.NumGoroutine()
	for _, f := range convert.Formats {
		path := filepath.Join(dir, "many."+string(f))
		if err := convert.Export(context.Background(), path, f, cp); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}

		want, err := convert.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		live, cancel := context.WithCancel(context.Background())
		got, err := convert.OpenContext(live, path, nil)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sameLeaves(t, want.Leaves, got.Leaves, f)
		if got.Format != want.Format {
			t.Errorf("%s: OpenContext read the format %s, Open %s", f, got.Format, want.Format)
		}
		want.Close()
		got.Close()

		done, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := convert.OpenContext(done, path, nil); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("%s: a context done before: %v, want %s: and context.Canceled", f, err, path)
		}

		// How much a whole read reads, to stop one halfway.
		whole := &cancelling{r: bytes.NewReader(data), after: int64(len(data)), cancel: func() {}}
		if _, err := convert.NewCheckpoint(path, whole, int64(len(data)), nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		half := &cancelling{r: bytes.NewReader(data), after: whole.read / 2, cancel: cancel}
		c, err := convert.NewCheckpointContext(ctx, path, half, int64(len(data)), nil)
		cancel()
		if !errors.Is(err, context.Canceled) || c != nil {
			t.Errorf("%s: stopped halfway: %v, want context.Canceled", f, err)
			continue
		}
		// A JSON document is looked at every read of a few kilobytes, an npz file every
		// 256 members: a few reads each.
		if half.since > 64<<10 || half.reads > 3*256 {
			t.Errorf("%s: read %d bytes in %d reads once cancelled (of %d for the whole read)", f, half.since, half.reads, whole.read)
		}

		// Stopped at the look halfway through those of a whole read, with nothing read
		// to stop it (a safetensors header's tensors, a pickle's opcodes): it returns,
		// looking a few times more at most (on the way out).
		looks := &fixture.StopAfter{Context: context.Background()}
		if _, err := convert.NewCheckpointContext(looks, path, bytes.NewReader(data), int64(len(data)), nil); err != nil {
			t.Fatal(err)
		}
		if looks.Looks() < 4 {
			t.Errorf("%s: a whole read of %d tensors and %d values looked at its context %d times", f, 5000, 5000, looks.Looks())
		}
		mid := &fixture.StopAfter{Context: context.Background(), N: looks.Looks() / 2}
		if _, err := convert.NewCheckpointContext(mid, path, bytes.NewReader(data), int64(len(data)), nil); !errors.Is(err, context.Canceled) || mid.Looks() > mid.N+4 {
			t.Errorf("%s: stopped at look %d of %d: %v after %d looks, want context.Canceled at once", f, mid.N, looks.Looks(), err, mid.Looks())
		}
	}
	// A sharded checkpoint: every shard's read is the context's.
	files, err := convert.ExportFiles(context.Background(), filepath.Join(dir, "model.safetensors"), convert.Safetensors, cp, convert.ExportOptions{MaxShardSize: 16 << 10})
	if err != nil || len(files) < 3 {
		t.Fatalf("sharded export: %v, %v", files, err)
	}
	index := filepath.Join(dir, "model.safetensors.index.json")
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := convert.OpenContext(done, index, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("a sharded checkpoint, its context done: %v, want context.Canceled", err)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after the reads, %d before", n, goroutines)
	}
}

// rnnLeaves are the tensors of n one-unit RNNs, m0. to m<n-1>., side by side.
func rnnLeaves(t *testing.T, n int) []pickle.Leaf {
	t.Helper()
	var leaves []pickle.Leaf
	for i := range n {
		for _, name := range []string{"weight_ih_l0", "weight_hh_l0"} {
			x, err := pickle.NewTensor(pickle.F32, []int{1, 1}, []byte{0, 0, 0x80, 0x3f})
			if err != nil {
				t.Fatal(err)
			}
			leaves = append(leaves, pickle.Leaf{Name: fmt.Sprintf("m%d.%s", i, name), Value: x})
		}
	}
	return leaves
}

// TestInspectContext: InspectContext looks at its context a few times in every few
// thousand steps (leaves listed, modules walked, recurrent modules weighed), not at
// each, and stops at the first look that finds it done, with an error that wraps its
// error and names the file, and no Inventory; a context done before it starts stops it
// at once; let finish, it lists what Inspect lists.
func TestInspectContext(t *testing.T) {
	leaves := manyLeaves(t, 10000).Leaves
	leaves = append(leaves, rnnLeaves(t, 5000)...)
	cp := convert.FromLeaves("many", leaves)
	want := convert.Inspect(cp)
	if len(want.Models) != 5000 || len(want.Tensors) != 20000 {
		t.Fatalf("Inspect: %d tensors, %d recurrent modules; want 20000, 5000", len(want.Tensors), len(want.Models))
	}
	live := &fixture.StopAfter{Context: context.Background()}
	got, err := convert.InspectContext(live, cp)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("InspectContext: %v; or another inventory than Inspect's", err)
	}
	if steps := len(leaves) + len(want.Models); live.Looks() < 4 || live.Looks() > 4*steps/1024 {
		t.Errorf("inspecting %d leaves looked at the context %d times, want 4 to %d", len(leaves), live.Looks(), 4*steps/1024)
	}
	for _, k := range []int{1, 2, live.Looks() / 2, live.Looks()} {
		ctx := &fixture.StopAfter{Context: context.Background(), N: k}
		inv, err := convert.InspectContext(ctx, cp)
		if !errors.Is(err, context.Canceled) || inv != nil || !strings.HasPrefix(err.Error(), "many: ") {
			t.Errorf("stopped at look %d of %d: %v, want many: and context.Canceled, no inventory", k, live.Looks(), err)
		}
		if ctx.Looks() > k+1 {
			t.Errorf("stopped at look %d: looked %d times, after it was done too", k, ctx.Looks())
		}
	}
}
