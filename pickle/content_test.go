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

// contentManifest is testdata/pickle/content/MANIFEST.json, which
// gen_content.py wrote with real torch and numpy.
type contentManifest map[string]struct {
	Format  string                `json:"format"`
	Tensors map[string]wildTensor `json:"tensors"`
	Values  map[string]any        `json:"values"`
	Scalars map[string]struct {
		DType string `json:"dtype"`
		Hex   string `json:"hex"`
	} `json:"scalars"`
	// Other leaves: "object:module.Name", "global:module.name", "bytes:hex".
	Other       map[string]string `json:"other"`
	Modes       map[string]string `json:"modes"` // mode -> "ok" or an error substring
	LeavesError string            `json:"leaves_error"`
	// WeightsOnlyRefuses are the globals torch.load(weights_only=True) of
	// torch 2.6 refuses, when listed.
	WeightsOnlyRefuses []string `json:"weights_only_refuses"`
	TorchWeightsOnly   string   `json:"torch_weights_only"` // what torch 1.13 did
}

var contentModes = map[string]*Options{
	"default":       nil,
	"allow_objects": {AllowObjects: true},
	"strict":        {Strict: true},
}

// TestContent reads the fixtures of what checkpoints hold beside tensors
// (numpy values, instances of user classes, Python 2 pickles, tensors as
// dict keys) in every mode.
func TestContent(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pickle", "content")
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m contentManifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if len(m) < 10 {
		t.Fatalf("%d fixtures", len(m))
	}
	for name, want := range m {
		for mode, wantErr := range want.Modes {
			t.Run(name+"/"+mode, func(t *testing.T) {
				f, err := Open(filepath.Join(dir, name), contentModes[mode])
				if wantErr != "ok" {
					if err == nil {
						f.Close()
						t.Fatalf("read; want an error with %q", wantErr)
					}
					if !strings.Contains(err.Error(), wantErr) || !strings.Contains(err.Error(), name) {
						t.Errorf("error %q does not name the file and %q", err, wantErr)
					}
					var ue *UnsafeGlobalError
					if errors.As(err, &ue) && ue.Denied {
						t.Errorf("%s: refused in every mode: %v", mode, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if string(f.Format) != want.Format {
					t.Errorf("format %s, want %s", f.Format, want.Format)
				}
				if mode == "strict" && f.WeightsOnlyRefusal != nil {
					t.Errorf("strict read, but WeightsOnlyRefusal = %v", f.WeightsOnlyRefusal)
				}
				if mode == "default" {
					checkWeightsOnly(t, f, want.Modes["strict"], want.WeightsOnlyRefuses)
				}
				leaves, err := Leaves(f.Root)
				if want.LeavesError != "" {
					if err == nil || !strings.Contains(err.Error(), want.LeavesError) {
						t.Fatalf("Leaves error %v, want %q", err, want.LeavesError)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				checkContent(t, leaves, want.Tensors, want.Values, want.Scalars, want.Other)
			})
		}
	}
}

// checkWeightsOnly compares what File says torch.load(weights_only=True)
// would do with the fixture's expectations.
func checkWeightsOnly(t *testing.T, f *File, strict string, refuses []string) {
	t.Helper()
	if (f.WeightsOnlyRefusal == nil) != (strict == "ok") {
		t.Errorf("WeightsOnlyRefusal = %v; strict mode expects %q", f.WeightsOnlyRefusal, strict)
	}
	if f.WeightsOnlyRefusal != nil && !strings.Contains(f.WeightsOnlyRefusal.Error(), strict) {
		t.Errorf("WeightsOnlyRefusal %q does not name %q", f.WeightsOnlyRefusal, strict)
	}
	if len(f.GlobalInfo) != len(f.Globals) {
		t.Fatalf("%d GlobalInfo for %d Globals", len(f.GlobalInfo), len(f.Globals))
	}
	if refuses == nil {
		return
	}
	var got []string
	for i, g := range f.GlobalInfo {
		if g.Name != f.Globals[i] || g.Resolved == "" {
			t.Errorf("GlobalInfo[%d] = %+v for %s", i, g, f.Globals[i])
		}
		if !g.WeightsOnly {
			got = append(got, g.Name)
		}
	}
	sort.Strings(got)
	if len(got)+len(refuses) > 0 && !reflect.DeepEqual(got, refuses) {
		t.Errorf("weights_only refuses %q, want %q", got, refuses)
	}
}

func checkContent(t *testing.T, leaves []Leaf, tensors map[string]wildTensor, values map[string]any,
	scalars map[string]struct {
		DType string `json:"dtype"`
		Hex   string `json:"hex"`
	}, other map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, l := range leaves {
		seen[l.Name] = true
		switch v := l.Value.(type) {
		case *Tensor:
			w, ok := tensors[l.Name]
			if !ok {
				t.Errorf("unexpected tensor %s", l.Name)
				continue
			}
			b, err := v.Bytes()
			if err != nil {
				t.Errorf("%s: %v", l.Name, err)
				continue
			}
			if msg := sameTensor(l.Name, wildTensor{DType: string(v.DType), Shape: append([]int{}, v.Shape...), SHA256: sha256hex(b)}, w); msg != "" {
				t.Error(msg)
			}
		case Scalar:
			w, ok := scalars[l.Name]
			if !ok || string(v.DType) != w.DType || hex.EncodeToString(v.Data) != w.Hex {
				t.Errorf("scalar %s = %s %x, want %+v", l.Name, v.DType, v.Data, w)
			}
		case *Object:
			if other[l.Name] != "object:"+v.Module+"."+v.Name {
				t.Errorf("object %s = %s.%s, want %q", l.Name, v.Module, v.Name, other[l.Name])
			}
		case Global:
			if other[l.Name] != "global:"+v.String() {
				t.Errorf("global %s = %s, want %q", l.Name, v, other[l.Name])
			}
		case []byte:
			if other[l.Name] != "bytes:"+hex.EncodeToString(v) {
				t.Errorf("bytes %s = %x, want %q", l.Name, v, other[l.Name])
			}
		default:
			w, ok := values[l.Name]
			if !ok || !sameJSON(v, w) {
				t.Errorf("value %s = %#v, want %#v", l.Name, v, w)
			}
		}
	}
	for _, names := range []map[string]bool{keys(tensors), keys(values), keys(scalars), keys(other)} {
		for n := range names {
			if !seen[n] {
				t.Errorf("leaf %s missing", n)
			}
		}
	}
}

func keys[V any](m map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// sameJSON compares a leaf with a value Python's json wrote (decoded
// with UseNumber): an int has no point or exponent, a float has one.
func sameJSON(got, want any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case bool, string:
		return got == w
	case json.Number:
		isFloat := strings.ContainsAny(w.String(), ".eE")
		switch g := got.(type) {
		case int64:
			return !isFloat && strconv.FormatInt(g, 10) == w.String()
		case *big.Int:
			return !isFloat && g.String() == w.String()
		case float64:
			f, err := strconv.ParseFloat(w.String(), 64)
			return isFloat && err == nil && math.Float64bits(f) == math.Float64bits(g)
		}
	}
	return false
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestWriteRoundTripContent writes the content fixtures with Write and
// reads them back: numpy scalars stay numpy scalars of their dtype, arrays
// tensors, objects plain dicts with the leaves Leaves names, the record of
// a call too.
func TestWriteRoundTripContent(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "pickle", "content", "*.pt"))
	if err != nil || len(files) < 10 {
		t.Fatalf("%d files, %v", len(files), err)
	}
	for _, path := range files {
		// key_collision.pt has no leaves; numpy_unsigned.pt holds U16, U32
		// and U64 tensors, which torch 1.13's layout has no storage class for.
		if strings.HasSuffix(path, "key_collision.pt") || strings.HasSuffix(path, "numpy_unsigned.pt") {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) { checkWriteRoundTrip(t, path) })
	}
}

// TestWriteTensorKeys writes tensors as dict keys and reads them back as
// keys with the same names.
func TestWriteTensorKeys(t *testing.T) {
	f, err := Open(filepath.Join("..", "testdata", "pickle", "content", "tensor_keys.pt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The optimizer (an *Object) becomes a plain dict whose tensor keys stay
	// tensors; so do the other entries'.
	kept := f.Root.(*Dict)
	want, err := Leaves(kept)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := writeReread(t, kept, nil)
	defer g.Close()
	got, err := Leaves(g.Root)
	if err != nil {
		t.Fatal(err)
	}
	var wn, gn []string
	for i := range want {
		wn = append(wn, want[i].Name)
	}
	for i := range got {
		gn = append(gn, got[i].Name)
	}
	if !reflect.DeepEqual(gn, wn) || !strings.Contains(strings.Join(gn, " "), "by_tensor.<tensor#1>") {
		t.Errorf("names %q\nwant %q", gn, wn)
	}
	bt, _ := g.Root.(*Dict).Get("by_tensor")
	if _, ok := bt.(*Dict).Entries[0].Key.(*Tensor); !ok {
		t.Errorf("key read back as %T, not a tensor", bt.(*Dict).Entries[0].Key)
	}
}
