package convert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/pickle"
)

// trainingCase is an entry of testdata/training/cases.json, which gen.py wrote with
// torch: what a selection of the file must hold.
type trainingCase struct {
	Select     []string         `json:"select"`
	Strip      []string         `json:"strip"`
	Exclude    []string         `json:"exclude"`
	Excluded   []string         `json:"excluded"`
	StateDict  map[string][]int `json:"state_dict"` // name -> shape, as the module's state_dict has them
	AllTensors int              `json:"all_tensors"`
	Shared     [][]string       `json:"shared"`
	Shards     int              `json:"shards"`
	TotalSize  int64            `json:"total_size"`
}

func trainingCases(t *testing.T) map[string]trainingCase {
	t.Helper()
	b, err := os.ReadFile(fixture.Path("training", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]trainingCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func openTraining(t *testing.T, name string) *convert.Checkpoint {
	t.Helper()
	cp, err := convert.Open(fixture.Path("training", name), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	return cp
}

// tensorShapes are the names and shapes of cp's tensors.
func tensorShapes(cp *convert.Checkpoint) map[string][]int {
	out := map[string][]int{}
	for _, l := range cp.Leaves {
		if t, ok := l.Value.(*pickle.Tensor); ok {
			out[l.Name] = t.Shape
		}
	}
	return out
}

func sameShapes(t *testing.T, what string, got, want map[string][]int) {
	t.Helper()
	for name, shape := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: %s missing", what, name)
		} else if !slices.Equal(g, shape) {
			t.Errorf("%s: %s has shape %v, want %v", what, name, g, shape)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected %s", what, name)
		}
	}
}

// TestSelect: the selections of cases.json give exactly the module's state_dict, by the
// names torch's load_state_dict wants (scripts/check_training.py loads them into the
// module with strict=True).
func TestSelect(t *testing.T) {
	for name, c := range trainingCases(t) {
		if len(c.Select) == 0 && len(c.Strip) == 0 {
			continue
		}
		cp := openTraining(t, name)
		sel, err := cp.Select(convert.Selection{Paths: c.Select, StripPrefixes: c.Strip})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameShapes(t, name, tensorShapes(sel), c.StateDict)
		if len(sel.Leaves) != len(c.StateDict) {
			t.Errorf("%s: %d leaves, want the %d tensors alone (no epoch, no optimizer)", name, len(sel.Leaves), len(c.StateDict))
		}
		// The selected tensors are the file's, byte for byte.
		for _, l := range sel.Leaves {
			got, _ := l.Value.(*pickle.Tensor).Bytes()
			var orig *pickle.Tensor
			for _, o := range cp.Leaves {
				if o.Value == l.Value {
					orig = o.Value.(*pickle.Tensor)
				}
			}
			if orig == nil {
				t.Fatalf("%s: %s is not one of the file's tensors", name, l.Name)
			}
			want, _ := orig.Bytes()
			if !bytes.Equal(got, want) {
				t.Errorf("%s: %s differs", name, l.Name)
			}
		}
		if len(c.Exclude) > 0 {
			ex, err := cp.Select(convert.Selection{Paths: c.Select, StripPrefixes: c.Strip, Exclude: c.Exclude})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]int{}
			for k, v := range c.StateDict {
				if !slices.Contains(c.Excluded, k) {
					want[k] = v
				}
			}
			sameShapes(t, name+" --exclude", tensorShapes(ex), want)
		}
	}
	// Unselected, the training checkpoint holds the optimizer's moments too.
	c := trainingCases(t)["adam.pt"]
	if n := len(tensorShapes(openTraining(t, "adam.pt"))); n != c.AllTensors {
		t.Errorf("adam.pt: %d tensors, want %d", n, c.AllTensors)
	}
}

func TestSelectErrors(t *testing.T) {
	cp := openTraining(t, "adam.pt")
	for _, c := range []struct {
		sel  convert.Selection
		want string
	}{
		{convert.Selection{Paths: []string{"model"}}, `nothing at or below "model"; the checkpoint's top-level entries are "epoch", "loss", "model_state_dict", "optimizer_state_dict"`},
		{convert.Selection{Paths: []string{"model_state_dict"}, Exclude: []string{"["}}, "exclude pattern"},
		{convert.Selection{Paths: []string{"model_state_dict"}, Exclude: []string{"*"}}, "leaves nothing"},
		{convert.Selection{StripPrefixes: []string{""}}, "empty prefix"},
		{convert.Selection{StripPrefixes: []string{"."}}, "empty prefix"},
		{convert.Selection{Paths: []string{"model_state_dict"}, StripPrefixes: []string{"module."}, RequireMatch: true},
			`no name starts with the prefix "module." to strip; the names start with "embedding", "head", "lstm"`},
		{convert.Selection{Paths: []string{"model_state_dict"}, Exclude: []string{"*.weight", "*.num_batches_tracked"}, RequireMatch: true},
			`no name matches the pattern "*.num_batches_tracked" to exclude`},
		// the moments of parameters 0 and 1 both become "exp_avg", ...
		{convert.Selection{Paths: []string{"model_state_dict", "optimizer_state_dict"}, StripPrefixes: []string{"state.0.", "state.1."}}, "would both be named"},
	} {
		_, err := cp.Select(c.sel)
		var se *convert.SelectionError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want a SelectionError with %q", c.sel, err, c.want)
		}
	}
}

// TestSharedStorages: tied weights (one storage, several names) are written once in .pt,
// which keeps storages shared, and as copies listed in the metadata elsewhere; inspect
// shows them either way.
func TestSharedStorages(t *testing.T) {
	c := trainingCases(t)["tied.pt"]
	want := sortedGroups(c.Shared)
	cp := openTraining(t, "tied.pt")
	if got := sortedGroups(convert.Inspect(cp).Shared); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("inspect tied.pt: shared %v, want %v", got, want)
	}
	dir := t.TempDir()
	for _, f := range convert.Formats {
		out := filepath.Join(dir, "tied"+f.Ext())
		if err := convert.Export(context.Background(), out, f, cp); err != nil {
			t.Fatal(err)
		}
		back, err := convert.Open(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		inv := convert.Inspect(back)
		if got := sortedGroups(inv.Shared); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("%s: shared %v, want %v", f, got, want)
		}
		if inv.SharedCopies != (f != convert.PT) {
			t.Errorf("%s: shared_copies %v", f, inv.SharedCopies)
		}
		if f == convert.PT {
			for _, ti := range inv.Tensors {
				if slices.Contains(want[0], ti.Name) && ti.SharedBy != len(want[0]) {
					t.Errorf(".pt: %s shares its storage with %d tensors, want %d", ti.Name, ti.SharedBy, len(want[0]))
				}
			}
		}
		for _, l := range cp.Leaves {
			wt := l.Value.(*pickle.Tensor)
			wb, _ := wt.Bytes()
			gt, _ := back.Tensor(l.Name)
			if gt == nil {
				t.Fatalf("%s: %s missing", f, l.Name)
			}
			if gb, _ := gt.Bytes(); !bytes.Equal(gb, wb) {
				t.Errorf("%s: %s differs", f, l.Name)
			}
		}
		back.Close()
	}
}

func sortedGroups(groups [][]string) [][]string {
	out := make([][]string, len(groups))
	for i, g := range groups {
		out[i] = slices.Sorted(slices.Values(g))
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// TestStripPrefixComponents: a prefix strips whole components of the dotted names:
// "module" as "module.", never leaving ".embedding.weight"; one that matches nothing is
// a no-op unless RequireMatch, and so is a pattern.
func TestStripPrefixComponents(t *testing.T) {
	cp := openTraining(t, "dataparallel.pt")
	want := trainingCases(t)["dataparallel.pt"].StateDict
	for _, p := range []string{"module", "module."} {
		sel, err := cp.Select(convert.Selection{StripPrefixes: []string{p}, RequireMatch: true})
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		sameShapes(t, p, tensorShapes(sel), want)
	}
	// "mod" is not a component of "module.embedding.weight": nothing is stripped.
	if _, err := cp.Select(convert.Selection{StripPrefixes: []string{"mod"}, RequireMatch: true}); err == nil || !strings.Contains(err.Error(), `"mod." to strip; the names start with "module"`) {
		t.Errorf("mod: %v", err)
	}
	sel, err := cp.Select(convert.Selection{StripPrefixes: []string{"mod", "module", "foo."}, Exclude: []string{"nothing.*"}})
	if err != nil {
		t.Fatal(err)
	}
	sameShapes(t, "without RequireMatch", tensorShapes(sel), want)
}
