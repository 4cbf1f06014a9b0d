package convert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/pickle"
)

// TestShardedInput: both kinds of Hugging Face index open as one checkpoint holding every
// tensor of the module, the same in both; a shard alone is refused.
func TestShardedInput(t *testing.T) {
	cases := trainingCases(t)
	var first *convert.Checkpoint
	for _, name := range []string{"sharded_bin/pytorch_model.bin.index.json", "sharded_st/model.safetensors.index.json"} {
		c := cases[name]
		cp := openTraining(t, name)
		sameShapes(t, name, tensorShapes(cp), c.StateDict)
		if cp.Shards != c.Shards || convert.Inspect(cp).Shards != c.Shards {
			t.Errorf("%s: %d shards, want %d", name, cp.Shards, c.Shards)
		}
		if convert.TotalBytes(cp) != c.TotalSize {
			t.Errorf("%s: %d bytes, want the index's total_size %d", name, convert.TotalBytes(cp), c.TotalSize)
		}
		if first == nil {
			first = cp
		} else {
			for _, l := range first.Leaves {
				a, _ := l.Value.(*pickle.Tensor).Bytes()
				ct, _ := cp.Tensor(l.Name)
				b, _ := ct.Bytes()
				if !bytes.Equal(a, b) {
					t.Errorf("%s differs between the .bin and the safetensors shards", l.Name)
				}
			}
		}
		shard := fixture.Path("training", filepath.Dir(name), shardFile(t, fixture.Path("training", name)))
		_, err := convert.Open(shard, nil)
		var se *convert.ShardError
		if !errors.As(err, &se) || !se.IndexFound || se.Shards != c.Shards || !strings.Contains(err.Error(), filepath.Base(name)) {
			t.Errorf("a lone shard opened: %v", err)
		}
		if part, err := convert.OpenShard(shard, nil); err != nil || len(part.Leaves) == 0 || len(part.Leaves) >= len(c.StateDict) {
			t.Errorf("OpenShard: %v", err)
		} else {
			part.Close()
		}
	}
}

// shardFile is the first shard an index names.
func shardFile(t *testing.T, index string) string {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &idx)
	var names []string
	for _, s := range idx.WeightMap {
		names = append(names, s)
	}
	slices.Sort(names)
	return names[0]
}

// TestHostileIndex: an index naming files outside its folder, tensors no shard holds,
// or shards holding tensors it does not list, is refused.
func TestHostileIndex(t *testing.T) {
	src := fixture.Path("training", "sharded_st")
	for _, c := range []struct {
		edit func(m map[string]string)
		want string
	}{
		{func(m map[string]string) { m["embedding.weight"] = "../model-00001-of-00003.safetensors" }, "not a file name beside the index"},
		{func(m map[string]string) { m["embedding.weight"] = "/etc/passwd" }, "not a file name beside the index"},
		{func(m map[string]string) { m["ghost.weight"] = "model-00001-of-00003.safetensors" }, "no shard holds"},
		{func(m map[string]string) { delete(m, "head.bias") }, "does not list"},
		{func(m map[string]string) { m["head.bias"] = "model-00001-of-00003.safetensors" }, "which the index puts in"},
	} {
		dir := t.TempDir()
		entries, _ := os.ReadDir(src)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(src, e.Name()))
			os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
		}
		var idx map[string]json.RawMessage
		var wm map[string]string
		b, _ := os.ReadFile(filepath.Join(dir, "model.safetensors.index.json"))
		json.Unmarshal(b, &idx)
		json.Unmarshal(idx["weight_map"], &wm)
		c.edit(wm)
		idx["weight_map"], _ = json.Marshal(wm)
		b, _ = json.Marshal(idx)
		os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), b, 0o644)
		_, err := convert.Open(filepath.Join(dir, "model.safetensors.index.json"), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want an error with %q", err, c.want)
		}
	}
}

var shardRE = regexp.MustCompile(`^model-(\d{5})-of-(\d{5})\.safetensors$`)

// TestShardedOutput: --max-shard-size writes shards and an index named and laid out as
// Hugging Face's, which Open reads back as the same checkpoint; a later export to the
// same path removes what the earlier one wrote and the new one does not have.
func TestShardedOutput(t *testing.T) {
	cp := openTraining(t, "lightning.ckpt")
	sel, err := cp.Select(convert.Selection{Paths: []string{"state_dict"}, StripPrefixes: []string{"model."}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "model.safetensors")
	const limit = 1000
	files, err := convert.ExportFiles(context.Background(), out, convert.Safetensors, sel, convert.ExportOptions{MaxShardSize: limit})
	if err != nil {
		t.Fatal(err)
	}
	index := out + ".index.json"
	if files[len(files)-1] != index {
		t.Fatalf("files %v: the index is not last", files)
	}
	var idx struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	b, _ := os.ReadFile(index)
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	if idx.Metadata["total_size"] != convert.TotalBytes(sel) {
		t.Errorf("total_size %d, want %d", idx.Metadata["total_size"], convert.TotalBytes(sel))
	}
	n := len(files) - 1
	sizes := map[string]int64{}
	count := map[string]int{}
	for i, f := range files[:n] {
		m := shardRE.FindStringSubmatch(filepath.Base(f))
		if m == nil || m[1] != fmt.Sprintf("%05d", i+1) || m[2] != fmt.Sprintf("%05d", n) {
			t.Errorf("shard %d named %s", i, filepath.Base(f))
		}
	}
	// Every tensor in a shard the index names; each shard within the limit unless a
	// single tensor passes it. (scripts/check_training.py compares the layout with
	// Hugging Face's own split rules.)
	for _, l := range sel.Leaves {
		shard := idx.WeightMap[l.Name]
		if shardRE.FindStringSubmatch(shard) == nil {
			t.Fatalf("%s in %q", l.Name, shard)
		}
		sizes[shard] += l.Value.(*pickle.Tensor).NumBytes()
		count[shard]++
	}
	for s, size := range sizes {
		if size > limit && count[s] > 1 {
			t.Errorf("%s holds %d bytes in %d tensors, over the limit %d", s, size, count[s], limit)
		}
	}
	back, err := convert.Open(index, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range sel.Leaves {
		a, _ := l.Value.(*pickle.Tensor).Bytes()
		bt, _ := back.Tensor(l.Name)
		if bt == nil {
			t.Fatalf("read back: %s missing", l.Name)
		}
		if b, _ := bt.Bytes(); !bytes.Equal(a, b) {
			t.Errorf("read back: %s differs", l.Name)
		}
	}
	back.Close()

	// Again with a larger limit: fewer shards, the old ones gone.
	files2, err := convert.ExportFiles(context.Background(), out, convert.Safetensors, sel, convert.ExportOptions{MaxShardSize: 3 * limit})
	if err != nil {
		t.Fatal(err)
	}
	if len(files2) >= len(files) {
		t.Fatalf("%d files with the larger limit, %d before", len(files2), len(files))
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, filepath.Join(dir, e.Name()))
	}
	if !slices.Equal(slices.Sorted(slices.Values(left)), slices.Sorted(slices.Values(files2))) {
		t.Errorf("after the second export the folder holds %v, want %v", left, files2)
	}
	// And with everything fitting one shard: one file, no index.
	files3, err := convert.ExportFiles(context.Background(), out, convert.Safetensors, sel, convert.ExportOptions{MaxShardSize: 1 << 30})
	if err != nil || !slices.Equal(files3, []string{out}) {
		t.Fatalf("unsharded: %v, %v", files3, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("after an unsharded export the folder holds %d files, want 1", len(entries))
	}
	if _, err := convert.ExportFiles(context.Background(), out+".npz", convert.NPZ, sel, convert.ExportOptions{MaxShardSize: limit}); err == nil {
		t.Error("npz shards accepted")
	}
}

// TestShardsKeepTiedTogether: tensors that share a storage go in the shard of the first
// of them, as Hugging Face puts them, and the shard's metadata lists them.
func TestShardsKeepTiedTogether(t *testing.T) {
	cp := openTraining(t, "tied.pt")
	dir := t.TempDir()
	out := filepath.Join(dir, "lm.safetensors")
	files, err := convert.ExportFiles(context.Background(), out, convert.Safetensors, cp, convert.ExportOptions{MaxShardSize: 600})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("%d files, want shards and an index", len(files))
	}
	back, err := convert.Open(files[len(files)-1], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	group := trainingCases(t)["tied.pt"].Shared[0]
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	b, _ := os.ReadFile(files[len(files)-1])
	json.Unmarshal(b, &idx)
	for _, n := range group {
		if idx.WeightMap[n] != idx.WeightMap[group[0]] {
			t.Errorf("%s in %s, %s in %s", n, idx.WeightMap[n], group[0], idx.WeightMap[group[0]])
		}
	}
	shard, err := convert.OpenShard(filepath.Join(dir, idx.WeightMap[group[0]]), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer shard.Close()
	if got := sortedGroups(shard.Shared); !slices.EqualFunc(got, sortedGroups([][]string{group}), slices.Equal) {
		t.Errorf("the shard's metadata lists %v, want %v", got, group)
	}
}
