package pickle

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// writeReread writes root with Write and reads the result back.
func writeReread(t *testing.T, root any, opts *WriteOptions) (*File, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, root, opts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	f, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil)
	if err != nil {
		t.Fatalf("reading what Write wrote: %v", err)
	}
	return f, buf.Bytes()
}

// writeComparer compares an object tree with the tree read back from what
// Write wrote of it.
type writeComparer struct {
	t        *testing.T
	storages map[any]*Storage // original (a *Storage, or a lazyKey for a storage seen with lazy bits) -> written
	back     map[*Storage]any
	tensors  map[*Tensor]*Tensor
	seen     map[any]any // containers of the original -> their copy
	errs     int
}

func newWriteComparer(t *testing.T) *writeComparer {
	return &writeComparer{
		t:        t,
		storages: map[any]*Storage{},
		back:     map[*Storage]any{},
		tensors:  map[*Tensor]*Tensor{},
		seen:     map[any]any{},
	}
}

func (c *writeComparer) errorf(path, format string, args ...any) {
	c.t.Helper()
	c.errs++
	if c.errs <= 20 {
		c.t.Errorf("%s: %s", writeOrRoot(path), fmt.Sprintf(format, args...))
	}
}

func writeOrRoot(path string) string {
	if path == "" {
		return "<root>"
	}
	return path
}

// shared checks that a container met again is met again in the copy too.
func (c *writeComparer) shared(path string, want, got any) (again bool) {
	c.t.Helper()
	id, gid := identity(want), identity(got)
	if id == nil {
		return false
	}
	if prev, ok := c.seen[id]; ok {
		if prev != gid {
			c.errorf(path, "a container met before is not shared in the copy")
		}
		return true
	}
	c.seen[id] = gid
	return false
}

// writeObjectDict is what Write makes of an *Object: the OrderedDict of its
// leaves, tensors detached, as state_dict() returns.
func writeObjectDict(t *testing.T, o *Object) *Dict {
	t.Helper()
	leaves, err := Leaves(o)
	if err != nil {
		t.Fatalf("Leaves(%s.%s): %v", o.Module, o.Name, err)
	}
	d := &Dict{Ordered: true}
	for _, l := range leaves {
		v := l.Value
		if tt, ok := v.(*Tensor); ok {
			c := *tt
			c.RequiresGrad = false
			v = &c
		}
		d.Entries = append(d.Entries, DictEntry{Key: l.Name, Value: v})
	}
	return d
}

func (c *writeComparer) compare(path string, want, got any) {
	c.t.Helper()
	if o, ok := want.(*Object); ok {
		if prev, ok := c.seen[o]; ok {
			if prev != got {
				c.errorf(path, "an object met before is not shared in the copy")
			}
			return
		}
		c.seen[o] = got
		if !isModule(o) && !isScriptObject(o) {
			c.inert(path, o, got)
			return
		}
		want = writeObjectDict(c.t, o)
	}
	switch w := want.(type) {
	case *Dict:
		g, ok := got.(*Dict)
		if !ok {
			c.errorf(path, "got %T, want a dict", got)
			return
		}
		if c.shared(path, w, g) {
			return
		}
		if w.Ordered != g.Ordered {
			c.errorf(path, "Ordered %v, want %v", g.Ordered, w.Ordered)
		}
		if len(g.Entries) != len(w.Entries) {
			c.errorf(path, "%d entries, want %d", len(g.Entries), len(w.Entries))
			return
		}
		for i, we := range w.Entries {
			ge := g.Entries[i]
			c.compare(path+"<key>", we.Key, ge.Key)
			c.compare(writePath(path, we.Key), we.Value, ge.Value)
		}
		if w.Ordered && w.Attrs.Len() > 0 {
			c.compare(path+"<attrs>", w.Attrs, g.Attrs)
		} else if g.Attrs.Len() != 0 {
			c.errorf(path, "copy has attributes %v", g.Attrs)
		}
	case List:
		g, ok := got.(List)
		if !ok {
			c.errorf(path, "got %T, want a list", got)
			return
		}
		if c.shared(path, w, g) {
			return
		}
		if len(g) != len(w) {
			c.errorf(path, "%d items, want %d", len(g), len(w))
			return
		}
		for i := range w {
			c.compare(writePath(path, i), w[i], g[i])
		}
	case Tuple:
		g, ok := got.(Tuple)
		if !ok {
			c.errorf(path, "got %T, want a tuple", got)
			return
		}
		if c.shared(path, w, g) {
			return
		}
		if len(g) != len(w) {
			c.errorf(path, "%d items, want %d", len(g), len(w))
			return
		}
		for i := range w {
			c.compare(writePath(path, i), w[i], g[i])
		}
	case *Tensor:
		g, ok := got.(*Tensor)
		if !ok {
			c.errorf(path, "got %T, want a tensor", got)
			return
		}
		c.tensor(path, w, g)
	case *Storage:
		g, ok := got.(*Storage)
		if !ok {
			c.errorf(path, "got %T, want a storage", got)
			return
		}
		c.storage(path, w, g)
	case Scalar:
		if !reflect.DeepEqual(want, got) {
			c.errorf(path, "got %#v (%T), want the numpy scalar %#v", got, got, want)
		}
	case *SparseTensor:
		g, ok := got.(*SparseTensor)
		if !ok {
			c.errorf(path, "got %T, want a sparse tensor", got)
			return
		}
		c.sparse(path, w, g)
	case *NestedTensor:
		g, ok := got.(*NestedTensor)
		if !ok {
			c.errorf(path, "got %T, want a nested tensor", got)
			return
		}
		if !c.shared(path, w, g) {
			c.parts(path, w.parts(), g.parts())
		}
	default:
		if !writeSameScalar(want, got) {
			c.errorf(path, "got %#v (%T), want %#v (%T)", got, got, want, want)
		}
	}
}

func (c *writeComparer) storage(path string, w, g *Storage) {
	c.t.Helper()
	c.storageAs(path, w, w, g)
}

// storageAs checks that the storage g of the copy is met wherever the original met
// the storage w, identified by id (w, or w with lazy bits applied).
func (c *writeComparer) storageAs(path string, id any, w, g *Storage) {
	c.t.Helper()
	if prev, ok := c.storages[id]; ok {
		if prev != g {
			c.errorf(path, "storage %q was shared in the original, not in the copy", w.Key())
		}
		return
	}
	if prev, ok := c.back[g]; ok && prev != id {
		c.errorf(path, "two storages of the original (%q) share one storage in the copy", w.Key())
	}
	c.storages[id], c.back[g] = g, id
	if w.Device == "meta" && w.src == nil {
		if g.Device != "meta" || g.src != nil {
			c.errorf(path, "a meta tensor is written with data on %q", g.Device)
		}
		return
	}
	if g.Device != "cpu" {
		c.errorf(path, "device %q, want cpu", g.Device)
	}
}

func (c *writeComparer) tensor(path string, w, g *Tensor) {
	c.t.Helper()
	if prev, ok := c.tensors[w]; ok {
		if prev != g {
			c.errorf(path, "a tensor met twice in the original is two tensors in the copy")
		}
		return
	}
	c.tensors[w] = g
	if w.Storage.Device == "meta" && w.Storage.src == nil {
		// torch writes every meta tensor apart: they share no storage.
		if g.Storage.Device != "meta" || g.Storage.src != nil {
			c.errorf(path, "a meta tensor is written with data on %q", g.Storage.Device)
		}
	} else if w.Conj || w.Neg {
		if g.Conj || g.Neg {
			c.errorf(path, "the copy has a lazy bit")
		}
		c.storageAs(path, lazyKey{w.Storage, w.DType, w.Conj, w.Neg}, w.Storage, g.Storage)
	} else {
		c.storage(path, w.Storage, g.Storage)
	}
	ws := w.Strides
	if ws == nil {
		ws = contiguousStrides(w.Shape)
	}
	if g.DType != w.DType || !writeEqualInts(g.Shape, w.Shape) || !writeEqualInts(g.Strides, ws) ||
		g.Offset != w.Offset || g.RequiresGrad != w.RequiresGrad {
		c.errorf(path, "got %s %v strides %v offset %d grad %v, want %s %v strides %v offset %d grad %v",
			g.DType, g.Shape, g.Strides, g.Offset, g.RequiresGrad, w.DType, w.Shape, ws, w.Offset, w.RequiresGrad)
		return
	}
	if w.Storage.DType == w.DType && g.Storage.Len != w.Storage.Len {
		c.errorf(path, "storage of %d elements, want %d", g.Storage.Len, w.Storage.Len)
	}
	c.quantization(path, w.Quantization, g.Quantization)
	wb, werr := w.Bytes()
	gb, err := g.Bytes()
	if werr != nil {
		// A view Bytes refuses to materialise (a large expand), or a meta tensor's,
		// must be refused in the copy too.
		if err == nil {
			c.errorf(path, "original: %v; the copy reads", werr)
		}
		if errors.Is(werr, ErrNoData) != errors.Is(err, ErrNoData) {
			c.errorf(path, "original: %v; copy: %v", werr, err)
		}
		return
	}
	if err != nil {
		c.errorf(path, "copy: %v", err)
		return
	}
	if !bytes.Equal(wb, gb) {
		c.errorf(path, "bytes differ")
	}
}

// quantization compares the quantization parameters of a tensor and its copy.
func (c *writeComparer) quantization(path string, w, g *Quantization) {
	c.t.Helper()
	if (w == nil) != (g == nil) {
		c.errorf(path, "quantization %v, want %v", g, w)
		return
	}
	if w == nil {
		return
	}
	if g.DType != w.DType || g.Scheme != w.Scheme || g.PerChannel() != w.PerChannel() {
		c.errorf(path, "quantized %s %s (per channel %v), want %s %s (per channel %v)",
			g.DType, g.Scheme, g.PerChannel(), w.DType, w.Scheme, w.PerChannel())
		return
	}
	if !w.PerChannel() {
		if math.Float64bits(g.Scale) != math.Float64bits(w.Scale) || g.ZeroPoint != w.ZeroPoint {
			c.errorf(path, "scale %v zero point %d, want %v and %d", g.Scale, g.ZeroPoint, w.Scale, w.ZeroPoint)
		}
		return
	}
	if g.Axis != w.Axis {
		c.errorf(path, "axis %d, want %d", g.Axis, w.Axis)
	}
	c.tensor(path+".scale", w.Scales, g.Scales)
	c.tensor(path+".zero_point", w.ZeroPoints, g.ZeroPoints)
}

// sparse compares a sparse tensor and its copy, component by component.
func (c *writeComparer) sparse(path string, w, g *SparseTensor) {
	c.t.Helper()
	if c.shared(path, w, g) {
		return
	}
	if g.Layout != w.Layout || !writeEqualInts(g.Shape, w.Shape) || g.Coalesced != w.Coalesced {
		c.errorf(path, "%s %v coalesced %v, want %s %v coalesced %v", g.Layout, g.Shape, g.Coalesced, w.Layout, w.Shape, w.Coalesced)
		return
	}
	c.parts(path, w.parts(), g.parts())
}

// inert compares an object that is not a module with its copy: a plain dict whose
// first key names its class, and whose leaves are the object's, by name and value.
func (c *writeComparer) inert(path string, o *Object, got any) {
	c.t.Helper()
	g, ok := got.(*Dict)
	if !ok || g.Ordered || len(g.Entries) == 0 {
		c.errorf(path, "got %T, want a plain dict", got)
		return
	}
	key := ClassKey
	if o.Called {
		key = CallKey
	}
	if e := g.Entries[0]; e.Key != key || e.Value != o.Module+"."+o.Name {
		c.errorf(path, "first entry %v: %v, want %s: %s.%s", e.Key, e.Value, key, o.Module, o.Name)
	}
	want, err := Leaves(o)
	if err != nil {
		c.t.Fatal(err)
	}
	have, err := Leaves(g)
	if err != nil {
		c.t.Fatal(err)
	}
	if len(have) != len(want) {
		c.errorf(path, "%d leaves, want %d", len(have), len(want))
		return
	}
	for i, w := range want {
		if have[i].Name != w.Name {
			c.errorf(path, "leaf %d named %q, want %q", i, have[i].Name, w.Name)
			continue
		}
		c.compare(join(path, w.Name), w.Value, have[i].Value)
	}
}

// parts compares the parts of a tensor stored as several and of its copy.
func (c *writeComparer) parts(path string, want, got []Leaf) {
	c.t.Helper()
	for i := range want {
		c.compare(join(path, want[i].Name), want[i].Value, got[i].Value)
	}
}

func writeEqualInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// writeSameScalar compares non-container values: floats bit for bit, integers
// by value whatever their Go type.
func writeSameScalar(want, got any) bool {
	if wi, ok := toInt64(want); ok {
		gi, ok := toInt64(got)
		return ok && wi == gi
	}
	switch w := want.(type) {
	case nil:
		return got == nil
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	case *big.Int:
		g, ok := got.(*big.Int)
		return ok && g.Cmp(w) == 0
	case float64:
		g, ok := got.(float64)
		return ok && math.Float64bits(g) == math.Float64bits(w)
	case complex128:
		g, ok := got.(complex128)
		return ok && math.Float64bits(real(g)) == math.Float64bits(real(w)) &&
			math.Float64bits(imag(g)) == math.Float64bits(imag(w))
	case string:
		g, ok := got.(string)
		return ok && g == w
	case []byte:
		g, ok := got.([]byte)
		return ok && bytes.Equal(g, w)
	case Global:
		if !writableGlobal(w) {
			// torch.load(weights_only=True) refuses it: its name is written.
			g, ok := got.(string)
			return ok && g == w.String()
		}
		g, ok := got.(Global)
		return ok && g == w
	}
	return false
}

// checkWriteRoundTrip writes the tree of the checkpoint at path, reads it back
// and compares.
func checkWriteRoundTrip(t *testing.T, path string) {
	f, err := Open(path, &Options{AllowObjects: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer f.Close()
	g, _ := writeReread(t, f.Root, nil)
	defer g.Close()
	if g.Format != FormatZip {
		t.Errorf("format %s, want zip", g.Format)
	}
	c := newWriteComparer(t)
	c.compare("", f.Root, g.Root)
	// The names, dtypes and shapes of the leaves must be the original's,
	// with a module's state_dict names.
	want, err := Leaves(f.Root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Leaves(g.Root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d leaves, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name {
			t.Errorf("leaf %d named %q, want %q", i, got[i].Name, want[i].Name)
		}
	}
}

// writeFixtureFiles lists the .pt files of dir, without those m says must fail.
func writeFixtureFiles(t *testing.T, dir string, m manifest) []string {
	names, err := filepath.Glob(filepath.Join(dir, "*.pt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if e, ok := m[filepath.Base(n)]; ok && e.Error != "" {
			continue
		}
		out = append(out, n)
	}
	return out
}

func TestWriteRoundTripFixtures(t *testing.T) {
	pm := loadManifest(t, filepath.Join("..", "testdata", "pickle", "MANIFEST.json"))
	var files []string
	files = append(files, writeFixtureFiles(t, filepath.Join("..", "testdata", "pickle"), pm)...)
	files = append(files, writeFixtureFiles(t, filepath.Join("..", "testdata", "convert"), nil)...)
	files = append(files, writeFixtureFiles(t, filepath.Join("..", "testdata", "notebook"), nil)...)
	files = append(files, writeFixtureFiles(t, filepath.Join("..", "testdata", "pickle", "torch2"),
		loadManifest(t, filepath.Join("..", "testdata", "pickle", "torch2", "MANIFEST.json")))...)
	if len(files) < 60 {
		t.Fatalf("found only %d fixtures", len(files))
	}
	for _, path := range files {
		t.Run(strings.TrimPrefix(path, filepath.Join("..", "testdata")+string(filepath.Separator)), func(t *testing.T) {
			checkWriteRoundTrip(t, path)
		})
	}
}

func TestWriteRoundTripCorpus(t *testing.T) {
	dir := corpusDir()
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.json")); err != nil {
		t.Skipf("no corpus at %s (set PTPORT_CORPUS)", dir)
	}
	m := loadManifest(t, filepath.Join(dir, "MANIFEST.json"))
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if m[name].Error != "" {
				if f, err := Open(path, &Options{AllowObjects: true}); err == nil {
					f.Close()
					t.Fatalf("read; the manifest says it must fail (%s)", m[name].Error)
				}
				return
			}
			checkWriteRoundTrip(t, path)
		})
	}
}

// pickleOf returns the data.pkl record of a zip checkpoint.
func writtenRecords(t *testing.T, b []byte) (names []string, records map[string][]byte, files []*zip.File) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	records = map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		names = append(names, f.Name)
		records[f.Name] = data
	}
	return names, records, zr.File
}

func TestWriteZipLayout(t *testing.T) {
	a, _ := NewTensor(F32, []int{2, 3}, make([]byte, 24))
	root := &Dict{Ordered: true}
	for i := 0; i < 12; i++ {
		tt, _ := NewTensor(I64, []int{i}, make([]byte, 8*i))
		root.Entries = append(root.Entries, DictEntry{Key: fmt.Sprint("t", i), Value: tt})
	}
	root.Entries = append(root.Entries, DictEntry{Key: "a", Value: a})
	var buf bytes.Buffer
	err := Write(&buf, root, &WriteOptions{Archive: "model", Records: map[string][]byte{".ptport_source": []byte("x.pt"), "extra/b": nil}})
	if err != nil {
		t.Fatal(err)
	}
	names, records, files := writtenRecords(t, buf.Bytes())
	want := []string{"model/data.pkl", "model/byteorder"}
	for _, k := range []string{"0", "1", "10", "11", "12", "2", "3", "4", "5", "6", "7", "8", "9"} {
		want = append(want, "model/data/"+k)
	}
	want = append(want, "model/.ptport_source", "model/extra/b", "model/version")
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("records\n%q\nwant\n%q", names, want)
	}
	if string(records["model/version"]) != "3\n" || string(records["model/byteorder"]) != "little" ||
		string(records["model/.ptport_source"]) != "x.pt" {
		t.Errorf("version %q, byteorder %q, source %q", records["model/version"], records["model/byteorder"], records["model/.ptport_source"])
	}
	for _, f := range files {
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		if off%64 != 0 {
			t.Errorf("%s: data at offset %d, not 64-byte aligned", f.Name, off)
		}
		if f.Method != zip.Store {
			t.Errorf("%s: method %d, want stored", f.Name, f.Method)
		}
		wantFlags := uint16(0x808)
		if f.UncompressedSize64 == 0 {
			wantFlags = 0x800
		}
		if f.Flags != wantFlags {
			t.Errorf("%s: flags %#x, want %#x", f.Name, f.Flags, wantFlags)
		}
	}
	if n := len(records["model/data/11"]); n != 88 {
		t.Errorf("data/11 holds %d bytes, want 88", n)
	}
}

// TestWriteTorchBytes checks that checkpoints torch.save wrote with its
// default protocol are written back with the same pickle and storage
// records, at the same offsets. (Not every checkpoint is: the pickle memo
// of torch.save follows Python object identity, which the file does not
// record for strings, and an nn.Parameter is written as a tensor.)
func TestWriteTorchBytes(t *testing.T) {
	for _, name := range []string{"tensor.pt", "state_dict.pt", "proto2.pt", "dtypes.pt", "views.pt"} {
		t.Run(name, func(t *testing.T) { checkTorchBytes(t, filepath.Join("..", "testdata", "pickle", name)) })
	}
}

// TestWriteTorch2Bytes checks the same of what torch 2.x writes: the tensors of the
// dtypes without a storage class (_rebuild_tensor_v3 over UntypedStorage, several
// dtypes viewing one storage), sparse tensors of every layout, nested tensors, as
// testdata/pickle/torch2/gen.py lays them out by the rules of torch 2.x's
// torch/_tensor.py, which torch 1.13 cannot load; and quantized tensors of every scheme
// and meta tensors as torch 1.13's torch.save wrote them, which torch 2.x writes alike.
func TestWriteTorch2Bytes(t *testing.T) {
	for _, name := range []string{"dtypes_v3.pt", "sparse_torch2.pt", "nested.pt", "quantized.pt", "meta.pt"} {
		t.Run(name, func(t *testing.T) { checkTorchBytes(t, filepath.Join("..", "testdata", "pickle", "torch2", name)) })
	}
}

// checkTorchBytes writes the checkpoint torch.save wrote at path back and compares
// the records (but byteorder, which torch 1.13 does not write) and the first record's
// bytes with torch's.
func checkTorchBytes(t *testing.T, path string) {
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	onames, orecs, ofiles := writtenRecords(t, orig)
	archive := strings.SplitN(onames[0], "/", 2)[0]
	f, err := NewReader(bytes.NewReader(orig), int64(len(orig)), nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, f.Root, &WriteOptions{Archive: archive}); err != nil {
		t.Fatal(err)
	}
	gnames, grecs, _ := writtenRecords(t, buf.Bytes())
	// torch 1.13 writes no byteorder record.
	var without []string
	for _, n := range gnames {
		if n != archive+"/byteorder" {
			without = append(without, n)
		}
	}
	if strings.Join(without, " ") != strings.Join(onames, " ") {
		t.Fatalf("records %q, torch wrote %q", gnames, onames)
	}
	for _, n := range onames {
		if !bytes.Equal(grecs[n], orecs[n]) {
			t.Errorf("record %s differs from torch's", n)
		}
	}
	// data.pkl is the first record: its local header, padding and
	// data are torch's byte for byte.
	end := ofiles[0].CompressedSize64
	off, _ := ofiles[0].DataOffset()
	if !bytes.Equal(buf.Bytes()[:off+int64(end)+16], orig[:off+int64(end)+16]) {
		t.Errorf("the first record's bytes differ from torch's")
	}
}

func TestWriteScalars(t *testing.T) {
	big100 := new(big.Int).Lsh(big.NewInt(1), 100)
	neg100 := new(big.Int).Neg(big100)
	below := new(big.Int).Sub(big.NewInt(math.MinInt64), big.NewInt(1))
	latin := make([]byte, 256)
	for i := range latin {
		latin[i] = byte(i)
	}
	long := make(List, 2500)
	for i := range long {
		long[i] = int64(i)
	}
	manyKeys := &Dict{}
	for i := 0; i < 1001; i++ {
		manyKeys.Entries = append(manyKeys.Entries, DictEntry{Key: int64(i), Value: fmt.Sprint(i)})
	}
	cases := []struct {
		name string
		v    any
		want any // nil: v itself
	}{
		{"none", nil, nil},
		{"true", true, nil},
		{"false", false, nil},
		{"zero", int64(0), nil},
		{"255", int64(255), nil},
		{"256", int64(256), nil},
		{"65535", int64(65535), nil},
		{"65536", int64(65536), nil},
		{"-1", int64(-1), nil},
		{"minint32", int64(math.MinInt32), nil},
		{"maxint32", int64(math.MaxInt32), nil},
		{"maxint32+1", int64(math.MaxInt32) + 1, nil},
		{"minint32-1", int64(math.MinInt32) - 1, nil},
		{"-128", int64(-128), nil},
		{"-32769", int64(-32769), nil},
		{"minint64", int64(math.MinInt64), nil},
		{"maxint64", int64(math.MaxInt64), nil},
		{"go int", 7, int64(7)},
		{"go uint64", uint64(math.MaxUint64), new(big.Int).SetUint64(math.MaxUint64)},
		{"2^100", big100, nil},
		{"-2^100", neg100, nil},
		{"minint64-1", below, nil},
		{"big fits", big.NewInt(-5), int64(-5)},
		{"2^2100", new(big.Int).Lsh(big.NewInt(3), 2100), nil},
		{"float", 0.5, nil},
		{"-0", math.Copysign(0, -1), nil},
		{"nan payload", math.Float64frombits(0x7ff8000000000abc), nil},
		{"-inf", math.Inf(-1), nil},
		{"subnormal", 5e-324, nil},
		{"float32", float32(1.5), 1.5},
		{"complex", complex(1.5, -2), nil},
		{"empty string", "", nil},
		{"unicode", "ünïcødé ✓ 𝄞", nil},
		{"surrogate", "a\xed\xa0\x80b", nil},
		{"long string", strings.Repeat("abc", 100), nil},
		{"empty bytes", []byte{}, nil},
		{"latin bytes", latin, nil},
		{"dtype", Global{Module: "torch", Name: "bfloat16"}, nil},
		{"size", Global{Module: "torch", Name: "Size"}, nil},
		{"empty tuple", Tuple{}, nil},
		{"tuple1", Tuple{int64(1)}, nil},
		{"tuple3", Tuple{int64(1), "a", nil}, nil},
		{"tuple5", Tuple{int64(1), int64(2), int64(3), int64(4), Tuple{}}, nil},
		{"empty list", List{}, nil},
		{"list1", List{"x"}, nil},
		{"long list", long, nil},
		{"dict", &Dict{Entries: []DictEntry{{Key: int64(3), Value: "c"}, {Key: "a", Value: List{}}, {Key: Tuple{int64(1), "b"}, Value: 2.5}, {Key: nil, Value: true}, {Key: 1.5, Value: false}}}, nil},
		{"dict 1001 keys", manyKeys, nil},
		{"ordered", &Dict{Ordered: true, Entries: []DictEntry{{Key: "b", Value: int64(1)}, {Key: "a", Value: int64(2)}}}, nil},
		{"ordered attrs", &Dict{Ordered: true, Entries: []DictEntry{{Key: "w", Value: int64(1)}},
			Attrs: &Dict{Entries: []DictEntry{{Key: "_metadata", Value: &Dict{Ordered: true, Entries: []DictEntry{{Key: "", Value: &Dict{Entries: []DictEntry{{Key: "version", Value: int64(1)}}}}}}}}}}, nil},
		{"empty ordered", &Dict{Ordered: true}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == nil {
				want = tc.v
			}
			f, _ := writeReread(t, &Dict{Entries: []DictEntry{{Key: "x", Value: tc.v}}}, nil)
			root, ok := f.Root.(*Dict)
			if !ok || root.Len() != 1 {
				t.Fatalf("root %#v", f.Root)
			}
			got, _ := root.Get("x")
			c := newWriteComparer(t)
			c.compare("x", want, got)
		})
	}
}

func TestWriteRootValues(t *testing.T) {
	tt, _ := NewTensor(F64, []int{}, make([]byte, 8))
	for _, v := range []any{tt, List{int64(1)}, "s", nil, int64(3)} {
		f, _ := writeReread(t, v, nil)
		newWriteComparer(t).compare("", v, f.Root)
	}
}

func TestWriteShared(t *testing.T) {
	data := make([]byte, 4*12)
	for i := range data {
		data[i] = byte(i)
	}
	base, _ := NewTensor(F32, []int{3, 4}, data)
	tr := &Tensor{DType: F32, Shape: []int{4, 3}, Strides: []int{1, 4}, Storage: base.Storage}
	col := &Tensor{DType: F32, Shape: []int{3}, Strides: []int{4}, Offset: 1, Storage: base.Storage}
	bare := base.Storage
	l := List{int64(1), int64(2)}
	tu := Tuple{"a", l}
	d := &Dict{Entries: []DictEntry{{Key: "k", Value: int64(1)}}}
	root := List{base, tr, col, base, bare, l, l, tu, tu, d, d}
	f, b := writeReread(t, root, nil)
	newWriteComparer(t).compare("", root, f.Root)
	got := f.Root.(List)
	if got[0] != got[3] {
		t.Errorf("the same tensor twice is two tensors")
	}
	g0, g1, g2 := got[0].(*Tensor), got[1].(*Tensor), got[2].(*Tensor)
	if g0.Storage != g1.Storage || g0.Storage != g2.Storage || got[4].(*Storage) != g0.Storage {
		t.Errorf("views of one storage do not share it")
	}
	if &got[5].(List)[0] != &got[6].(List)[0] || got[9] != got[10] || &got[7].(Tuple)[0] != &got[8].(Tuple)[0] {
		t.Errorf("containers met twice are not shared")
	}
	names, _, _ := writtenRecords(t, b)
	if n := strings.Count(strings.Join(names, " "), "/data/"); n != 1 {
		t.Errorf("%d storage records, want 1", n)
	}
}

// writeFailReader fails after n bytes.
type writeFailReader struct{ n int64 }

func (r writeFailReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.n {
		return 0, errors.New("disk on fire")
	}
	return len(p), nil
}

type writeFailWriter struct{ n int }

func (w *writeFailWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	cyc := List{int64(1), nil}
	cyc[1] = cyc
	cycDict := &Dict{}
	cycDict.Entries = []DictEntry{{Key: "self", Value: List{cycDict}}}
	st, _ := NewStorage(F32, make([]byte, 16))
	past := &Tensor{DType: F32, Shape: []int{2, 2}, Strides: []int{2, 1}, Offset: 1, Storage: st}
	asInt := &Tensor{DType: I32, Shape: []int{4}, Strides: []int{1}, Storage: st}
	asF32 := &Tensor{DType: F32, Shape: []int{4}, Strides: []int{1}, Storage: st}
	odd, _ := NewStorage(U8, make([]byte, 6))
	oddView := &Tensor{DType: F32, Shape: []int{1}, Strides: []int{1}, Storage: odd}
	bad, _ := NewStorageAt(F32, writeFailReader{n: 1 << 20}, 0, 4<<20)
	badT := &Tensor{DType: F32, Shape: []int{1 << 20}, Strides: []int{1}, Storage: bad}
	cases := []struct {
		name string
		root any
		opts *WriteOptions
		want string
	}{
		{"cycle list", &Dict{Entries: []DictEntry{{Key: "a", Value: cyc}}}, nil, "a.1: the tree contains a cycle"},
		{"cycle dict", cycDict, nil, "self.0: the tree contains a cycle"},
		{"unsupported", &Dict{Entries: []DictEntry{{Key: "m", Value: List{int64(0), map[string]int{}}}}}, nil, "m.1: cannot write a value of type map[string]int"},
		{"struct", struct{}{}, nil, "<root>: cannot write"},
		{"unhashable key", &Dict{Entries: []DictEntry{{Key: List{}, Value: int64(1)}}}, nil, "cannot be a Python dict key"},
		{"code global", List{Global{Module: "posix", Name: "system"}}, nil, "0: global posix.system"},
		{"view past end", &Dict{Entries: []DictEntry{{Key: "w", Value: past}}}, nil, "w: view (offset 1"},
		{"two dtypes", List{asF32, asInt}, nil, "1: storage is viewed both as F32 and as I32"},
		{"odd bytes", List{oddView}, nil, "not a whole number of F32 elements"},
		{"bad utf-8", &Dict{Entries: []DictEntry{{Key: "k", Value: "a\xffb"}}}, nil, `k: string "a\xffb" is not UTF-8`},
		{"bad utf-8 key", &Dict{Entries: []DictEntry{{Key: "\xc3", Value: int64(1)}}}, nil, "is not UTF-8"},
		{"no storage", &Tensor{DType: F32, Shape: []int{1}}, nil, "tensor has no storage"},
		{"int grad", &Tensor{DType: I32, Shape: []int{4}, Strides: []int{1}, Storage: st, RequiresGrad: true}, nil, "a I32 tensor cannot require grad"},
		{"archive slash", nil, &WriteOptions{Archive: "a/b"}, "invalid archive name"},
		{"reserved record", nil, &WriteOptions{Records: map[string][]byte{"data/0": nil}}, "would replace"},
		{"bad record", nil, &WriteOptions{Records: map[string][]byte{"c:\\x": nil}}, `record "c:\\x"`},
		{"storage read", List{badT}, nil, "disk on fire"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tc.root, tc.opts)
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.name != "storage read" && buf.Len() != 0 {
				t.Errorf("%d bytes written before the error", buf.Len())
			}
		})
	}
	t.Run("writer", func(t *testing.T) {
		tt, _ := NewTensor(U8, []int{1 << 18}, make([]byte, 1<<18))
		for _, n := range []int{0, 100, 1 << 17, 1 << 18} {
			if err := Write(&writeFailWriter{n: n}, tt, nil); err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("after %d bytes: error %v, want disk full", n, err)
			}
		}
	})
}

// writePatternReader is a storage source of n generated bytes.
type writePatternReader struct{ n int64 }

func (r writePatternReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), r.n-off))
	for i := 0; i < k; i++ {
		x := uint64(off + int64(i))
		p[i] = byte(x ^ x>>8 ^ x>>17)
	}
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

// TestWriteStreams writes a storage of 48 MiB and checks that Write
// allocated a small fraction of it, and that the file holds its bytes.
func TestWriteStreams(t *testing.T) {
	const n = 48 << 20
	src := writePatternReader{n: n}
	s, err := NewStorageAt(F32, src, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	tt := &Tensor{DType: F32, Shape: []int{n / 4 / 1024, 1024}, Strides: []int{1024, 1}, Storage: s}
	path := filepath.Join(t.TempDir(), "big.pt")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err = Write(out, &Dict{Entries: []DictEntry{{Key: "w", Value: tt}}}, nil)
	runtime.ReadMemStats(&after)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("Write allocated %d bytes for a storage of %d", alloc, n)
	}
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, _ := f.Root.(*Dict).Get("w")
	h1, h2 := sha256.New(), sha256.New()
	if _, err := w.(*Tensor).WriteTo(h1); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(h2, io.NewSectionReader(src, 0, n)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h1.Sum(nil), h2.Sum(nil)) {
		t.Errorf("the written storage differs from its source")
	}
}

// TestWriteZip64 lowers the zip64 threshold so that sizes and offsets
// take the zip64 fields, and reads the result back.
func TestWriteZip64(t *testing.T) {
	defer func(v int64) { zip64Limit = v }(zip64Limit)
	zip64Limit = 300
	root := &Dict{Ordered: true}
	for i, n := range []int{10, 200, 100, 3} {
		data := make([]byte, 4*n)
		for j := range data {
			data[j] = byte(i*7 + j)
		}
		tt, _ := NewTensor(F32, []int{n}, data)
		root.Entries = append(root.Entries, DictEntry{Key: fmt.Sprint("t", i), Value: tt})
	}
	f, b := writeReread(t, root, nil)
	newWriteComparer(t).compare("", root, f.Root)
	_, _, files := writtenRecords(t, b)
	for _, zf := range files {
		off, _ := zf.DataOffset()
		if off%64 != 0 {
			t.Errorf("%s: data at %d, not aligned", zf.Name, off)
		}
	}
	if !bytes.Contains(b, []byte("PK\x06\x06")) {
		t.Errorf("no zip64 end of central directory")
	}
}

func TestWriteModule(t *testing.T) {
	f, err := Open(filepath.Join("..", "testdata", "pickle", "module_in_dict.pt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, _ := writeReread(t, f.Root, nil)
	model, _ := g.Root.(*Dict).Get("model")
	sd, ok := model.(*Dict)
	if !ok || !sd.Ordered {
		t.Fatalf("model is %T, want an OrderedDict", model)
	}
	var keys []string
	for _, e := range sd.Entries {
		keys = append(keys, e.Key.(string))
	}
	if want := "weight_ih_l0 weight_hh_l0"; !strings.HasPrefix(strings.Join(keys, " "), want) {
		t.Errorf("state_dict keys %q, want them to start with %q", keys, want)
	}
	epoch, _ := g.Root.(*Dict).Get("epoch")
	if epoch != int64(3) {
		t.Errorf("epoch %v", epoch)
	}
}

var (
	writeFilesDir = flag.String("write-files", "", "TestWriteFiles: write the checkpoints named by the arguments after the flags, re-saved, into this directory, and an index.json")
)

// TestWriteFiles re-saves checkpoints for scripts/ci_pt_writer.sh: each
// file named after the flags is read (with AllowObjects), written into the
// -write-files directory, and read back. Without the flag it re-saves the
// notebook fixtures into a temporary directory.
func TestWriteFiles(t *testing.T) {
	dir, inputs := *writeFilesDir, flag.Args()
	if dir == "" {
		dir = t.TempDir()
		inputs, _ = filepath.Glob(filepath.Join("..", "testdata", "notebook", "*.pt"))
		if len(inputs) == 0 {
			t.Fatal("no notebook fixtures")
		}
	}
	type entry struct {
		Input  string `json:"input"`
		Output string `json:"output,omitempty"`
		Error  string `json:"error,omitempty"`
	}
	var index []entry
	for i, in := range inputs {
		e := entry{Input: in}
		f, err := Open(in, &Options{AllowObjects: true})
		if err != nil {
			e.Error = err.Error()
			index = append(index, e)
			continue
		}
		e.Output = filepath.Join(dir, fmt.Sprintf("%04d_%s", i, filepath.Base(in)))
		var buf bytes.Buffer
		if err := Write(&buf, f.Root, &WriteOptions{Records: map[string][]byte{".ptport_source": []byte(filepath.Base(in))}}); err != nil {
			t.Errorf("%s: %v", in, err)
			f.Close()
			continue
		}
		if err := os.WriteFile(e.Output, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := Open(e.Output, nil)
		if err != nil {
			t.Errorf("%s: reading %s: %v", in, e.Output, err)
		} else {
			c := newWriteComparer(t)
			c.compare(in, f.Root, g.Root)
			g.Close()
		}
		f.Close()
		index = append(index, e)
	}
	b, err := json.MarshalIndent(index, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzWriteRoundTrip writes whatever the reader reads, and reads it back:
// Write must not panic, and what it writes must read back equal.
func FuzzWriteRoundTrip(f *testing.F) {
	for _, name := range []string{"tensor.pt", "views.pt", "proto2_legacy.pt", "proto4.pt", "module_rnn.pt", "state_dict.pt", "tar.pt"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "pickle", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(func() []byte {
		b, _ := os.ReadFile(filepath.Join("..", "testdata", "hostile", "attr_laughs.pt"))
		return b
	}())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), int64(len(data)), &Options{AllowObjects: true})
		if err != nil {
			return
		}
		defer r.Close()
		var buf bytes.Buffer
		withinBudget(t, data, func() { err = Write(&buf, r.Root, nil) })
		if err != nil {
			return // trees Write cannot express, or storages short of bytes
		}
		g, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil)
		if err != nil {
			t.Fatalf("reading what Write wrote: %v", err)
		}
		newWriteComparer(t).compare("", r.Root, g.Root)
	})
}

// TestWriteRetyped writes a tensor whose dtype differs from its storage's
// (a byte storage seen as float32): the storage is written as a float
// storage of a quarter as many elements.
func TestWriteRetyped(t *testing.T) {
	data := []byte{0, 0, 128, 63, 0, 0, 0, 64, 9, 9, 9, 9}
	s, _ := NewStorage(U8, data)
	tt := &Tensor{DType: F32, Shape: []int{2}, Strides: []int{1}, Offset: 1, Storage: s}
	f, _ := writeReread(t, tt, nil)
	g, ok := f.Root.(*Tensor)
	if !ok {
		t.Fatalf("root is %T", f.Root)
	}
	if g.Storage.DType != F32 || g.Storage.Len != 3 || g.Offset != 1 {
		t.Errorf("storage %s of %d, offset %d; want F32 of 3, offset 1", g.Storage.DType, g.Storage.Len, g.Offset)
	}
	b, err := g.Bytes()
	if err != nil || !bytes.Equal(b, data[4:12]) {
		t.Errorf("bytes %v (%v), want %v", b, err, data[4:12])
	}
}

// TestWriteInert: what torch.load(weights_only=True) refuses is written as plain data
// that it loads: instances and calls as dicts naming their class first, with their
// parts under their leaves' keys; refused globals as their names; a State that is not
// a container under "__state__"; parts that would share a key and globals that run
// code are errors.
func TestWriteInert(t *testing.T) {
	f, err := Open(filepath.Join("..", "testdata", "pickle", "content", "objects.pt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.WeightsOnlyRefusal == nil {
		t.Fatal("the fixture is one weights_only=True loads")
	}
	g, _ := writeReread(t, f.Root, nil)
	defer g.Close()
	if g.WeightsOnlyRefusal != nil {
		t.Errorf("weights_only=True would refuse the copy: %v", g.WeightsOnlyRefusal)
	}
	root := g.Root.(*Dict)
	args, _ := root.Get("args")
	if d, ok := args.(*Dict); !ok || d.Ordered || d.Entries[0].Key != ClassKey || d.Entries[0].Value != "argparse.Namespace" {
		t.Errorf("args written as %#v", args)
	}
	path, _ := root.Get("path")
	if d, ok := path.(*Dict); !ok || d.Entries[0].Key != CallKey || d.Entries[1].Key != int64(0) {
		t.Errorf("path written as %#v", path)
	}
	classes, _ := root.Get("classes")
	if v, _ := classes.(*Dict).Get("optimizer_type"); v != "torch.optim.adam.Adam" {
		t.Errorf("a refused class reference written as %#v", v)
	}
	if v, _ := classes.(*Dict).Get("dtype"); v != (Global{"torch", "float16"}) {
		t.Errorf("torch.float16 written as %#v", v)
	}

	state := &Object{Module: "m", Name: "C", State: "opaque"}
	g2, _ := writeReread(t, List{state}, nil)
	defer g2.Close()
	if d := g2.Root.(List)[0].(*Dict); len(d.Entries) != 2 || d.Entries[1].Key != "__state__" || d.Entries[1].Value != "opaque" {
		t.Errorf("a scalar state written as %#v", d)
	}
	for _, c := range []struct {
		root any
		want string
	}{
		{&Object{Module: "m", Name: "C", Args: []any{int64(1)}, List: List{int64(2)}}, "two of its parts have the key 0"},
		{&Object{Module: "m", Name: "C", Attrs: &Dict{Entries: []DictEntry{{Key: ClassKey, Value: "x"}}}}, "two of its parts have the key __class__"},
		{&Object{Module: "m", Name: "C", Args: []any{int64(1), int64(2)}, Items: &Dict{Entries: []DictEntry{{Key: true, Value: "x"}}}}, "two of its parts have the key True"},
	} {
		if err := Write(io.Discard, c.root, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error with %q", c.root, err, c.want)
		}
	}
}
