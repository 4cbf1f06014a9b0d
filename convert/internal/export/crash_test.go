package export_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/atomicfile"
	"github.com/ptport/ptport/convert/internal/export"
	"github.com/ptport/ptport/pickle"
)

// model is n tensors of 4 float32s, every element v.
func model(t *testing.T, n int, v float32) []pickle.Leaf {
	var leaves []pickle.Leaf
	for i := range n {
		data := make([]byte, 16)
		for j := 0; j < 16; j += 4 {
			binary.LittleEndian.PutUint32(data[j:], math.Float32bits(v))
		}
		w, err := pickle.NewTensor(pickle.F32, []int{4}, data)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, pickle.Leaf{Name: string(rune('a' + i)), Value: w})
	}
	return leaves
}

// values reads the sharded output at path through its index and returns the distinct
// values of its tensors, or an error when it does not read.
func values(path string) ([]float32, int, error) {
	cp, err := convert.Open(path+export.IndexSuffix, nil)
	if err != nil {
		return nil, 0, err
	}
	defer cp.Close()
	var vs []float32
	n := 0
	for _, l := range cp.Leaves {
		x, err := l.Value.(*pickle.Tensor).Float32s()
		if err != nil {
			return nil, 0, err
		}
		n++
		for _, v := range x {
			if !slices.Contains(vs, v) {
				vs = append(vs, v)
			}
		}
	}
	return vs, n, nil
}

var errCrash = errors.New("crash")

// TestShardedReplaceCrash replaces a sharded output of 1.0s with one of 2.0s, the same
// number of shards, stopping the write after each step that changes a final name (a
// shard renamed into place, the index, an old shard removed), as kill -9 would: the
// output read through its index is the old one whole or the new one whole, never a
// mix, and the next write leaves the new one alone, with no file of the old.
func TestShardedReplaceCrash(t *testing.T) {
	const limit = 16 // one tensor a shard: 4 shards
	for step := 1; ; step++ {
		dir := t.TempDir()
		path := filepath.Join(dir, "m.safetensors")
		if _, err := export.WriteFiles(path, export.Safetensors, nil, model(t, 4, 1), map[string]string{"v": "1"}, limit, atomicfile.Options{NoSync: true}); err != nil {
			t.Fatal(err)
		}
		n := 0
		unset := export.SetCommitHook(func(string) error {
			if n++; n == step {
				return errCrash
			}
			return nil
		})
		_, err := export.WriteFiles(path, export.Safetensors, nil, model(t, 4, 2), map[string]string{"v": "2"}, limit, atomicfile.Options{NoSync: true})
		unset()
		vs, count, rerr := values(path)
		if rerr != nil || count != 4 || len(vs) != 1 {
			t.Fatalf("stopped after step %d: the output reads %v (%d tensors), %v", step, vs, count, rerr)
		}
		if err == nil {
			if vs[0] != 2 {
				t.Fatalf("a write of every step left %v", vs)
			}
			if step < 9 {
				t.Fatalf("a sharded replace took %d steps, want 4 shards, the index and 4 removals", step-1)
			}
			return
		}
		if !errors.Is(err, errCrash) {
			t.Fatal(err)
		}
		if _, err := export.WriteFiles(path, export.Safetensors, nil, model(t, 4, 2), map[string]string{"v": "2"}, limit, atomicfile.Options{NoSync: true}); err != nil {
			t.Fatal(err)
		}
		if vs, _, err := values(path); err != nil || len(vs) != 1 || vs[0] != 2 {
			t.Fatalf("after step %d, the next write left %v, %v", step, vs, err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 5 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("after step %d and the next write: %v, want 4 shards and the index", step, names)
		}
	}
}

// TestShardedReplaceInterrupted replaces a sharded output of 1.0s with one of 2.0s,
// cancelling the write's context after each shard is renamed into place (Ctrl-C): the
// write fails with the context's error and removes those shards, so that the old output
// is left whole with no file of the new one beside it.
func TestShardedReplaceInterrupted(t *testing.T) {
	const limit = 16 // one tensor a shard: 4 shards
	for step := 1; step <= 4; step++ {
		dir := t.TempDir()
		path := filepath.Join(dir, "m.safetensors")
		if _, err := export.WriteFiles(path, export.Safetensors, nil, model(t, 4, 1), map[string]string{"v": "1"}, limit, atomicfile.Options{NoSync: true}); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadDir(dir)
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		unset := export.SetCommitHook(func(string) error {
			if n++; n == step {
				cancel()
			}
			return nil
		})
		_, err := export.WriteFiles(path, export.Safetensors, nil, model(t, 4, 2), map[string]string{"v": "2"}, limit, atomicfile.Options{NoSync: true, Ctx: ctx})
		unset()
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("stopped after shard %d: %v, want the context's error", step, err)
		}
		if vs, count, err := values(path); err != nil || count != 4 || len(vs) != 1 || vs[0] != 1 {
			t.Fatalf("stopped after shard %d: the output reads %v (%d tensors), %v, want the old one", step, vs, count, err)
		}
		after, _ := os.ReadDir(dir)
		if len(after) != len(before) {
			var names []string
			for _, e := range after {
				names = append(names, e.Name())
			}
			t.Errorf("stopped after shard %d: %v, want the old output's %d files alone", step, names, len(before))
		}
	}
}
