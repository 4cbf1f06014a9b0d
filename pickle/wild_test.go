package pickle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// wildEntry is an entry of ../shared/wild/MANIFEST.json, as far as this test reads it.
type wildEntry struct {
	Expect  string `json:"expect"` // exact, partial, refuse, refuse-or-intent
	Format  string `json:"format"`
	Tensors map[string]struct {
		DType  string  `json:"dtype"`
		Shape  []int   `json:"shape"`
		SHA256 *string `json:"sha256"`
	} `json:"tensors"`
	Unsupported  []string `json:"unsupported"`
	ZipRecords   []string `json:"zip_records"`
	Kinds        []string `json:"kinds"`
	DummyGlobals []string `json:"dummy_globals"`
}

// torch2Records are the zip records torch 2.x writes and torch 1.x does not.
var torch2Records = map[string]bool{"byteorder": true, ".format_version": true, ".storage_alignment": true, ".data/serialization_id": true}

// TestWildTorch2 reads the files of ../shared/wild (when present) that torch 2.x
// wrote, the TorchScript archives and the files with quantized tensors (those that
// need nothing else: no numpy values, no instances of user classes), with the
// default options, and compares every tensor with the manifest: names, dtypes, shapes
// and the sha256 of Bytes. An "exact" file must match exactly; a "partial" one too,
// except for its "unsupported" tensors (quantized: read here as their integers, with
// their parameters as NAME.* leaves), which may appear with another dtype; a "refuse"
// file must fail with a *FormatError or *UnsafeGlobalError.
func TestWildTorch2(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "wild")
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
	if err != nil {
		t.Skipf("no ../shared/wild: %v", err)
	}
	var m map[string]wildEntry
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&m); err != nil {
		t.Fatal(err)
	}
	var names []string
	for n, e := range m {
		selected := strings.Contains(e.Format, "TorchScript") || len(e.Unsupported) > 0
		for _, r := range e.ZipRecords {
			selected = selected || torch2Records[r]
		}
		// Files that need more than what torch 2.x writes (numpy values,
		// instances of user classes) are another test's.
		for _, k := range e.Kinds {
			selected = selected && k == "module"
		}
		if selected && len(e.DummyGlobals) == 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatal("the manifest selects no file")
	}
	passed := 0
	for _, name := range names {
		want := m[name]
		ok := t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join(dir, "files", name), nil)
			if strings.HasPrefix(want.Expect, "refuse") {
				var fe *FormatError
				var ue *UnsafeGlobalError
				if err == nil || !errors.As(err, &fe) && !errors.As(err, &ue) {
					t.Fatalf("error %v, want a refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			leaves, err := Leaves(f.Root)
			if err != nil {
				t.Fatal(err)
			}
			unsupported := map[string]bool{}
			for _, n := range want.Unsupported {
				unsupported[n] = true
			}
			got := map[string]*Tensor{}
			for _, l := range leaves {
				if tt, ok := l.Value.(*Tensor); ok {
					if _, dup := got[l.Name]; dup {
						t.Errorf("leaf %q appears twice", l.Name)
					}
					got[l.Name] = tt
				}
			}
			for n := range got {
				if _, listed := want.Tensors[n]; listed {
					continue
				}
				// The parameters of an unsupported (quantized) tensor.
				if i := strings.LastIndexByte(n, '.'); i < 0 || !unsupported[n[:i]] {
					t.Errorf("unexpected tensor %q", n)
				}
			}
			for n, w := range want.Tensors {
				g, ok := got[n]
				if !ok {
					t.Errorf("tensor %q missing", n)
					continue
				}
				if unsupported[n] {
					continue
				}
				if string(g.DType) != w.DType || !reflect.DeepEqual(append([]int{}, g.Shape...), append([]int{}, w.Shape...)) {
					t.Errorf("%s: %s %v, want %s %v", n, g.DType, g.Shape, w.DType, w.Shape)
					continue
				}
				data, err := g.Bytes()
				if err != nil {
					t.Errorf("%s: %v", n, err)
					continue
				}
				s := sha256.Sum256(data)
				if w.SHA256 == nil || hex.EncodeToString(s[:]) != *w.SHA256 {
					t.Errorf("%s: sha256 %x, want %v", n, s, w.SHA256)
				}
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("%d of %d selected wild files as the manifest says", passed, len(names))
}

// wildManifest is the form of ../shared/wild/MANIFEST.json: real
// checkpoints from public repositories and what real PyTorch read in them.
type wildManifest map[string]struct {
	Expect  string                `json:"expect"` // exact, refuse, partial, refuse-or-intent
	Format  string                `json:"format"`
	Tensors map[string]wildTensor `json:"tensors"`
	Intent  map[string]wildTensor `json:"intent"`
	// Unsupported lists tensors a reader may refuse (expect "partial").
	Unsupported []string `json:"unsupported"`
}

type wildTensor struct {
	DType  string `json:"dtype"`
	Shape  []int  `json:"shape"`
	SHA256 string `json:"sha256"`
}

// wildPending lists the files of the wild corpus that this package does
// not read exactly yet, and why. Every other file must give exactly its
// manifest's tensors with the default Options (no AllowObjects), or be
// refused when the manifest says so.
var wildPending = map[string]string{}

// wildNeedsAllowObjects lists the files that hold calls of functions of
// user code (not instances), which only Options.AllowObjects reads.
var wildNeedsAllowObjects = map[string]string{
	"marccoru_phiweek19_rnn.pth": "a pandas DataFrame: pandas.core.indexes.base._new_Index and BlockManager are called",
}

var tensorKey = regexp.MustCompile(`<tensor#\d+>`)

// TestWild reads every file of the shared wild corpus, when it is present,
// and compares each with its manifest.
func TestWild(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "wild")
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
	if err != nil {
		t.Skipf("no wild corpus at %s", dir)
	}
	var m wildManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	counts := map[string]int{}
	for _, name := range names {
		want := m[name]
		t.Run(name, func(t *testing.T) {
			if why, ok := wildPending[name]; ok {
				t.Logf("pending: %s", why)
				return
			}
			opts := &Options{}
			if _, ok := wildNeedsAllowObjects[name]; ok {
				opts.AllowObjects = true
			}
			f, err := Open(filepath.Join(dir, "files", name), opts)
			var leaves []Leaf
			if err == nil {
				defer f.Close()
				leaves, err = Leaves(f.Root)
			}
			if want.Expect == "refuse-or-intent" && err != nil {
				var fe *FormatError
				if !errors.As(err, &fe) {
					t.Errorf("error %v (%T) is not a FormatError", err, err)
				}
				counts["refused as the manifest allows"]++
				return
			}
			if want.Expect == "refuse-or-intent" {
				want.Tensors = want.Intent
			}
			// A "partial" file's unsupported (quantized) tensors are read
			// as their integers, their parameters as NAME.* leaves:
			// TestWildTorch2 checks those.
			if len(want.Unsupported) > 0 {
				kept := leaves[:0:0]
				for _, l := range leaves {
					drop := false
					for _, n := range want.Unsupported {
						drop = drop || l.Name == n || strings.HasPrefix(l.Name, n+".")
					}
					if !drop {
						kept = append(kept, l)
					}
				}
				leaves = kept
				for _, n := range want.Unsupported {
					delete(want.Tensors, n)
				}
			}
			if want.Expect == "refuse" {
				var fe *FormatError
				var ue *UnsafeGlobalError
				if err == nil {
					t.Fatalf("read; the manifest says it must be refused")
				}
				if !errors.As(err, &fe) && !errors.As(err, &ue) {
					t.Errorf("error %v (%T) is not a FormatError or UnsafeGlobalError", err, err)
				}
				counts["refused as the manifest says"]++
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := compareWild(leaves, want.Tensors); msg != "" {
				t.Fatal(msg)
			}
			switch {
			case opts.AllowObjects:
				counts["exact with AllowObjects"]++
			case want.Expect == "partial":
				counts["exact but their unsupported tensors"]++
			default:
				counts["exact with no option"]++
			}
		})
	}
	t.Logf("%v; %d pending", counts, len(wildPending))
}

// compareWild compares tensor leaves with a manifest's tensors. A name
// holding <tensor#N> (a dict key that is a tensor) is matched by content:
// the N of the manifest and the N of Leaves may differ, but the mapping
// between them must be one to one and consistent across names.
func compareWild(leaves []Leaf, want map[string]wildTensor) string {
	got := map[string]wildTensor{}
	for _, l := range leaves {
		t, ok := l.Value.(*Tensor)
		if !ok || t.Storage.Key() == "" {
			// Not a tensor, or a numpy array: torch reads those as
			// numpy arrays, which the manifest does not list.
			continue
		}
		if _, dup := got[l.Name]; dup {
			return "two tensor leaves named " + l.Name
		}
		b, err := t.Bytes()
		if err != nil {
			return l.Name + ": " + err.Error()
		}
		sum := sha256.Sum256(b)
		got[l.Name] = wildTensor{DType: string(t.DType), Shape: append([]int{}, t.Shape...), SHA256: hex.EncodeToString(sum[:])}
	}
	var missing, extra []string
	plain := func(n string) bool { return !tensorKey.MatchString(n) }
	for n, w := range want {
		if !plain(n) {
			continue
		}
		g, ok := got[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		if msg := sameTensor(n, g, w); msg != "" {
			return msg
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok && plain(n) {
			extra = append(extra, n)
		}
	}
	// Tensor-keyed names: group by the name with the key replaced, and
	// match each group's set of contents.
	group := func(m map[string]wildTensor) map[string][]string {
		out := map[string][]string{}
		for n, w := range m {
			if plain(n) {
				continue
			}
			k := tensorKey.ReplaceAllString(n, "<tensor>")
			out[k] = append(out[k], fmt.Sprintf("%s %v %s", w.DType, w.Shape, w.SHA256))
		}
		for _, v := range out {
			sort.Strings(v)
		}
		return out
	}
	gw, gg := group(want), group(got)
	for k, w := range gw {
		if strings.Join(gg[k], "|") != strings.Join(w, "|") {
			missing = append(missing, k+" (by content)")
		}
	}
	for k := range gg {
		if _, ok := gw[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		return "missing " + strings.Join(first(missing, 8), ", ") + "; unexpected " + strings.Join(first(extra, 8), ", ")
	}
	return ""
}

func first(v []string, n int) []string {
	if len(v) > n {
		return append(v[:n:n], "...")
	}
	return v
}

func sameTensor(name string, g, w wildTensor) string {
	if g.DType != w.DType {
		return name + ": dtype " + g.DType + ", want " + w.DType
	}
	if fmt.Sprint(g.Shape) != fmt.Sprint(w.Shape) {
		return fmt.Sprintf("%s: shape %v, want %v", name, g.Shape, w.Shape)
	}
	if g.SHA256 != w.SHA256 {
		return name + ": sha256 " + g.SHA256 + ", want " + w.SHA256
	}
	return ""
}
