package batch

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ptport/ptport/convert"
)

// copyDir copies the files of the folder src into a new folder and returns it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		copyInto(t, dst, filepath.Join(src, e.Name()), e.Name())
	}
	return dst
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range entries {
		ns = append(ns, e.Name())
	}
	return ns
}

// TestBatchShardedMixed: an output in shards whose index records the input while one of
// the shards it names holds another conversion (what a writer stopped between renaming
// its shards and its index left) is not up to date: the next run converts the input
// again, and the output reads back as it. A replacing output in shards is named apart
// from the one it replaces; a shard a stopped conversion left is removed by the next run.
func TestBatchShardedMixed(t *testing.T) {
	root := shardedTree(t)
	index := filepath.Join(root, "hf/sharded_st/model.safetensors.index.json")
	shard := filepath.Join(root, "hf/sharded_st/model-00002-of-00003.safetensors")
	out := t.TempDir()
	opts := Options{Inputs: []string{index}, OutDir: out, To: convert.Safetensors, MaxShardSize: 40_000}
	outIndex := filepath.Join(out, "model.safetensors.index.json")
	if _, results := runBatch(t, opts); results[index].Status != StatusOK {
		t.Fatalf("%+v", results[index])
	}
	old := copyDir(t, out)
	oldShards, err := convert.ShardFiles(outIndex)
	if err != nil || len(oldShards) < 2 {
		t.Fatalf("shards %v, %v", oldShards, err)
	}
	flipDataByte(t, shard)
	if _, results := runBatch(t, opts); results[index].Status != StatusOK {
		t.Fatalf("changed: %+v", results[index])
	}
	newShards, err := convert.ShardFiles(outIndex)
	if err != nil || len(newShards) != len(oldShards) {
		t.Fatalf("shards %v, %v", newShards, err)
	}
	for i, s := range newShards {
		if filepath.Base(s) == filepath.Base(oldShards[i]) {
			t.Errorf("the replacing shard %s has the name of the shard it replaces", s)
		}
	}
	if got := names(t, out); len(got) != len(newShards)+1 {
		t.Errorf("after the replace: %v, want only the new shards and the index", got)
	}
	// The old output with its first shard the new conversion's, the input back as it was.
	b, err := os.ReadFile(newShards[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, filepath.Base(oldShards[0])), b, 0o644); err != nil {
		t.Fatal(err)
	}
	flipDataByte(t, shard)
	opts.OutDir = old
	_, results := runBatch(t, opts)
	if r := results[index]; r.Status != StatusOK {
		t.Fatalf("a mixed output: %+v, want converted again", r)
	}
	sameTensors(t, index, filepath.Join(old, "model.safetensors.index.json"))
	// A shard of a conversion stopped before its index (named as the index does not
	// name it) is ptport's: it fails nothing and goes, the output up to date or not.
	leftover := filepath.Join(old, "model-00001-of-00003.7.safetensors")
	if err := os.WriteFile(leftover, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, results := runBatch(t, opts); results[index].Status != StatusSkipped {
		t.Errorf("rerun beside a shard left over: %+v", results[index])
	}
	if _, err := os.Stat(leftover); err == nil {
		t.Errorf("the rerun left %s", leftover)
	}
	if err := os.WriteFile(leftover, b, 0o644); err != nil {
		t.Fatal(err)
	}
	flipDataByte(t, shard)
	if _, results := runBatch(t, opts); results[index].Status != StatusOK {
		t.Errorf("changed, beside a shard left over: %+v", results[index])
	}
	sameTensors(t, index, filepath.Join(old, "model.safetensors.index.json"))
	got, _ := convert.ShardFiles(filepath.Join(old, "model.safetensors.index.json"))
	if n := names(t, old); len(n) != len(got)+1 {
		t.Errorf("after a conversion beside a shard left over: %v", n)
	}
}

// TestBatchLayoutReplaced: an output written whole removes ptport's output of the same
// input in shards, and one written in shards removes the whole one, so that neither
// layout is left stale beside the other (the input changed in between), and a rerun in
// either layout is up to date only when that layout alone is there.
func TestBatchLayoutReplaced(t *testing.T) {
	root := shardedTree(t)
	index := filepath.Join(root, "hf/sharded_st/model.safetensors.index.json")
	shard := filepath.Join(root, "hf/sharded_st/model-00002-of-00003.safetensors")
	out := t.TempDir()
	sharded := Options{Inputs: []string{index}, OutDir: out, To: convert.Safetensors, MaxShardSize: 40_000}
	whole := sharded
	whole.MaxShardSize = 0
	outIndex := filepath.Join(out, "model.safetensors.index.json")
	outWhole := filepath.Join(out, "model.safetensors")
	runBatch(t, sharded)
	flipDataByte(t, shard)
	if _, results := runBatch(t, whole); results[index].Status != StatusOK {
		t.Fatalf("whole: %+v", results[index])
	}
	if got := names(t, out); !slices.Equal(got, []string{"model.safetensors"}) {
		t.Errorf("after a whole output: %v, want model.safetensors alone", got)
	}
	sameTensors(t, index, outWhole)
	flipDataByte(t, shard)
	if _, results := runBatch(t, sharded); results[index].Status != StatusOK || results[index].Output != outIndex {
		t.Errorf("in shards after whole: %+v, want converted", results[index])
	}
	if got := names(t, out); slices.Contains(got, "model.safetensors") || len(got) < 3 {
		t.Errorf("after an output in shards: %v", got)
	}
	sameTensors(t, index, outIndex)
	// An output left in both layouts, each up to date (a run stopped before it removed
	// the other), is up to date in neither.
	inShards := copyDir(t, out)
	wholeOut := t.TempDir()
	whole.OutDir = wholeOut
	runBatch(t, whole)
	whole.OutDir = out
	copyInto(t, out, filepath.Join(wholeOut, "model.safetensors"), "model.safetensors")
	if _, results := runBatch(t, whole); results[index].Status != StatusOK {
		t.Errorf("whole beside shards: %+v, want converted", results[index])
	}
	if got := names(t, out); !slices.Equal(got, []string{"model.safetensors"}) {
		t.Errorf("whole beside shards, converted: %v, want model.safetensors alone", got)
	}
	for _, n := range names(t, inShards) {
		copyInto(t, out, filepath.Join(inShards, n), n)
	}
	if _, results := runBatch(t, sharded); results[index].Status != StatusOK {
		t.Errorf("shards beside whole: %+v, want converted", results[index])
	}
	if got := names(t, out); slices.Contains(got, "model.safetensors") {
		t.Errorf("shards beside whole, converted: %v", got)
	}
	if _, results := runBatch(t, sharded); results[index].Status != StatusSkipped {
		t.Errorf("rerun: %+v", results[index])
	}
}
