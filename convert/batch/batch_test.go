package batch

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/atomicfile"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/pickle"
)

// batchTree copies torch-made fixtures, good and hostile, into a folder tree and returns
// its root and the relative paths of the inputs that must fail.
func batchTree(t *testing.T) (root string, bad []string) {
	t.Helper()
	root = t.TempDir()
	copyFile := func(src, rel string) { copyInto(t, root, src, rel) }
	for _, name := range []string{"rnn_tanh", "lstm_proj_bi", "nested_checkpoint", "dataparallel_legacy"} {
		copyFile(fixture.Convert(name+".pt"), "models/"+name+".pt")
		copyFile(fixture.Convert(name+".ref.pt"), "models/"+name+".ref.pt")
	}
	copyFile(fixture.Convert("module_rnn.pt"), "zoo/deep/er/module.pth")
	copyFile(fixture.Path("notebook", "model.pt"), "zoo/notebook.ckpt")
	for _, name := range []string{"evil_system.pt", "garbage.pt", "truncated_zip.pt"} {
		copyFile(fixture.Path("pickle", name), "hostile/"+name)
		bad = append(bad, "hostile/"+name)
	}
	os.WriteFile(filepath.Join(root, "zoo/README.txt"), []byte("not a checkpoint"), 0o644)
	return root, bad
}

// copyInto copies the file src to root/rel, creating its folder.
func copyInto(t *testing.T, root, src, rel string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func runBatch(t *testing.T, opts Options) (Summary, map[string]Result) {
	t.Helper()
	results := map[string]Result{}
	sum, err := Run(context.Background(), opts, func(r Result) {
		if _, dup := results[r.Input]; dup {
			t.Errorf("%s reported twice", r.Input)
		}
		results[r.Input] = r
	})
	if err != nil {
		t.Fatal(err)
	}
	return sum, results
}

func TestBatch(t *testing.T) {
	root, bad := batchTree(t)
	out := t.TempDir()
	opts := Options{Inputs: []string{root}, OutDir: out, To: convert.Safetensors, Jobs: 2}
	plan, err := NewPlan(opts)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Files != 13 {
		t.Fatalf("plan: %d files, want 13 (4 models, 4 references, 2 in zoo, 3 hostile)", plan.Files)
	}
	sum, results := runBatch(t, opts)
	if sum.Files != 13 || sum.Failed != len(bad) || sum.OK != 13-len(bad) {
		t.Fatalf("summary %+v", sum)
	}
	for in, r := range results {
		if r.Input != in || r.Bytes <= 0 || r.Seconds <= 0 {
			t.Errorf("%s: %+v, want its input, size and time", in, r)
		}
	}
	for _, rel := range bad {
		r := results[filepath.Join(root, rel)]
		if r.Status != StatusFailed || r.Error == "" {
			t.Errorf("%s: %+v, want failed with a reason", rel, r)
		}
		if _, err := os.Stat(r.Output); err == nil {
			t.Errorf("%s: failed input left an output", rel)
		}
	}
	// Every output mirrors its input's path and holds its tensors byte for byte.
	for in, r := range results {
		if r.Status != StatusOK {
			continue
		}
		rel, _ := filepath.Rel(root, in)
		want := filepath.Join(out, strings.TrimSuffix(rel, filepath.Ext(rel))+".safetensors")
		if r.Output != want {
			t.Errorf("%s: output %s, want %s", in, r.Output, want)
		}
		sameTensors(t, in, r.Output)
	}
	entries, _ := os.ReadDir(filepath.Join(out, "zoo"))
	for _, e := range entries {
		if atomicfile.IsTemp(e.Name()) {
			t.Errorf("temporary %s left behind", e.Name())
		}
	}

	// A rerun skips what is up to date, even after a touch; a changed input converts.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(root, "zoo/notebook.ckpt"), later, later)
	changed := filepath.Join(root, "models/rnn_tanh.pt")
	b, _ := os.ReadFile(fixture.Convert("gru_batch_first.pt"))
	os.WriteFile(changed, b, 0o644)
	sum, results = runBatch(t, opts)
	if sum.Skipped != 13-len(bad)-1 || sum.OK != 1 || sum.Failed != len(bad) {
		t.Errorf("rerun summary %+v, want all skipped but the changed one and the hostile ones", sum)
	}
	if r := results[changed]; r.Status != StatusOK {
		t.Errorf("changed input: %+v", r)
	}
	sameTensors(t, changed, results[changed].Output)

	// --force converts everything again.
	opts.Force = true
	if sum, _ := runBatch(t, opts); sum.OK != 13-len(bad) {
		t.Errorf("forced summary %+v", sum)
	}
}

// sameTensors requires the output to hold the input's tensors, same names and bytes.
func sameTensors(t *testing.T, in, out string) {
	t.Helper()
	a, err := convert.Open(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := convert.Open(out, nil)
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	defer b.Close()
	want, _ := leaf.Split(a.Leaves)
	got, _ := leaf.Split(b.Leaves)
	if len(got) != len(want) {
		t.Fatalf("%s: %d tensors, want %d", out, len(got), len(want))
	}
	for i := range want {
		wb, err := want[i].Value.(*pickle.Tensor).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		gb, err := got[i].Value.(*pickle.Tensor).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if got[i].Name != want[i].Name || !bytes.Equal(gb, wb) {
			t.Errorf("%s: tensor %d is %s, want %s with the same bytes", out, i, got[i].Name, want[i].Name)
		}
	}
}

// TestBatchOutputNames checks that an output takes its input's name without the
// extension, both parts of a compound .pth.tar or .pt.tar, and that two inputs it gives
// the same output both fail.
func TestBatchOutputNames(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{"a/checkpoint.pth.tar", "a/model.PT.TAR", "a/old.tar", "a/run.v2.pt", "a/notes.txt.tar"} {
		copyInto(t, root, fixture.Convert("gru_batch_first.pt"), rel)
	}
	out := t.TempDir()
	_, results := runBatch(t, Options{Inputs: []string{root}, OutDir: out, To: convert.Safetensors,
		Include: []string{"*.tar", "*.TAR", "*.pt"}})
	want := map[string]string{
		"a/checkpoint.pth.tar": "a/checkpoint.safetensors",
		"a/model.PT.TAR":       "a/model.safetensors",
		"a/old.tar":            "a/old.safetensors",
		"a/run.v2.pt":          "a/run.v2.safetensors",
		"a/notes.txt.tar":      "a/notes.txt.safetensors",
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for in, o := range want {
		r := results[filepath.Join(root, filepath.FromSlash(in))]
		if r.Status != StatusOK || r.Output != filepath.Join(out, filepath.FromSlash(o)) {
			t.Errorf("%s: %s %s, want ok %s", in, r.Status, r.Output, o)
		}
	}
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "a/checkpoint.pth")
	_, results = runBatch(t, Options{Inputs: []string{root}, OutDir: t.TempDir(), To: convert.Safetensors,
		Include: []string{"*.tar", "*.pth"}})
	for _, in := range []string{"a/checkpoint.pth", "a/checkpoint.pth.tar"} {
		r := results[filepath.Join(root, filepath.FromSlash(in))]
		if r.Status != StatusFailed || !strings.Contains(r.Error, "2 inputs would write the output") {
			t.Errorf("%s beside the other: %s %q, want both failed for one output", in, r.Status, r.Error)
		}
	}
}

func TestBatchShards(t *testing.T) {
	root, _ := batchTree(t)
	var all []string
	seen := map[string]int{}
	for k := range 3 {
		opts := Options{Inputs: []string{root}, OutDir: t.TempDir(), To: convert.JSON, Shard: k, Shards: 3}
		_, results := runBatch(t, opts)
		for in := range results {
			seen[in]++
		}
	}
	_, results := runBatch(t, Options{Inputs: []string{root}, OutDir: t.TempDir(), To: convert.JSON})
	for in := range results {
		all = append(all, in)
		if seen[in] != 1 {
			t.Errorf("%s taken by %d shards, want exactly 1", in, seen[in])
		}
	}
	if len(seen) != len(all) {
		t.Errorf("shards took %d inputs, the whole batch %d", len(seen), len(all))
	}
	if _, err := NewPlan(Options{Inputs: []string{root}, OutDir: "x", To: convert.JSON, Shard: 3, Shards: 3}); err == nil {
		t.Error("shard 3/3 accepted")
	}
}

func TestBatchRemovesTemps(t *testing.T) {
	root, _ := batchTree(t)
	out := t.TempDir()
	os.MkdirAll(filepath.Join(out, "zoo"), 0o755)
	stray := filepath.Join(out, "zoo", atomicfile.Prefix+"s-notebook.safetensors-123")
	other := filepath.Join(out, "zoo", atomicfile.Prefix+"s1of2-notebook.safetensors-123")
	os.WriteFile(stray, []byte("half"), 0o644)
	os.WriteFile(other, []byte("another shard's"), 0o644)
	sum, _ := runBatch(t, Options{Inputs: []string{root}, OutDir: out, To: convert.Safetensors})
	if sum.TempsRemoved != 1 {
		t.Errorf("removed %d temporaries, want 1", sum.TempsRemoved)
	}
	if _, err := os.Stat(stray); err == nil {
		t.Error("stray temporary still there")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("another shard's temporary was removed")
	}
}

func TestBatchCheck(t *testing.T) {
	root, _ := batchTree(t)
	dir := filepath.Join(root, "models")
	b, _ := os.ReadFile(fixture.Convert("drifted.pt"))
	os.WriteFile(filepath.Join(dir, "drifted.pt"), b, 0o644)
	b, _ = os.ReadFile(fixture.Convert("drifted.ref.pt"))
	os.WriteFile(filepath.Join(dir, "drifted.ref.pt"), b, 0o644)
	sum, results := runBatch(t, Options{Inputs: []string{dir}, Check: true})
	if sum.Files != 5 || sum.OK != 4 || sum.Failed != 1 {
		t.Fatalf("summary %+v, want 4 pass and drifted failing", sum)
	}
	r := results[filepath.Join(dir, "drifted.pt")]
	if r.Status != StatusFailed || !strings.Contains(r.Error, "mismatch") || r.MaxAbsErr == nil {
		t.Errorf("drifted: %+v", r)
	}
	var names []string
	for in := range results {
		names = append(names, filepath.Base(in))
	}
	slices.Sort(names)
	if slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, ".ref.") }) {
		t.Errorf("reference files taken as inputs: %v", names)
	}
}

// TestBatchResumeFormats: every output format records its source, so a rerun skips.
func TestBatchResumeFormats(t *testing.T) {
	root, bad := batchTree(t)
	for _, f := range convert.Formats {
		t.Run(string(f), func(t *testing.T) {
			opts := Options{Inputs: []string{root}, OutDir: t.TempDir(), To: f}
			if sum, _ := runBatch(t, opts); sum.OK != 13-len(bad) {
				t.Fatalf("first run %+v", sum)
			}
			if sum, _ := runBatch(t, opts); sum.Skipped != 13-len(bad) || sum.OK != 0 {
				t.Errorf("rerun %+v, want every good input skipped", sum)
			}
		})
	}
}

// TestBatchCancel: outputs converted but not yet in place when the context is cancelled
// are removed, and every output in place was reported done.
func TestBatchCancel(t *testing.T) {
	root, _ := batchTree(t)
	for _, jobs := range []int{1, 2} {
		out := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		done := map[string]bool{}
		sum, err := Run(ctx, Options{Inputs: []string{root}, OutDir: out, To: convert.Safetensors, Jobs: jobs}, func(r Result) {
			if r.Status == StatusOK {
				done[r.Output] = true
			}
			if len(done) == 2 {
				cancel()
			}
		})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if !sum.Interrupted || sum.Files >= 13 {
			t.Errorf("jobs %d: summary %+v, want an interrupted batch", jobs, sum)
		}
		filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if atomicfile.IsTemp(d.Name()) {
				t.Errorf("jobs %d: temporary %s left", jobs, path)
			} else if !done[path] {
				t.Errorf("jobs %d: %s in place but not reported done", jobs, path)
			}
			delete(done, path)
			return nil
		})
		for path := range done {
			t.Errorf("jobs %d: %s reported done but missing", jobs, path)
		}
	}
}

// TestBatchSelect: the selection applies to every input.
func TestBatchSelect(t *testing.T) {
	root := t.TempDir()
	b, _ := os.ReadFile(fixture.Path("training", "dataparallel.pt"))
	os.WriteFile(filepath.Join(root, "dp.pt"), b, 0o644)
	b, _ = os.ReadFile(fixture.Path("training", "adam.pt"))
	os.WriteFile(filepath.Join(root, "adam.pt"), b, 0o644)
	out := t.TempDir()
	sum, results := runBatch(t, Options{Inputs: []string{filepath.Join(root, "dp.pt")}, OutDir: out, To: convert.Safetensors,
		Select: convert.Selection{StripPrefixes: []string{"module."}}})
	if sum.OK != 1 {
		t.Fatalf("%+v", results)
	}
	cp, err := convert.Open(filepath.Join(out, "dp.safetensors"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	for _, l := range cp.Leaves {
		if strings.HasPrefix(l.Name, "module.") {
			t.Errorf("%s kept its prefix", l.Name)
		}
	}
	// A selection that does not fit an input fails that input, with the reason.
	_, results = runBatch(t, Options{Inputs: []string{root}, OutDir: t.TempDir(), To: convert.Safetensors,
		Select: convert.Selection{Paths: []string{"model_state_dict"}}})
	if r := results[filepath.Join(root, "dp.pt")]; r.Status != StatusFailed || !strings.Contains(r.Error, `nothing at or below "model_state_dict"`) {
		t.Errorf("dp.pt: %+v", r)
	}
	if r := results[filepath.Join(root, "adam.pt")]; r.Status != StatusOK {
		t.Errorf("adam.pt: %+v", r)
	}
}

// TestBatchErrors: a failed input's error does not repeat its name; an output that
// cannot be written is marked as such; negative job counts are refused.
func TestBatchErrors(t *testing.T) {
	root, bad := batchTree(t)
	out := t.TempDir()
	// a file where the output's folder must go
	os.WriteFile(filepath.Join(out, "zoo"), []byte("in the way"), 0o644)
	sum, results := runBatch(t, Options{Inputs: []string{root}, OutDir: out, To: convert.Safetensors})
	for _, rel := range bad {
		r := results[filepath.Join(root, rel)]
		if strings.Contains(r.Error, r.Input) || r.OutputError {
			t.Errorf("%s: %+v: the error repeats the input's name, or blames the output", rel, r)
		}
	}
	if sum.OutputErrors != 2 {
		t.Errorf("%d output errors, want the 2 inputs of zoo/", sum.OutputErrors)
	}
	for in, r := range results {
		if strings.Contains(in, "/zoo/") != r.OutputError {
			t.Errorf("%s: output error %v", in, r.OutputError)
		}
	}
	if _, err := NewPlan(Options{Inputs: []string{root}, OutDir: out, To: convert.Safetensors, Jobs: -3}); err == nil || !strings.Contains(err.Error(), "-3 workers") {
		t.Errorf("jobs -3: %v", err)
	}
}

// TestClean: Clean removes every temporary below the folders but those of running
// processes of this machine, whatever shard or machine made them, and only files named
// as temporaries are.
func TestClean(t *testing.T) {
	root, _ := batchTree(t)
	out := t.TempDir()
	runBatch(t, Options{Inputs: []string{root}, OutDir: out, To: convert.Safetensors})
	names := []string{
		"zoo/" + atomicfile.Prefix + "s3of16-h00000000n1p1t1.notebook.safetensors-7", // another machine's
		"zoo/deep/er/" + atomicfile.Prefix + "s-module.safetensors-123",              // unmarked
		"models/" + atomicfile.Prefix + "s0of1-h00000000n1p2t1.rnn_tanh.safetensors-1",
	}
	for _, n := range names {
		os.WriteFile(filepath.Join(out, n), []byte("half"), 0o644)
	}
	// The user's, not temporaries: no tag, or no mark and no output's name.
	for _, n := range []string{"notes.txt", "s-my-precious-2024"} {
		notes := filepath.Join(out, "zoo", atomicfile.Prefix+n)
		os.WriteFile(notes, []byte("precious"), 0o644)
		defer func() {
			if _, err := os.Stat(notes); err != nil {
				t.Errorf("a file of the user's named like a temporary: %v", err)
			}
		}()
	}
	// a temporary this process writes now
	tmp, err := atomicfile.Write(filepath.Join(out, "models", "live.safetensors"), atomicfile.Options{}, func(w io.Writer) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Discard()
	// A batch of another shard layout leaves the others' temporaries alone.
	sum, _ := runBatch(t, Options{Inputs: []string{root}, OutDir: out, To: convert.Safetensors, Shard: 1, Shards: 4})
	if sum.TempsRemoved != 0 {
		t.Errorf("a run of shard 1/4 removed %d temporaries of others", sum.TempsRemoved)
	}
	var removed, kept []string
	err = Clean(context.Background(), []string{out}, func(l Leftover) {
		rel, _ := filepath.Rel(out, l.Path)
		if l.Removed {
			removed = append(removed, rel)
		} else {
			kept = append(kept, rel)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(removed, want) || len(kept) != 1 {
		t.Errorf("removed %v, kept %v; want %v removed and the live one kept", removed, kept, want)
	}
	if err := Clean(context.Background(), []string{filepath.Join(out, "missing")}, nil); err == nil {
		t.Error("cleaning a missing folder: no error")
	}
}
