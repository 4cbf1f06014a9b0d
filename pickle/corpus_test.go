package pickle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// manifest is the format of MANIFEST.json: for each file, either the
// tensors its Leaves must yield or the error loading it must give.
type manifest map[string]struct {
	Tensors map[string]struct {
		DType  string `json:"dtype"`
		Shape  []int  `json:"shape"`
		SHA256 string `json:"sha256"`
	} `json:"tensors"`
	// Values are the non-tensor leaves (ints, floats, strings, bools, None),
	// when the manifest lists them.
	Values map[string]any `json:"values"`
	Format string         `json:"format"`
	Error  string         `json:"error"`
}

func loadManifest(t *testing.T, path string) manifest {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(m) == 0 {
		t.Fatalf("%s lists no files", path)
	}
	return m
}

// checkManifest loads every file listed in dir/MANIFEST.json and compares
// what Leaves yields with the manifest: tensor names, dtypes, shapes and
// the sha256 of Bytes, the format and the non-tensor values when listed.
// Files listed with an error must fail to load with a *FormatError or
// *UnsafeGlobalError (whose message contains the listed error when
// errSubstring is set).
func checkManifest(t *testing.T, dir string, errSubstring bool) {
	m := loadManifest(t, filepath.Join(dir, "MANIFEST.json"))
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		want := m[name]
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join(dir, name), &Options{AllowObjects: true})
			if want.Error != "" {
				if err == nil {
					_, err = Leaves(f.Root)
					f.Close()
				}
				if err == nil {
					t.Fatalf("loaded; want an error like %q", want.Error)
				}
				var fe *FormatError
				var ue *UnsafeGlobalError
				if !errors.As(err, &fe) && !errors.As(err, &ue) {
					t.Errorf("error %v (%T) is not a FormatError or UnsafeGlobalError", err, err)
				}
				if errSubstring && !strings.Contains(err.Error(), want.Error) {
					t.Errorf("error %q does not contain %q", err, want.Error)
				}
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name the file", err)
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
			if want.Format != "" && string(f.Format) != want.Format {
				t.Errorf("format %q, want %q", f.Format, want.Format)
			}
			got := map[string]*Tensor{}
			values := map[string]any{}
			for _, l := range leaves {
				if _, dup := got[l.Name]; dup {
					t.Errorf("leaf name %q appears twice", l.Name)
				}
				if _, dup := values[l.Name]; dup {
					t.Errorf("leaf name %q appears twice", l.Name)
				}
				switch v := l.Value.(type) {
				case *Tensor:
					got[l.Name] = v
				case nil, bool, int64, *big.Int, float64, string:
					values[l.Name] = v
				}
			}
			if want.Values != nil {
				checkValues(t, values, want.Values)
			}
			var gotNames, wantNames []string
			for n := range got {
				gotNames = append(gotNames, n)
			}
			for n := range want.Tensors {
				wantNames = append(wantNames, n)
			}
			sort.Strings(gotNames)
			sort.Strings(wantNames)
			if !reflect.DeepEqual(gotNames, wantNames) {
				t.Fatalf("tensor names:\n got %q\nwant %q", gotNames, wantNames)
			}
			for _, n := range wantNames {
				w, g := want.Tensors[n], got[n]
				if string(g.DType) != w.DType {
					t.Errorf("%s: dtype %s, want %s", n, g.DType, w.DType)
				}
				shape := w.Shape
				if shape == nil {
					shape = []int{}
				}
				if !reflect.DeepEqual(append([]int{}, g.Shape...), shape) {
					t.Errorf("%s: shape %v, want %v", n, g.Shape, w.Shape)
				}
				b, err := g.Bytes()
				if err != nil {
					t.Errorf("%s: %v", n, err)
					continue
				}
				sum := sha256.Sum256(b)
				if hex.EncodeToString(sum[:]) != w.SHA256 {
					t.Errorf("%s: sha256 of bytes %x, want %s", n, sum, w.SHA256)
				}
			}
		})
	}
}

// corpusDir locates the shared corpus: $PTPORT_CORPUS, or ../../shared/corpus
// relative to this package.
func corpusDir() string {
	if d := os.Getenv("PTPORT_CORPUS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "corpus")
}

// checkValues compares non-tensor leaves with a manifest's values.
func checkValues(t *testing.T, got, want map[string]any) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("value %s missing", name)
			continue
		}
		if !sameValue(g, w) {
			t.Errorf("value %s = %#v, want %#v", name, g, w)
		}
	}
	for name, g := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected value leaf %s = %#v", name, g)
		}
	}
}

// sameValue compares a leaf with a JSON value decoded with UseNumber.
func sameValue(got, want any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case bool, string:
		return got == w
	case json.Number:
		switch g := got.(type) {
		case int64:
			return strconv.FormatInt(g, 10) == w.String()
		case *big.Int:
			return g.String() == w.String()
		case float64:
			f, err := strconv.ParseFloat(w.String(), 64)
			return err == nil && math.Float64bits(f) == math.Float64bits(g)
		}
	}
	return false
}

func TestCorpus(t *testing.T) {
	dir := corpusDir()
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.json")); err != nil {
		t.Skipf("no corpus at %s (set PTPORT_CORPUS)", dir)
	}
	checkManifest(t, dir, false)
}

func TestFixtures(t *testing.T) {
	checkManifest(t, filepath.Join("..", "testdata", "pickle"), true)
}
