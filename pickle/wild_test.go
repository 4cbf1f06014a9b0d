package pickle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
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
