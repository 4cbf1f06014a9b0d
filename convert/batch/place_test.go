package batch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
)

// TestBatchOtherTreeSameName: an input of another tree with the path relative to its
// root that an output records (a/m.pt, then b/m.pt, into one folder), or one that ends
// it (b/m.pt into out/sub after a/sub/m.pt into out), is another input: it fails with
// a *ReplaceError naming the recorded input, and the output stays, up to date for its
// own input, where each run replaced the other's output.
func TestBatchOtherTreeSameName(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "a/m.pt")
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "b/m.pt")
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "a/sub/m.pt")
	t.Chdir(root)
	for _, c := range []struct {
		first, out, of string
		elsewhere      bool
	}{
		{"out", "out", "m.pt", true},
		{"out2", "out2/sub", "sub/m.pt", false},
	} {
		if sum, _ := runBatch(t, Options{Inputs: []string{"a"}, OutDir: c.first, To: convert.Safetensors}); sum.OK != 2 {
			t.Fatalf("a into %s: %+v", c.first, sum)
		}
		path := filepath.Join(c.out, "m.safetensors")
		a, _ := os.ReadFile(path)
		_, results := runBatch(t, Options{Inputs: []string{"b"}, OutDir: c.out, To: convert.Safetensors})
		var re *ReplaceError
		r := results[filepath.Join("b", "m.pt")]
		if !errors.As(r.Err, &re) || re.Path != path || !re.Recorded || re.Of != c.of || re.Elsewhere != c.elsewhere {
			t.Errorf("b into %s: %+v, want a *ReplaceError naming %s, a's output of %s", c.out, r, path, c.of)
		}
		if c.elsewhere && !strings.Contains(r.Error, "at another place from it: of this tree seen from another mount point") {
			t.Errorf("b into %s: %q, want it to say that the input of that name is at another place", c.out, r.Error)
		}
		if now, _ := os.ReadFile(path); !bytes.Equal(now, a) {
			t.Errorf("b into %s: a's output %s was replaced", c.out, path)
		}
	}
	if sum, _ := runBatch(t, Options{Inputs: []string{"a"}, OutDir: "out", To: convert.Safetensors}); sum.Skipped != 2 {
		t.Errorf("a again: %+v, want its outputs up to date", sum)
	}
	sameTensors(t, filepath.Join("a", "m.pt"), filepath.Join("out", "m.safetensors"))
}

// TestBatchTreeMoved: a tree moved with its outputs (converted in place, or into a
// folder beside it, then moved elsewhere and deeper) keeps them as its own: a changed
// input replaces its output, and the records hold no path of the machine.
func TestBatchTreeMoved(t *testing.T) {
	for _, inPlace := range []bool{true, false} {
		root := t.TempDir()
		copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "p/zoo/m.pt")
		copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "p/zoo/sub/n.pth")
		out := "zoo"
		if !inPlace {
			out = "out"
		}
		opts := Options{Inputs: []string{filepath.Join(root, "p", "zoo")}, OutDir: filepath.Join(root, "p", out), To: convert.Safetensors}
		if sum, _ := runBatch(t, opts); sum.OK != 2 {
			t.Fatalf("in place %v: %+v", inPlace, sum)
		}
		b, _ := os.ReadFile(filepath.Join(root, "p", out, "m.safetensors"))
		if bytes.Contains(b, []byte(root)) {
			t.Errorf("in place %v: the output records a path of the machine", inPlace)
		}
		moved := filepath.Join(root, "scratch", "u", "p2")
		os.MkdirAll(filepath.Dir(moved), 0o755)
		if err := os.Rename(filepath.Join(root, "p"), moved); err != nil {
			t.Fatal(err)
		}
		copyInto(t, moved, fixture.Convert("lstm_proj_bi.pt"), "zoo/m.pt")
		opts.Inputs, opts.OutDir = []string{filepath.Join(moved, "zoo")}, filepath.Join(moved, out)
		sum, results := runBatch(t, opts)
		if sum.OK != 1 || sum.Skipped != 1 || sum.Failed != 0 {
			t.Errorf("in place %v, moved: %+v, want the changed input converted, the other up to date: %v", inPlace, sum, results)
		}
		sameTensors(t, filepath.Join(moved, "zoo", "m.pt"), filepath.Join(moved, out, "m.safetensors"))
	}
}

// TestBatchNamedOutputsByPlace: an output of this version records its input's place;
// one of the version before, which records the input's name alone, is taken as it was,
// by that name (a/m.pt's output is b/m.pt's, b/m.pt of that name), and so is then
// replaced by one that records b/m.pt's place.
func TestBatchNamedOutputsByPlace(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "a/m.pt")
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "b/m.pt")
	a, b, out := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "out")
	in := filepath.Join(a, "m.pt")
	path := filepath.Join(out, "m.safetensors")
	writeOlderOutput(t, in, "m.pt", path) // as the version before recorded it
	if _, results := runBatch(t, Options{Inputs: []string{b}, OutDir: out, To: convert.Safetensors}); results[filepath.Join(b, "m.pt")].Status != StatusOK {
		t.Fatalf("b over the older record: %+v, want it replaced as before", results)
	}
	src, _, err := readSource(context.Background(), path, convert.Safetensors, false)
	if err != nil || src.Input != "m.pt" || src.Place == "" || src.Place != placeOf(filepath.Join(b, "m.pt"), path) {
		t.Fatalf("the new record %+v, %v: want b/m.pt's place", src, err)
	}
	var re *ReplaceError
	if _, results := runBatch(t, Options{Inputs: []string{a}, OutDir: out, To: convert.Safetensors}); !errors.As(results[in].Err, &re) || !re.Elsewhere {
		t.Errorf("a over b's record: %+v, want a *ReplaceError", results[in])
	}
}

// TestBatchOtherLayout: a folder converted alone, then beside another (or the other way
// round), writes its outputs in the new layout and says of each input converted that
// its output of the earlier layout is still there (Result.Elsewhere), which it leaves.
func TestBatchOtherLayout(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "a/sub/m.pt")
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "b/n.pt")
	t.Chdir(root)
	alone := Options{Inputs: []string{"a"}, OutDir: "out", To: convert.Safetensors}
	both := Options{Inputs: []string{"a", "b"}, OutDir: "out", To: convert.Safetensors}
	in := filepath.Join("a", "sub", "m.pt")
	for _, c := range []struct {
		name        string
		opts        Options
		want, other string
	}{
		{"alone", alone, "", ""},
		{"beside b", both, "out/a/sub/m.safetensors", "out/sub/m.safetensors"},
		{"beside b again", both, "", ""}, // up to date: no word
		{"alone again", Options{Inputs: []string{"a"}, OutDir: "out", To: convert.Safetensors, Force: true}, "out/sub/m.safetensors", "out/a/sub/m.safetensors"},
	} {
		_, results := runBatch(t, c.opts)
		r := results[in]
		if c.want != "" && (r.Status != StatusOK || r.Output != filepath.FromSlash(c.want) || r.Elsewhere != filepath.FromSlash(c.other)) {
			t.Errorf("%s: %+v, want %s written and %s said to be there", c.name, r, c.want, c.other)
		}
		if c.want == "" && r.Elsewhere != "" {
			t.Errorf("%s: %+v, want no word of another layout", c.name, r)
		}
		if r := results[filepath.Join("b", "n.pt")]; r.Elsewhere != "" {
			t.Errorf("%s: b/n.pt: %+v, want no word of another layout", c.name, r)
		}
	}
	for _, p := range []string{"out/sub/m.safetensors", "out/a/sub/m.safetensors"} {
		sameTensors(t, in, p)
	}
}

// TestBatchOtherMountPoint: the same tree seen from another mount point (a cluster's
// node mounting the storage of the inputs at another path than the login node, or a
// container given it with -v), whose paths from the output folder differ, is at
// another place for the outputs' records. The test stands that in by renaming the
// input tree's folder while the output folder stays where it is: what a record holds
// of the input's place is its path from the output, which both change alike (a
// symbolic link would not do, as the places are taken with links resolved). There a
// changed input fails with a *ReplaceError that says so (Elsewhere), and Force
// replaces its output, where nothing did; an output of an input of another name, or
// a file ptport did not write, still fails, Force or not.
func TestBatchOtherMountPoint(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "data/zoo/m.pt")
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "data/zoo/n.pt")
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "data/zoo/k.pt")
	out := filepath.Join(root, "scratch", "out")
	node := func(mount string, force bool) (Summary, map[string]Result) {
		return runBatch(t, Options{Inputs: []string{filepath.Join(root, mount, "zoo")}, OutDir: out, To: convert.Safetensors, Force: force})
	}
	if sum, _ := node("data", false); sum.OK != 3 {
		t.Fatalf("first node: %+v", sum)
	}
	os.WriteFile(filepath.Join(out, "k.safetensors"), []byte("the user's"), 0o644)
	copyInto(t, root, fixture.Convert("lstm_proj_bi.pt"), "data/zoo/m.pt") // retrained
	os.MkdirAll(filepath.Join(root, "gpfs"), 0o755)
	if err := os.Rename(filepath.Join(root, "data"), filepath.Join(root, "gpfs", "data")); err != nil {
		t.Fatal(err)
	}
	m, n, k := filepath.Join(root, "gpfs", "data", "zoo", "m.pt"), filepath.Join(root, "gpfs", "data", "zoo", "n.pt"), filepath.Join(root, "gpfs", "data", "zoo", "k.pt")
	sum, results := node(filepath.Join("gpfs", "data"), false)
	var re *ReplaceError
	if !errors.As(results[m].Err, &re) || !re.Elsewhere || re.Of != "m.pt" || !strings.Contains(results[m].Error, "seen from another mount point") || !strings.Contains(results[m].Error, "a forced conversion one of the same name") {
		t.Errorf("other node: m.pt: %+v, want a *ReplaceError of an input of its name elsewhere, saying what replaces it", results[m])
	}
	if sum.Skipped != 1 || results[n].Status != StatusSkipped {
		t.Errorf("other node: %+v, want n.pt, unchanged, up to date", sum)
	}
	sum, results = node(filepath.Join("gpfs", "data"), true)
	if results[m].Status != StatusOK || results[n].Status != StatusOK || sum.OK != 2 {
		t.Errorf("other node, forced: %+v %+v, want m.pt and n.pt converted", results[m], results[n])
	}
	if !errors.As(results[k].Err, &re) || re.Recorded {
		t.Errorf("other node, forced: k.pt: %+v, want a *ReplaceError: the user's file is never replaced", results[k])
	}
	sameTensors(t, m, filepath.Join(out, "m.safetensors"))
	if err := os.Rename(filepath.Join(root, "gpfs", "data"), filepath.Join(root, "data")); err != nil {
		t.Fatal(err)
	}
	if sum, _ := node("data", false); sum.Skipped != 2 || sum.Failed != 1 {
		t.Errorf("first node again: %+v, want m.pt and n.pt up to date (k.pt failing)", sum)
	}

	// Force replaces an output of the same name only: b/m.pt into out/sub after
	// a/sub/m.pt into out still fails.
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "a/sub/m.pt")
	copyInto(t, root, fixture.Convert("gru_batch_first.pt"), "b/m.pt")
	runBatch(t, Options{Inputs: []string{filepath.Join(root, "a")}, OutDir: filepath.Join(root, "o2"), To: convert.Safetensors})
	b := filepath.Join(root, "b", "m.pt")
	_, results = runBatch(t, Options{Inputs: []string{filepath.Join(root, "b")}, OutDir: filepath.Join(root, "o2", "sub"), To: convert.Safetensors, Force: true})
	if !errors.As(results[b].Err, &re) || re.Elsewhere || re.Of != "sub/m.pt" {
		t.Errorf("b into o2/sub, forced: %+v, want a *ReplaceError naming a's sub/m.pt", results[b])
	}
	sameTensors(t, filepath.Join(root, "a", "sub", "m.pt"), filepath.Join(root, "o2", "sub", "m.safetensors"))
}
