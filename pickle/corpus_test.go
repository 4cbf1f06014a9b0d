package pickle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
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
	Error string `json:"error"`
}

func loadManifest(t *testing.T, path string) manifest {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(m) == 0 {
		t.Fatalf("%s lists no files", path)
	}
	return m
}

// checkManifest loads every file listed in dir/MANIFEST.json and compares
// the tensors Leaves yields with the manifest: names, dtypes, shapes and
// the sha256 of Bytes. Files listed with an error must fail to load.
func checkManifest(t *testing.T, dir string) {
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
			got := map[string]*Tensor{}
			for _, l := range leaves {
				if tt, ok := l.Value.(*Tensor); ok {
					if _, dup := got[l.Name]; dup {
						t.Errorf("tensor name %q appears twice", l.Name)
					}
					got[l.Name] = tt
				}
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

func TestCorpus(t *testing.T) {
	dir := corpusDir()
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.json")); err != nil {
		t.Skipf("no corpus at %s (set PTPORT_CORPUS)", dir)
	}
	checkManifest(t, dir)
}

func TestFixtures(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pickle")
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.json")); err != nil {
		t.Skipf("no fixtures at %s", dir)
	}
	checkManifest(t, dir)
}
