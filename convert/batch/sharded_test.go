package batch

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
)

// shardedTree copies the sharded checkpoints torch wrote into a tree beside a plain
// checkpoint, a lone shard (no index beside it) and a stray one (its index does not
// name it), and returns its root.
func shardedTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	copyFile := func(src, rel string) { copyInto(t, root, src, rel) }
	for _, dir := range []string{"sharded_bin", "sharded_st"} {
		entries, err := os.ReadDir(fixture.Path("training", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			copyFile(fixture.Path("training", dir, e.Name()), "hf/"+dir+"/"+e.Name())
		}
	}
	copyFile(fixture.Path("training", "adam.pt"), "hf/adam.pt")
	copyFile(fixture.Path("training", "sharded_bin", "pytorch_model-00002-of-00003.bin"), "hf/lone/pytorch_model-00002-of-00003.bin")
	copyFile(fixture.Path("training", "sharded_bin", "pytorch_model-00003-of-00003.bin"), "hf/sharded_bin/pytorch_model-00004-of-00004.bin")
	return root
}

// binShards are the shards of hf/sharded_bin's index, sorted.
var binShards = []string{"pytorch_model-00001-of-00003.bin", "pytorch_model-00002-of-00003.bin", "pytorch_model-00003-of-00003.bin"}

// TestBatchShardedInput: a sharded checkpoint is one input, its index, converted whole
// to one output named for the checkpoint, its shards reported with it and never alone;
// a lone shard and a stray one fail; the rerun skips the whole unit while every shard
// is unchanged (a touch included) and converts it again when one changes.
func TestBatchShardedInput(t *testing.T) {
	root := shardedTree(t)
	out := t.TempDir()
	opts := Options{Inputs: []string{root}, OutDir: out, To: convert.Safetensors, Jobs: 2}
	index := filepath.Join(root, "hf/sharded_bin/pytorch_model.bin.index.json")
	lone := filepath.Join(root, "hf/lone/pytorch_model-00002-of-00003.bin")
	stray := filepath.Join(root, "hf/sharded_bin/pytorch_model-00004-of-00004.bin")
	adam := filepath.Join(root, "hf/adam.pt")
	var want int64
	for _, p := range []string{index, lone, stray, adam} {
		want += fileSize(t, p)
	}
	for _, s := range binShards {
		want += fileSize(t, filepath.Join(root, "hf/sharded_bin", s))
	}
	plan, err := NewPlan(opts)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Files != 4 || plan.Bytes != want {
		t.Errorf("plan %+v, want 4 inputs (the index, the lone and the stray shard, adam.pt) of %d bytes", plan, want)
	}
	sum, results := runBatch(t, opts)
	if sum.Files != 4 || sum.OK != 2 || sum.Failed != 2 {
		t.Errorf("summary %+v, want 2 ok and the lone and stray shards failed", sum)
	}
	r := results[index]
	var shards []string
	for _, s := range r.Shards {
		shards = append(shards, filepath.Base(s))
	}
	output := filepath.Join(out, "hf/sharded_bin/pytorch_model.safetensors")
	if r.Status != StatusOK || r.Output != output || !slices.Equal(shards, binShards) || r.Tensors != 11 {
		t.Errorf("the index: %+v, want ok to %s with its shards %v", r, output, binShards)
	}
	sameTensors(t, index, output)
	if r := results[lone]; r.Status != StatusFailed || !strings.Contains(r.Error, "is not beside it") {
		t.Errorf("the lone shard: %+v", r)
	}
	if r := results[stray]; r.Status != StatusFailed || !strings.HasSuffix(r.Error, " is named like shard 4 of 4 of a sharded checkpoint, but its index beside it, pytorch_model.bin.index.json, does not name it: a shard of another save left in this folder? Move it out, or rename it if it is a whole checkpoint") {
		t.Errorf("the stray shard: %+v", r)
	}
	for in := range results {
		if strings.Contains(in, "sharded_st") || in != lone && slices.Contains(binShards, filepath.Base(in)) {
			t.Errorf("%s taken as an input", in)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(out, "hf/sharded_bin"))
	if len(entries) != 1 {
		t.Errorf("outputs of hf/sharded_bin: %v, want only pytorch_model.safetensors", entries)
	}

	// Unchanged, touched: skipped as a whole.
	if _, results := runBatch(t, opts); results[index].Status != StatusSkipped {
		t.Errorf("rerun: %+v", results[index])
	}
	shard := filepath.Join(root, "hf/sharded_bin", binShards[1])
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(shard, later, later); err != nil {
		t.Fatal(err)
	}
	if _, results := runBatch(t, opts); results[index].Status != StatusSkipped {
		t.Errorf("rerun after a touch of a shard: %+v", results[index])
	}
	// A shard gone: the unit fails, and its output stays.
	b, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(shard)
	if _, results := runBatch(t, opts); results[index].Status != StatusFailed {
		t.Errorf("a shard removed: %+v", results[index])
	}
	os.WriteFile(shard, b, 0o644)

	// Through a shard's content changing, the safetensors unit converts again.
	opts.Include = []string{"*.safetensors"}
	stIndex := filepath.Join(root, "hf/sharded_st/model.safetensors.index.json")
	stOutput := filepath.Join(out, "hf/sharded_st/model.safetensors")
	if _, results := runBatch(t, opts); len(results) != 1 || results[stIndex].Status != StatusOK || results[stIndex].Output != stOutput {
		t.Fatalf("--include '*.safetensors': %v, want the safetensors unit alone", results)
	}
	sameTensors(t, stIndex, stOutput)
	before, _ := os.ReadFile(stOutput)
	flipDataByte(t, filepath.Join(root, "hf/sharded_st/model-00003-of-00003.safetensors"))
	if _, results := runBatch(t, opts); results[stIndex].Status != StatusOK {
		t.Errorf("a shard changed: %+v, want converted again", results[stIndex])
	}
	if after, _ := os.ReadFile(stOutput); bytes.Equal(before, after) {
		t.Error("the output did not change with its shard")
	}
	sameTensors(t, stIndex, stOutput)
}

// flipDataByte changes the last byte of a safetensors file's tensor data, keeping its
// size.
func flipDataByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(b); int(n)+8 >= len(b) {
		t.Fatalf("%s has no tensor data", path)
	}
	b[len(b)-1] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestBatchShardedNamed: naming a shard as an input takes its whole checkpoint, once
// however many of its files are named; shard assignment goes by the index.
func TestBatchShardedNamed(t *testing.T) {
	root := shardedTree(t)
	dir := filepath.Join(root, "hf/sharded_bin")
	var inputs []string
	for _, s := range binShards {
		inputs = append(inputs, filepath.Join(dir, s))
	}
	inputs = append(inputs, filepath.Join(dir, "pytorch_model.bin.index.json"))
	out := t.TempDir()
	sum, results := runBatch(t, Options{Inputs: inputs, OutDir: out, To: convert.NPZ})
	r := results[filepath.Join(dir, "pytorch_model.bin.index.json")]
	if sum.Files != 1 || r.Status != StatusOK || r.Output != filepath.Join(out, "pytorch_model.npz") || len(r.Shards) != 3 {
		t.Errorf("summary %+v, %v: want the checkpoint once, to pytorch_model.npz", sum, results)
	}
	// In shards, the checkpoint goes where its index's path hashes.
	want := shardOf("hf/sharded_bin/pytorch_model.bin.index.json", 5)
	for k := range 5 {
		_, results := runBatch(t, Options{Inputs: []string{root}, OutDir: t.TempDir(), To: convert.JSON, Shard: k, Shards: 5})
		_, ok := results[filepath.Join(dir, "pytorch_model.bin.index.json")]
		if ok != (k == want) {
			t.Errorf("shard %d/5 took the checkpoint: %v (want it in shard %d)", k, ok, want)
		}
	}
}

// TestBatchShardedCollision: a sharded checkpoint whose output another input would
// write fails with it, as any two inputs do.
func TestBatchShardedCollision(t *testing.T) {
	root := shardedTree(t)
	b, _ := os.ReadFile(filepath.Join(root, "hf/adam.pt"))
	os.WriteFile(filepath.Join(root, "hf/sharded_bin/pytorch_model.pt"), b, 0o644)
	out := t.TempDir()
	_, results := runBatch(t, Options{Inputs: []string{filepath.Join(root, "hf/sharded_bin")}, OutDir: out, To: convert.Safetensors})
	for _, in := range []string{"pytorch_model.bin.index.json", "pytorch_model.pt"} {
		if r := results[filepath.Join(root, "hf/sharded_bin", in)]; r.Status != StatusFailed || !strings.Contains(r.Error, "2 inputs would write") {
			t.Errorf("%s: %+v", in, r)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "pytorch_model.safetensors")); err == nil {
		t.Error("the output was written")
	}
}

// TestBatchShardedOutput: with MaxShardSize, outputs are written in shards and an index
// as Hugging Face lays them out, read back as the input; the index records the source,
// so a rerun skips; a smaller output is one file, and the shards of an earlier export
// go.
func TestBatchShardedOutput(t *testing.T) {
	root := shardedTree(t)
	out := t.TempDir()
	index := filepath.Join(root, "hf/sharded_bin/pytorch_model.bin.index.json")
	opts := Options{Inputs: []string{index}, OutDir: out, To: convert.Safetensors, MaxShardSize: 40_000}
	_, results := runBatch(t, opts)
	outIndex := filepath.Join(out, "pytorch_model.safetensors.index.json")
	if r := results[index]; r.Status != StatusOK || r.Output != outIndex {
		t.Fatalf("%+v, want ok to %s", r, outIndex)
	}
	files, _ := filepath.Glob(filepath.Join(out, "pytorch_model-*-of-*.safetensors"))
	if len(files) < 2 {
		t.Errorf("shards written: %v", files)
	}
	sameTensors(t, index, outIndex)
	if _, results := runBatch(t, opts); results[index].Status != StatusSkipped || results[index].Output != outIndex {
		t.Errorf("rerun: %+v", results[index])
	}
	opts.MaxShardSize, opts.Force = 1<<30, true
	runBatch(t, opts)
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 || entries[0].Name() != "pytorch_model.safetensors" {
		t.Errorf("after a conversion to one file: %v", entries)
	}
	for _, bad := range []Options{
		{Inputs: []string{index}, OutDir: out, To: convert.NPZ, MaxShardSize: 1000},
		{Inputs: []string{index}, OutDir: out, To: convert.Safetensors, MaxShardSize: -1},
	} {
		if _, err := NewPlan(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestBatchList: the inputs of a list, a path a line or NUL-ended, relative ones from the
// working directory; their outputs keep their paths; a shard's checkpoint is taken once;
// a path that is gone fails alone; a listed folder is walked.
func TestBatchList(t *testing.T) {
	root := shardedTree(t)
	t.Chdir(root)
	absIndex := filepath.Join(root, "hf/sharded_st/model.safetensors.index.json")
	paths := []string{
		"hf/sharded_bin/" + binShards[0], "./hf/sharded_bin/" + binShards[2],
		"hf/adam.pt", absIndex, "gone.pt", "", "hf/lone",
	}
	for _, nul := range []bool{false, true} {
		sep := "\n"
		if nul {
			sep = "\x00"
		}
		out := t.TempDir()
		opts := Options{List: strings.NewReader(strings.Join(paths, sep) + sep), ListNUL: nul, OutDir: out, To: convert.Safetensors}
		plan, err := NewPlan(opts)
		if err != nil {
			t.Fatal(err)
		}
		sum, results := runBatch(t, opts)
		if plan.Files != 5 || sum.Files != 5 || sum.OK != 3 || sum.Failed != 2 {
			t.Errorf("nul %v: plan %+v, summary %+v, want 3 ok, gone.pt and the lone shard failed", nul, plan, sum)
		}
		wantOut := map[string]string{
			"hf/sharded_bin/pytorch_model.bin.index.json": "hf/sharded_bin/pytorch_model.safetensors",
			"hf/adam.pt": "hf/adam.safetensors",
			absIndex:     strings.TrimPrefix(filepath.Dir(absIndex), "/") + "/model.safetensors",
		}
		for in, o := range wantOut {
			r := results[in]
			if r.Status != StatusOK || r.Output != filepath.Join(out, o) {
				t.Errorf("nul %v: %s: %+v, want ok to %s", nul, in, r, o)
			}
		}
		if r := results["gone.pt"]; r.Status != StatusFailed || !strings.Contains(r.Error, "no such file") {
			t.Errorf("gone.pt: %+v", r)
		}
		if r := results["hf/lone/"+binShards[1]]; r.Status != StatusFailed {
			t.Errorf("the lone shard: %+v", r)
		}
	}
}

// TestBatchListShards: N runs over one list take each of its inputs once.
func TestBatchListShards(t *testing.T) {
	root := shardedTree(t)
	t.Chdir(root)
	list := "hf/adam.pt\nhf/sharded_bin/" + binShards[1] + "\nhf/sharded_st/model-00001-of-00003.safetensors\n"
	seen := map[string]int{}
	for k := range 3 {
		_, results := runBatch(t, Options{List: strings.NewReader(list), OutDir: t.TempDir(), To: convert.JSON, Shard: k, Shards: 3})
		for in := range results {
			seen[in]++
		}
	}
	if len(seen) != 3 {
		t.Errorf("the shards took %v, want adam.pt and the two sharded checkpoints", seen)
	}
	for in, n := range seen {
		if n != 1 {
			t.Errorf("%s taken %d times", in, n)
		}
	}
}

// TestBatchListErrors: a path longer than any file system takes, and a NUL byte in a
// list of lines, are errors of the list, naming the path's number.
func TestBatchListErrors(t *testing.T) {
	for _, list := range []string{"a.pt\n" + strings.Repeat("x", maxListPath+1) + "\n", "a.pt\nb.pt\x00c.pt\n"} {
		_, err := NewPlan(Options{List: strings.NewReader(list), OutDir: "out", To: convert.JSON})
		var le *ListError
		if !errors.As(err, &le) || le.Line != 2 {
			t.Errorf("%.20q: %v, want a ListError at path 2", list, err)
		}
	}
}

// TestBatchListLarge: a list of 100000 paths is read as a stream, each pass from its
// start; none of its files exists, so each is an input that fails.
func TestBatchListLarge(t *testing.T) {
	const n = 100_000
	list := &generatedList{n: n}
	opts := Options{List: list, OutDir: t.TempDir(), To: convert.JSON}
	plan, err := NewPlan(opts)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Files != n || sum.Files != n || sum.Failed != n || list.seeks != 3 {
		t.Errorf("plan of %d inputs, %+v, after %d passes over the list; want %d inputs failed after 3 passes", plan.Files, sum, list.seeks, n)
	}
}

// generatedList is a list of n paths made as it is read, never held.
type generatedList struct {
	n, next int
	pending []byte
	seeks   int
}

func (g *generatedList) Read(p []byte) (int, error) {
	for len(g.pending) < len(p) && g.next < g.n {
		g.pending = append(g.pending, "missing/model-"+strconv.Itoa(g.next)+".pt\n"...)
		g.next++
	}
	if len(g.pending) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	return n, nil
}

func (g *generatedList) Seek(off int64, whence int) (int64, error) {
	if off != 0 || whence != 0 {
		return 0, errors.New("only a seek to the start")
	}
	g.next, g.pending = 0, nil
	g.seeks++
	return 0, nil
}

// TestListRel: a listed input's output keeps its path below the output folder, never
// above it.
func TestListRel(t *testing.T) {
	wd, _ := os.Getwd()
	up := strings.TrimPrefix(filepath.ToSlash(filepath.Dir(wd)), "/")
	for in, want := range map[string]string{
		"a/b.pt":         "a/b.pt",
		"./a//b.pt":      "a/b.pt",
		"a/../b.pt":      "b.pt",
		"/data/zoo/m.pt": "data/zoo/m.pt",
		"//x.pt":         "x.pt",
		"../m.pt":        up + "/m.pt",
		".":              "",
	} {
		if got := listRel(in); got != want {
			t.Errorf("listRel(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBatchShardedReplaceStopped: a replace of an output in shards that its context
// stops (Ctrl-C), here as its shards are written, leaves the output it was to replace
// whole and no shard of its own beside it (export's TestShardedReplaceInterrupted
// stops it after each shard renamed into place); and the shards that a replace
// stopped by a crash leaves (of the next generation's names, STEM-0000K-of-0000N.1.EXT,
// which the index does not name; stood in for by the shards of the new output written
// elsewhere, renamed so) are passed over by a walk of that folder, which takes its
// index as the one input, where each of them failed as a shard of another save.
func TestBatchShardedReplaceStopped(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "zoo/m.pt")
	zoo, out := filepath.Join(root, "zoo"), filepath.Join(root, "out")
	opts := Options{Inputs: []string{zoo}, OutDir: out, To: convert.Safetensors, MaxShardSize: 1000, Jobs: 1}
	if sum, _ := runBatch(t, opts); sum.OK != 1 {
		t.Fatalf("first conversion: %+v", sum)
	}
	before, _ := os.ReadDir(out)
	if len(before) < 3 {
		t.Fatalf("%d files: want the output in shards", len(before))
	}
	copyInto(t, root, fixture.Convert("char_lstm.pt"), "zoo/m.pt") // retrained
	in := filepath.Join(zoo, "m.pt")
	fi, _ := os.Stat(in)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopping := opts
	var given int64
	stopping.Progress = func(n int64) {
		if given += n; given >= fi.Size() {
			cancel() // the last shard written: its rename, and the index's, to come
		}
	}
	sum, err := Run(ctx, stopping, nil)
	if err != nil || !sum.Interrupted || sum.OK != 0 {
		t.Fatalf("stopped: %+v, %v", sum, err)
	}
	after, _ := os.ReadDir(out)
	if len(after) != len(before) {
		t.Errorf("stopped: %d files, want the old output's %d alone: %v", len(after), len(before), after)
	}
	sameTensors(t, fixture.Convert("lstm_proj_bi.pt"), filepath.Join(out, "m.safetensors.index.json"))

	// A crash's leftovers: the new shards under the next generation's names.
	other := filepath.Join(root, "other")
	opts.OutDir = other
	runBatch(t, opts)
	shards, _ := filepath.Glob(filepath.Join(other, "m-*-of-*.safetensors"))
	for _, s := range shards {
		b, _ := os.ReadFile(s)
		name := strings.TrimSuffix(filepath.Base(s), ".safetensors") + ".1.safetensors"
		os.WriteFile(filepath.Join(out, name), b, 0o644)
	}
	sum, results := runBatch(t, Options{Inputs: []string{out}, OutDir: filepath.Join(root, "down"), To: convert.Safetensors, Include: []string{"*.safetensors", "*.index.json"}})
	if sum.Files != 1 || sum.OK != 1 || sum.Failed != 0 {
		t.Errorf("a walk of the folder with the crash's shards: %+v, want its index alone converted: %v", sum, results)
	}
}

// renamedIndex writes into dir, named index, the index at src with its shards renamed
// by rename, and returns the shards it renamed, by their new names: an index whose
// shards are not named -0000K-of-0000N as Hugging Face names them.
func renamedIndex(t *testing.T, src, dir, index string, rename func(string) string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Metadata  map[string]any    `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	renamed := map[string]string{}
	for tensor, shard := range idx.WeightMap {
		idx.WeightMap[tensor] = rename(shard)
		renamed[rename(shard)] = filepath.Join(filepath.Dir(src), shard)
	}
	raw, _ = json.Marshal(idx)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, index), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return renamed
}

// TestBatchShardsAnyName: every file an index names is one of its shards, never an
// input of its own, whatever its name: a single shard named 1-of-1, or the names a
// hand-written index gives; walked, named or listed, the checkpoint is one input. A
// file named 1-of-1 with no index beside it is a checkpoint as any other.
func TestBatchShardsAnyName(t *testing.T) {
	root := t.TempDir()
	// One shard, 00001-of-00001: the sharded safetensors fixture made one file.
	whole := t.TempDir()
	stIndex := fixture.Path("training", "sharded_st", "model.safetensors.index.json")
	if _, results := runBatch(t, Options{Inputs: []string{stIndex}, OutDir: whole, To: convert.Safetensors}); results[stIndex].Status != StatusOK {
		t.Fatalf("%+v", results[stIndex])
	}
	one := filepath.Join(root, "one")
	renamedIndex(t, stIndex, one, "model.safetensors.index.json", func(string) string { return "model-00001-of-00001.safetensors" })
	copyInto(t, one, filepath.Join(whole, "model.safetensors"), "model-00001-of-00001.safetensors")
	// Hand-written names, none like a shard's.
	hand := filepath.Join(root, "hand")
	binIndex := fixture.Path("training", "sharded_bin", "pytorch_model.bin.index.json")
	for name, src := range renamedIndex(t, binIndex, hand, "weights.bin.index.json", func(s string) string { return "part-" + s[len(s)-14:len(s)-13] + ".bin" }) {
		copyInto(t, hand, src, name)
	}
	// A lone 1-of-1, its index nowhere.
	copyInto(t, root, filepath.Join(one, "model-00001-of-00001.safetensors"), "lone/model-00001-of-00001.safetensors")

	oneIndex := filepath.Join(one, "model.safetensors.index.json")
	handIndex := filepath.Join(hand, "weights.bin.index.json")
	lone := filepath.Join(root, "lone/model-00001-of-00001.safetensors")
	wantShards := map[string][]string{
		oneIndex:  {"model-00001-of-00001.safetensors"},
		handIndex: {"part-1.bin", "part-2.bin", "part-3.bin"},
		lone:      nil,
	}
	check := func(how string, results map[string]Result, want ...string) {
		t.Helper()
		if len(results) != len(want) {
			t.Errorf("%s: %d inputs reported, want %d (%v)", how, len(results), len(want), want)
		}
		for in := range results {
			if !slices.Contains(want, in) {
				t.Errorf("%s: %s taken as an input", how, in)
			}
		}
		for _, in := range want {
			r := results[in]
			var shards []string
			for _, s := range r.Shards {
				shards = append(shards, filepath.Base(s))
			}
			if r.Status != StatusOK || !slices.Equal(shards, wantShards[in]) {
				t.Errorf("%s: %s: %+v, want ok with the shards %v", how, in, r, wantShards[in])
			}
		}
	}
	walked := Options{Inputs: []string{root}, OutDir: t.TempDir(), To: convert.NPZ, Include: []string{"*.safetensors", "*.bin"}}
	plan, err := NewPlan(walked)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Files != 3 {
		t.Errorf("plan of %d inputs, want 3", plan.Files)
	}
	_, results := runBatch(t, walked)
	check("walked", results, oneIndex, handIndex, lone)
	_, results = runBatch(t, Options{Inputs: []string{hand}, OutDir: t.TempDir(), To: convert.NPZ})
	check("walked with the default patterns", results, handIndex)
	named := []string{filepath.Join(one, "model-00001-of-00001.safetensors"), filepath.Join(hand, "part-2.bin"), filepath.Join(hand, "part-3.bin"), lone}
	_, results = runBatch(t, Options{Inputs: named, OutDir: t.TempDir(), To: convert.NPZ})
	check("named", results, oneIndex, handIndex, lone)
	_, results = runBatch(t, Options{List: strings.NewReader(strings.Join(named, "\n")), OutDir: t.TempDir(), To: convert.NPZ})
	check("listed", results, oneIndex, handIndex, lone)
}

// TestBatchReadsIndexesOnce: a folder's indexes are read once a walk of the inputs
// (a run walks them twice: for outputs that would collide, then to convert), however
// many inputs lie beside them, not once an input as well (which made a run over a
// folder of N files beside a large index read it N more times). Counted in
// allocations: a run beside an index of 20,000 tensors allocates, over one beside an
// index of 10, what reading the large index twice does, where it allocated that for
// each of the 24 inputs too.
func TestBatchReadsIndexesOnce(t *testing.T) {
	const inputs = 24
	run := func(tensors int) (mallocs, indexRead uint64) {
		dir := t.TempDir()
		for i := range inputs {
			copyInto(t, dir, fixture.Path("training", "adam.pt"), "m"+strconv.Itoa(i)+".pt")
		}
		// An index of shards that are no input of the walk (*.safetensors, not taken).
		wm := map[string]string{}
		for i := range tensors {
			wm["layer."+strconv.Itoa(i)+".weight"] = "other-" + strconv.Itoa(i%3) + ".safetensors"
		}
		b, err := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": wm})
		if err != nil {
			t.Fatal(err)
		}
		index := filepath.Join(dir, "other.safetensors.index.json")
		if err := os.WriteFile(index, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var m0, m1, m2 runtime.MemStats
		runtime.ReadMemStats(&m0)
		sum, _ := runBatch(t, Options{Inputs: []string{dir}, OutDir: t.TempDir(), To: convert.Safetensors, Jobs: 1})
		runtime.ReadMemStats(&m1)
		if sum.OK != inputs || sum.Files != inputs {
			t.Fatalf("summary %+v, want %d inputs ok", sum, inputs)
		}
		if _, err := convert.ShardFiles(index); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&m2)
		return m1.Mallocs - m0.Mallocs, m2.Mallocs - m1.Mallocs
	}
	smallRun, smallRead := run(10)
	largeRun, largeRead := run(20000)
	perRead := float64(largeRead) - float64(smallRead)
	reads := (float64(largeRun) - float64(smallRun)) / perRead
	t.Logf("a run allocates %d times beside an index of 10 tensors, %d beside one of 20,000; a read of the large index %d, of the small %d: the run reads it %.1f times", smallRun, largeRun, largeRead, smallRead, reads)
	if reads > 3 {
		t.Errorf("a run over %d inputs beside an index reads that index %.1f times, want it read once (at most 3)", inputs, reads)
	}
}
