package pickle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// torch2Tensor is a tensor entry of testdata/pickle/torch2/MANIFEST.json.
type torch2Tensor struct {
	DType         string `json:"dtype"`
	Shape         []int  `json:"shape"`
	SHA256        string `json:"sha256"`
	Float64SHA256 string `json:"float64_sha256"`
	NoData        bool   `json:"no_data"`
}

type torch2Manifest map[string]struct {
	Format    string                  `json:"format"`
	Tensors   map[string]torch2Tensor `json:"tensors"`
	Values    map[string]any          `json:"values"`
	Constants []torch2Tensor          `json:"constants"`
	Error     string                  `json:"error"`
	QSchemes  map[string]string       `json:"qschemes"`  // the qscheme of each quantized tensor
	Coalesced map[string]bool         `json:"coalesced"` // is_coalesced() of each sparse_coo tensor, by top-level key
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkTensor compares a tensor with its manifest entry through every reading path:
// Bytes, WriteTo, Span, Float64s and Float32s.
func checkTensor(t *testing.T, name string, g *Tensor, w torch2Tensor) {
	t.Helper()
	if string(g.DType) != w.DType {
		t.Errorf("%s: dtype %s, want %s", name, g.DType, w.DType)
	}
	if !reflect.DeepEqual(append([]int{}, g.Shape...), append([]int{}, w.Shape...)) {
		t.Errorf("%s: shape %v, want %v", name, g.Shape, w.Shape)
	}
	b, err := g.Bytes()
	if w.NoData {
		if !errors.Is(err, ErrNoData) {
			t.Errorf("%s: Bytes error %v, want ErrNoData", name, err)
		}
		if _, err := g.Float32s(); !errors.Is(err, ErrNoData) {
			t.Errorf("%s: Float32s error %v, want ErrNoData", name, err)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if got := sum(b); got != w.SHA256 {
		t.Errorf("%s: sha256 of Bytes %s, want %s", name, got, w.SHA256)
	}
	var buf bytes.Buffer
	if n, err := g.WriteTo(&buf); err != nil || n != int64(len(b)) || !bytes.Equal(buf.Bytes(), b) {
		t.Errorf("%s: WriteTo wrote %d bytes (%v), not what Bytes returns", name, n, err)
	}
	if src, off, n, ok := g.Span(); ok {
		raw := make([]byte, n)
		if _, err := src.ReadAt(raw, off); err != nil || !bytes.Equal(raw, b) {
			t.Errorf("%s: the span's bytes are not the tensor's (%v)", name, err)
		}
		if g.Conj || g.Neg {
			t.Errorf("%s: a span for a tensor with a lazy bit", name)
		}
	}
	f64, err64 := g.Float64s()
	f32, err32 := g.Float32s()
	if (err64 == nil) != (err32 == nil) {
		t.Errorf("%s: Float64s error %v but Float32s error %v", name, err64, err32)
	}
	if w.Float64SHA256 != "" {
		if err64 != nil {
			t.Errorf("%s: Float64s: %v", name, err64)
			return
		}
		raw := make([]byte, 0, 8*len(f64))
		for _, v := range f64 {
			bits := math.Float64bits(v)
			if math.IsNaN(v) {
				bits = 0x7ff8000000000000 // NaNs compare as NaN, whatever their sign and payload
			}
			raw = binary.LittleEndian.AppendUint64(raw, bits)
		}
		if got := sum(raw); got != w.Float64SHA256 {
			t.Errorf("%s: sha256 of Float64s %s, want %s (%v)", name, got, w.Float64SHA256, f64)
		}
	}
	if err64 == nil && g.DType != I64 && g.DType != U64 {
		for i := range f64 {
			if math.Float32bits(float32(f64[i])) != math.Float32bits(f32[i]) && !(math.IsNaN(f64[i]) && math.IsNaN(float64(f32[i]))) {
				t.Errorf("%s[%d]: Float32s %v, Float64s %v", name, i, f32[i], f64[i])
				break
			}
		}
	}
}

func TestTorch2Fixtures(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pickle", "torch2")
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m torch2Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		want := m[name]
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join(dir, name), nil)
			if want.Error != "" {
				var fe *FormatError
				if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), want.Error) || !strings.Contains(err.Error(), name) {
					t.Fatalf("error %v, want a *FormatError naming the file and containing %q", err, want.Error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if string(f.Format) != want.Format {
				t.Errorf("format %q, want %q", f.Format, want.Format)
			}
			leaves, err := Leaves(f.Root)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]*Tensor{}
			values := map[string]any{}
			for _, l := range leaves {
				if _, dup := got[l.Name]; dup {
					t.Errorf("leaf %q appears twice", l.Name)
				}
				switch v := l.Value.(type) {
				case *Tensor:
					got[l.Name] = v
				case nil, bool, int64, *big.Int, float64, string:
					values[l.Name] = v
				case Global:
					values[l.Name] = v.String()
				default:
					t.Errorf("leaf %q is a %T", l.Name, v)
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
				t.Fatalf("tensors:\n got %q\nwant %q", gotNames, wantNames)
			}
			for _, n := range wantNames {
				checkTensor(t, n, got[n], want.Tensors[n])
			}
			checkValues(t, values, want.Values)
			for n, scheme := range want.QSchemes {
				if q := got[n].Quantization; q == nil || q.Scheme != scheme {
					t.Errorf("%s: quantization %+v, want scheme %s", n, q, scheme)
				}
			}
			for n, c := range want.Coalesced {
				d, _ := f.Root.(*Dict)
				v, _ := d.Get(n)
				if st, ok := v.(*SparseTensor); !ok || st.Coalesced != c {
					t.Errorf("%s: %#v, want a sparse tensor with Coalesced %v", n, v, c)
				}
			}
			if want.Constants != nil {
				c, ok := f.Constants.(Tuple)
				if !ok || len(c) != len(want.Constants) {
					t.Fatalf("constants %#v, want %d tensors", f.Constants, len(want.Constants))
				}
				for i, w := range want.Constants {
					ct, ok := c[i].(*Tensor)
					if !ok {
						t.Fatalf("constant %d is %T", i, c[i])
					}
					checkTensor(t, "constant", ct, w)
				}
			}
		})
	}
}

// TestWriteLazyBits writes tensors with lazy bits with Write and reads them back:
// the values survive (the bits are applied to the written storages), and a storage
// seen with and without a bit is written both ways.
func TestWriteLazyBits(t *testing.T) {
	f, err := Open(filepath.Join("..", "testdata", "pickle", "torch2", "lazy_bits.pt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if err := Write(&buf, f.Root, nil); err != nil {
		t.Fatal(err)
	}
	g, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, got := leafTensors(t, f.Root), leafTensors(t, g.Root)
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("%d tensors written back, want %d", len(got), len(want))
	}
	for name, w := range want {
		if !bytes.Equal(mustBytes(t, got[name]), mustBytes(t, w)) {
			t.Errorf("%s: written back with other values", name)
		}
		if got[name].Conj || got[name].Neg {
			t.Errorf("%s: written with a lazy bit", name)
		}
	}
	if got["conj_c64"].Storage == got["not_conj"].Storage {
		t.Error("the conjugated and the plain view share one written storage")
	}
}

// TestWriteRefuses: what torch.save cannot write is refused by Write, naming it: one
// storage viewed as a typed storage (F32) and as an UntypedStorage (U16), a bare storage
// of a dtype without a storage class, a quantized tensor whose integers are not those of
// its quantized dtype.
func TestWriteRefuses(t *testing.T) {
	data := make([]byte, 16)
	s, err := NewStorage(U8, data)
	if err != nil {
		t.Fatal(err)
	}
	f32 := &Tensor{DType: F32, Shape: []int{4}, Storage: s}
	u16 := &Tensor{DType: U16, Shape: []int{8}, Storage: s}
	s16, err := NewStorage(U16, data)
	if err != nil {
		t.Fatal(err)
	}
	q := &Tensor{DType: I32, Shape: []int{4}, Storage: s, Quantization: &Quantization{DType: "qint8", Scheme: "per_tensor_affine", Scale: 1}}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"typed_untyped", List{f32, u16}, "storage is viewed both as F32 and as U16 (an UntypedStorage)"},
		{"bare_u16", s16, "torch.save writes no typed storage of U16"},
		{"qint8_as_i32", q, "a quantized tensor of torch.qint8 holds I32 integers"},
	} {
		err := Write(io.Discard, &Dict{Entries: []DictEntry{{Key: tc.name, Value: tc.v}}}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: error %v, want one naming it and saying %q", tc.name, err, tc.want)
		}
	}
}

// TestWriteUntypedStorage: tensors of dtypes without a storage class share one
// UntypedStorage with each other and with a U8 view (a ByteStorage), as torch.save
// writes them, and read back as the same views of one storage.
func TestWriteUntypedStorage(t *testing.T) {
	data := make([]byte, 64)
	for i := range data {
		data[i] = byte(3*i + 1)
	}
	s, err := NewStorage(U8, data)
	if err != nil {
		t.Fatal(err)
	}
	root := &Dict{Entries: []DictEntry{
		{Key: "u16", Value: &Tensor{DType: U16, Shape: []int{3, 4}, Strides: []int{4, 1}, Offset: 2, Storage: s}},
		{Key: "u8", Value: &Tensor{DType: U8, Shape: []int{8}, Strides: []int{2}, Storage: s}},
		{Key: "f8", Value: &Tensor{DType: F8E4M3, Shape: []int{2, 8}, Strides: []int{1, 2}, Offset: 40, Storage: s}},
		{Key: "u64", Value: &Tensor{DType: U64, Shape: []int{4}, Strides: []int{1}, Offset: 3, Storage: s}},
	}}
	g, b := writeReread(t, root, nil)
	defer g.Close()
	_, recs, _ := writtenRecords(t, b)
	pkl := recs["archive/data.pkl"]
	for _, want := range []string{"torch._utils\n_rebuild_tensor_v3", "torch.storage\nUntypedStorage", "torch\nByteStorage", "torch\nfloat8_e4m3fn"} {
		if !bytes.Contains(pkl, []byte(want)) {
			t.Errorf("data.pkl has no %s", want)
		}
	}
	if len(recs) != 4 { // data.pkl, byteorder, data/0, version
		t.Errorf("%d records, want one storage", len(recs))
	}
	want, got := leafTensors(t, root), leafTensors(t, g.Root)
	var first *Storage
	for name, w := range want {
		gt := got[name]
		if gt == nil {
			t.Fatalf("%s not written", name)
		}
		if gt.DType != w.DType || !reflect.DeepEqual(gt.Shape, w.Shape) || !reflect.DeepEqual(gt.Strides, w.Strides) || gt.Offset != w.Offset {
			t.Errorf("%s: %s %v %v %d, want %s %v %v %d", name, gt.DType, gt.Shape, gt.Strides, gt.Offset, w.DType, w.Shape, w.Strides, w.Offset)
		}
		if !bytes.Equal(mustBytes(t, gt), mustBytes(t, w)) {
			t.Errorf("%s: other bytes", name)
		}
		if first == nil {
			first = gt.Storage
		} else if gt.Storage != first {
			t.Errorf("%s: not on the one storage", name)
		}
	}
}

// TestDTensorRefused: a DTensor, pickled by torch 2.x as
// _rebuild_from_type_v2(_rebuild_wrapper_subclass, DTensor, (DTensor, dtype, size,
// stride, offset, layout, device, requires_grad), state) with its local tensor in the
// state, is refused in every mode, naming what is refused; so is a bare wrapper
// subclass. Nothing is dropped silently.
func TestDTensorRefused(t *testing.T) {
	wrapper := func(cls string) []byte {
		p := newPK(2).op(opEMPTYDICT).str("w").global("torch._tensor", "_rebuild_from_type_v2").op(opMARK).
			global("torch._utils", "_rebuild_wrapper_subclass")
		if cls != "" {
			mod, name := cls[:strings.LastIndexByte(cls, '.')], cls[strings.LastIndexByte(cls, '.')+1:]
			p.global(mod, name).op(opMARK).global(mod, name)
		} else {
			p.global("torch", "Tensor").op(opMARK).global("torch", "Tensor")
		}
		p.global("torch", "float32").ints([]int64{4}).ints([]int64{1}).int(0).global("torch", "strided").str("cpu").boolean(false).
			op(opTUPLE).op(opNONE).op(opTUPLE, opREDUCE, opSETITEM)
		return p.stop()
	}
	for _, tc := range []struct{ cls, want string }{
		{"torch.distributed.tensor.DTensor", "torch.distributed.tensor.DTensor"},
		{"", "keeps no data of its own"},
	} {
		for _, allow := range []bool{false, true} {
			data := zipFile(t, "archive/", record{name: "data.pkl", data: wrapper(tc.cls)})
			_, err := load(t, data, &Options{AllowObjects: allow})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q, AllowObjects %v: error %v, want one containing %q", tc.cls, allow, err, tc.want)
			}
		}
	}
}

// TestLeafParts: the leaves of a quantized, sparse or nested tensor name the tensor
// they are parts of, and which part; other leaves name none.
func TestLeafParts(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pickle", "torch2")
	for _, tc := range []struct {
		file string
		want map[string][2]string // leaf -> (the composite's top-level key, part); "" for none
	}{
		{"sparse.pt", map[string][2]string{"coo.layout": {"coo", "layout"}, "coo.size.1": {"coo", "size"},
			"coo.indices": {"coo", "indices"}, "csr.crow_indices": {"csr", "crow_indices"}, "csr.values": {"csr", "values"},
			"dense": {}}},
		{"quantized.pt", map[string][2]string{"per_channel_axis0.scale": {"per_channel_axis0", "scale"},
			"per_channel_axis0.axis": {"per_channel_axis0", "axis"}, "per_tensor_qint8.zero_point": {"per_tensor_qint8", "zero_point"},
			"per_tensor_qint8": {}, "float": {}}},
		{"nested.pt", map[string][2]string{"nested.storage_offsets": {"nested", "storage_offsets"}, "nested.values": {"nested", "values"}}},
	} {
		f, err := Open(filepath.Join(dir, tc.file), nil)
		if err != nil {
			t.Fatal(err)
		}
		leaves, err := Leaves(f.Root)
		if err != nil {
			t.Fatal(err)
		}
		root := f.Root.(*Dict)
		seen := 0
		for _, l := range leaves {
			w, ok := tc.want[l.Name]
			if !ok {
				continue
			}
			seen++
			var of any
			if w[0] != "" {
				of, _ = root.Get(w[0])
			}
			if l.Of() != of || l.Part() != w[1] {
				t.Errorf("%s %s: part %q of %T, want %q of %s", tc.file, l.Name, l.Part(), l.Of(), w[1], w[0])
			}
		}
		if seen != len(tc.want) {
			t.Errorf("%s: %d of the %d leaves looked for", tc.file, seen, len(tc.want))
		}
		f.Close()
	}
}

// TestStrictTorch2 reads the files laid out as torch 2.x writes them with
// Options.Strict. What torch.load(weights_only=True) accepts follows the
// _get_allowed_globals of torch/_weights_only_unpickler.py at pytorch/pytorch
// commit 00f730b66e58769f9698d9236f58cd46c3794115 (torch 1.13 cannot judge
// them): torch.storage.UntypedStorage and the new dtypes are allowed,
// _rebuild_nested_tensor and _rebuild_sparse_csr_tensor are not.
func TestStrictTorch2(t *testing.T) {
	for name, refused := range map[string]string{
		"dtypes_v3.pt":      "",
		"complex32_bits.pt": "",
		"sparse_torch2.pt":  "",
		"meta.pt":           "",
		"nested.pt":         "torch._utils._rebuild_nested_tensor",
		"sparse.pt":         "torch._utils._rebuild_sparse_csr_tensor",
	} {
		f, err := Open(filepath.Join("..", "testdata", "pickle", "torch2", name), &Options{Strict: true})
		if err == nil {
			f.Close()
		}
		var ue *UnsafeGlobalError
		switch {
		case refused == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case refused != "" && (!errors.As(err, &ue) || ue.Reason != ReasonStrict || ue.Resolved != refused):
			t.Errorf("%s: error %v, want weights_only's refusal of %s", name, err, refused)
		}
	}
}
