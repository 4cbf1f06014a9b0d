package pickle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// stopAfter is a context whose Err reports cancellation from its n-th call on (never,
// for n 0): a test stops a read at a point of its choosing, whatever the machine's
// speed, and counts how often the read looks at its context.
type stopAfter struct {
	context.Context
	n, calls int
}

func (c *stopAfter) Err() error {
	c.calls++
	if c.n > 0 && c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

// manyValues is a checkpoint of n entries, each a list of an int, a float and a string.
func manyValues(t *testing.T, n int) []byte {
	t.Helper()
	root := &Dict{Ordered: true}
	for i := range n {
		root.Entries = append(root.Entries, DictEntry{Key: fmt.Sprintf("k%d", i), Value: List{int64(i), float64(i) / 2, "s"}})
	}
	var buf bytes.Buffer
	if err := Write(&buf, root, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// countingReader counts the reads of an io.ReaderAt.
type countingReader struct {
	r     *bytes.Reader
	reads int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.r.ReadAt(p, off)
}

// TestReadContext: a read looks at its context a few times in every few thousand
// steps (opcodes scanned and run, values converted, paths walked), not at each, and
// stops at the first look that finds it done, with an error that wraps its error; a
// context done before the read starts stops it before it reads a byte; a read that its
// context lets finish reads what NewReader and Leaves read.
func TestReadContext(t *testing.T) {
	data := manyValues(t, 20000)
	want, err := NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantLeaves, err := Leaves(want.Root)
	if err != nil {
		t.Fatal(err)
	}

	live := &stopAfter{Context: context.Background()}
	f, err := NewReaderContext(live, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Root, want.Root) {
		t.Error("NewReaderContext read another tree than NewReader")
	}
	reads := live.calls
	got, err := LeavesContext(live, f.Root)
	if err != nil || !reflect.DeepEqual(got, wantLeaves) {
		t.Fatalf("LeavesContext: %d leaves, %v; want Leaves' %d", len(got), err, len(wantLeaves))
	}
	walks := live.calls - reads
	// Each pass over the pickle (scan, run, convert) looks once per 4096 steps; an
	// opcode takes a byte at least.
	if reads < 3 || reads > len(data)/1024+4 {
		t.Errorf("reading %d bytes of pickle looked at the context %d times, want 3 to %d", len(data), reads, len(data)/1024+4)
	}
	if walks < 2 || walks > len(wantLeaves)/1024+4 {
		t.Errorf("walking %d leaves looked at the context %d times, want 2 to %d", len(wantLeaves), walks, len(wantLeaves)/1024+4)
	}

	for _, k := range []int{2, 3, reads / 2, reads} {
		ctx := &stopAfter{Context: context.Background(), n: k}
		f, err := NewReaderContext(ctx, bytes.NewReader(data), int64(len(data)), nil)
		if !errors.Is(err, context.Canceled) || f != nil {
			t.Errorf("stopped at look %d of %d: %v, want context.Canceled", k, reads, err)
		}
		if ctx.calls > k+1 {
			t.Errorf("stopped at look %d: looked %d times, after it was done too", k, ctx.calls)
		}
	}
	for _, k := range []int{1, walks / 2, walks} {
		ctx := &stopAfter{Context: context.Background(), n: k}
		if l, err := LeavesContext(ctx, want.Root); !errors.Is(err, context.Canceled) || l != nil {
			t.Errorf("LeavesContext stopped at look %d of %d: %d leaves, %v; want context.Canceled", k, walks, len(l), err)
		}
	}

	done, cancel := context.WithCancel(context.Background())
	cancel()
	r := &countingReader{r: bytes.NewReader(data)}
	if _, err := NewReaderContext(done, r, int64(len(data)), nil); !errors.Is(err, context.Canceled) || r.reads != 0 {
		t.Errorf("a context done before: %v after %d reads, want context.Canceled before any", err, r.reads)
	}
	path := filepath.Join(t.TempDir(), "m.pt")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenContext(&stopAfter{Context: context.Background(), n: 3}, path, nil)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("OpenContext stopped: %v, want the file's name and context.Canceled", err)
	}
}
