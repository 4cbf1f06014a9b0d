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
	"github.com/ptport/ptport/convert/internal/export"
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

// shardsAnyName lays out in a new folder, from the sharded fixtures, the sharded
// checkpoints whose shards are not named as one of several: one/, the first shard of
// each fixture alone as model-00001-of-00001.safetensors and
// pytorch_model-00001-of-00001.bin, with Hugging Face's indexes naming their tensors;
// hand/, the .bin shards as part-1.bin to part-3.bin with a hand-written index,
// weights.bin.index.json. It returns the folder.
func shardsAnyName(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	layout := func(fixtureIndex, dir, index string, rename func(shard string) string, keep func(shard string) bool) {
		var idx struct {
			Metadata  map[string]any    `json:"metadata"`
			WeightMap map[string]string `json:"weight_map"`
		}
		src := fixture.Path("training", fixtureIndex)
		raw, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &idx); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		delete(idx.Metadata, "total_size")
		for tensor, shard := range idx.WeightMap {
			if !keep(shard) {
				delete(idx.WeightMap, tensor)
				continue
			}
			idx.WeightMap[tensor] = rename(shard)
			b, err := os.ReadFile(filepath.Join(filepath.Dir(src), shard))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, dir, rename(shard)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		raw, _ = json.Marshal(idx)
		if err := os.WriteFile(filepath.Join(root, dir, index), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	first := func(shard string) bool { return strings.Contains(shard, "-00001-of-") }
	layout("sharded_st/model.safetensors.index.json", "one", "model.safetensors.index.json",
		func(string) string { return "model-00001-of-00001.safetensors" }, first)
	layout("sharded_bin/pytorch_model.bin.index.json", "one", "pytorch_model.bin.index.json",
		func(string) string { return "pytorch_model-00001-of-00001.bin" }, first)
	layout("sharded_bin/pytorch_model.bin.index.json", "hand", "weights.bin.index.json",
		func(s string) string {
			return "part-" + strings.TrimLeft(export.ShardName.FindStringSubmatch(s)[2], "0") + ".bin"
		}, func(string) bool { return true })
	return root
}

// TestOpenShardAnyName: a file that an index beside it names is refused as a shard,
// whatever its name (a single shard named 1-of-1, or a hand-written index's names),
// with a *ShardError naming the index, which opens the whole; a file no index beside
// it names opens as a checkpoint of its own, whatever indexes lie beside it, readable
// or not.
func TestOpenShardAnyName(t *testing.T) {
	root := shardsAnyName(t)
	for _, c := range []struct {
		file, index   string
		shard, shards int
	}{
		{"one/model-00001-of-00001.safetensors", "one/model.safetensors.index.json", 1, 1},
		{"one/pytorch_model-00001-of-00001.bin", "one/pytorch_model.bin.index.json", 1, 1},
		{"hand/part-1.bin", "hand/weights.bin.index.json", 1, 3},
		{"hand/part-3.bin", "hand/weights.bin.index.json", 3, 3},
	} {
		file, index := filepath.Join(root, c.file), filepath.Join(root, c.index)
		cp, err := convert.Open(file, nil)
		var se *convert.ShardError
		if !errors.As(err, &se) {
			if cp != nil {
				cp.Close()
			}
			t.Errorf("Open(%s): %v, want a *ShardError", c.file, err)
			continue
		}
		if se.File != file || se.Index != index || !se.IndexFound || se.Shard != c.shard || se.Shards != c.shards {
			t.Errorf("Open(%s): %+v, want shard %d of %d of %s", c.file, se, c.shard, c.shards, index)
		}
		want := fmt.Sprintf("%s is shard %d of %d of a sharded checkpoint, not a whole one; open its index %s, which names every shard", file, c.shard, c.shards, index)
		if err.Error() != want {
			t.Errorf("Open(%s):\n%v, want\n%s", c.file, err, want)
		}
		part, err := convert.OpenShard(file, nil)
		if err != nil {
			t.Errorf("OpenShard(%s): %v", c.file, err)
			continue
		}
		whole, err := convert.Open(index, nil)
		if err != nil {
			t.Errorf("Open(%s): %v", c.index, err)
		} else {
			if whole.Shards != c.shards || len(whole.Leaves) < len(part.Leaves) {
				t.Errorf("Open(%s): %d shards, %d leaves, want %d shards holding %s's %d leaves", c.index, whole.Shards, len(whole.Leaves), c.shards, c.file, len(part.Leaves))
			}
			whole.Close()
		}
		part.Close()
	}

	// Beside indexes that do not name it, one unreadable, a file is a checkpoint.
	hand := filepath.Join(root, "hand")
	b, err := os.ReadFile(filepath.Join(hand, "part-2.bin"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(hand, "extra.bin"), b, 0o644)
	os.WriteFile(filepath.Join(hand, "broken.index.json"), []byte(`{"weight_map": {"x": "extra.bin"`), 0o644)
	os.WriteFile(filepath.Join(root, "one", "model-00001-of-00001.npz.index.json"), []byte(`{"weight_map": {}}`), 0o644)
	lone := filepath.Join(t.TempDir(), "model-00001-of-00001.safetensors")
	b, err = os.ReadFile(filepath.Join(root, "one", "model-00001-of-00001.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(lone, b, 0o644)
	for _, file := range []string{filepath.Join(hand, "extra.bin"), lone} {
		cp, err := convert.Open(file, nil)
		if err != nil {
			t.Errorf("Open(%s): %v, want the file opened", file, err)
			continue
		}
		if cp.Shards != 0 || len(cp.Leaves) == 0 {
			t.Errorf("Open(%s): %d shards, %d leaves, want a checkpoint of its own", file, cp.Shards, len(cp.Leaves))
		}
		cp.Close()
	}
	// An unreadable index first by name does not hide one that names the file.
	os.WriteFile(filepath.Join(hand, "a.index.json"), []byte("not an index"), 0o644)
	if _, err := convert.Open(filepath.Join(hand, "part-2.bin"), nil); !errors.As(err, new(*convert.ShardError)) || !strings.Contains(err.Error(), "weights.bin.index.json") {
		t.Errorf("beside an unreadable index: %v, want the shard refused, naming weights.bin.index.json", err)
	}
	// Stopped, Open looks at no index.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	file := filepath.Join(hand, "part-2.bin")
	if _, err := convert.OpenContext(ctx, file, nil); !errors.Is(err, context.Canceled) || err.Error() != file+": context canceled" {
		t.Errorf("OpenContext, cancelled: %v, want %s: context canceled", err, file)
	}
}

// TestOpenStrayShard: a file named like a shard whose index beside it does not name it
// (a shard of another save) is refused as Stray, saying so, where the refusal told to
// open that index, which does not hold it; beside an index that cannot be read, the
// refusal names the index, which fails when opened.
func TestOpenStrayShard(t *testing.T) {
	dir := t.TempDir()
	src := fixture.Path("training", "sharded_st")
	for _, n := range []string{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", "model.safetensors.index.json"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	b, _ := os.ReadFile(filepath.Join(src, "model-00003-of-00003.safetensors"))
	stray := filepath.Join(dir, "model-00002-of-00004.safetensors")
	os.WriteFile(stray, b, 0o644)
	index := filepath.Join(dir, "model.safetensors.index.json")
	_, err := convert.Open(stray, nil)
	var se *convert.ShardError
	if !errors.As(err, &se) || !se.Stray || !se.IndexFound || se.Index != index || se.Shard != 2 || se.Shards != 4 {
		t.Fatalf("Open(a stray shard): %v (%+v), want a *ShardError, Stray, of shard 2 of 4 beside %s", err, se, index)
	}
	want := stray + " is named like shard 2 of 4 of a sharded checkpoint, but its index beside it, " + index + ", does not name it: a shard of another save left in this folder (move it out), or a whole checkpoint named like a shard (rename it)"
	if err.Error() != want {
		t.Errorf("Open(a stray shard):\n%v, want\n%s", err, want)
	}
	if se := convert.ShardOf(stray); se == nil || se.Stray || !se.IndexFound {
		t.Errorf("ShardOf(a stray shard): %+v, want IndexFound and not Stray (it reads no index)", se)
	}
	// A shard the index names is no stray.
	if _, err := convert.Open(filepath.Join(dir, "model-00002-of-00003.safetensors"), nil); !errors.As(err, &se) || se.Stray {
		t.Errorf("Open(a shard the index names): %v, want a *ShardError, not Stray", err)
	}
	os.WriteFile(index, []byte("not an index"), 0o644)
	if _, err := convert.Open(stray, nil); !errors.As(err, &se) || se.Stray || !strings.Contains(err.Error(), "open its index "+index) {
		t.Errorf("Open(a shard beside an unreadable index): %v, want a *ShardError naming the index, not Stray", err)
	}
}
