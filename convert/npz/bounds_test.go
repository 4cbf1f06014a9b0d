package npz

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/convert/internal/limittest"
	"github.com/ptport/ptport/pickle"
)

func tensor(t testing.TB, n int) *pickle.Tensor {
	tt, err := pickle.NewTensor(pickle.F32, []int{n}, make([]byte, 4*n))
	if err != nil {
		t.Fatal(err)
	}
	return tt
}

func TestWriteNames(t *testing.T) {
	x := tensor(t, 2)
	for _, tc := range []struct {
		leaves []pickle.Leaf
		meta   map[string]string
		want   string
	}{
		{[]pickle.Leaf{{Name: "__metadata__", Value: x}, {Name: "epoch", Value: int64(1)}}, nil, "writes a member of this name itself"},
		{[]pickle.Leaf{{Name: "__note__", Value: x}}, map[string]string{"note": "n"}, "writes a member of this name itself"},
		{[]pickle.Leaf{{Name: "../../x", Value: x}}, nil, `".."`},
		{[]pickle.Leaf{{Name: "/etc/x", Value: x}}, nil, "absolute path"},
		{[]pickle.Leaf{{Name: "a//b", Value: x}}, nil, `""`},
		{[]pickle.Leaf{{Name: `a\b`, Value: x}}, nil, "may not hold"},
		{[]pickle.Leaf{{Name: "a\x00", Value: x}}, nil, "may not hold"},
		{[]pickle.Leaf{{Name: "a/./b", Value: x}}, nil, `the folder "." would be extracted as the folder it is in`},
		{[]pickle.Leaf{{Name: "./b", Value: x}}, nil, `the folder "."`},
		{[]pickle.Leaf{{Name: "a/../b", Value: x}}, nil, `".." would be extracted outside the archive's folder`},
	} {
		var buf bytes.Buffer
		err := Write(&buf, tc.leaves, tc.meta)
		var ne *leaf.NameError
		if !errors.As(err, &ne) || !strings.Contains(err.Error(), tc.want) || buf.Len() != 0 {
			t.Errorf("%q: error %v after %d bytes, want a *leaf.NameError mentioning %s before any byte", tc.leaves[0].Name, err, buf.Len(), tc.want)
		}
	}
	// Names with folders are fine; they are read back as they were.
	var buf bytes.Buffer
	if err := Write(&buf, []pickle.Leaf{{Name: "enc/layer.0", Value: x}, {Name: "__w__", Value: x}}, nil); err != nil {
		t.Fatal(err)
	}
	back, err := Read("x.npz", bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil || len(back) != 2 || back[0].Name != "enc/layer.0" || back[1].Name != "__w__" {
		t.Errorf("read back %v, %v", back, err)
	}
}

// deflatedNPZ returns an npz whose one member, a float32 array of n zeros, is
// deflated.
func deflatedNPZ(t testing.TB, n int) []byte {
	var stored bytes.Buffer
	if err := Write(&stored, []pickle.Leaf{{Name: "w", Value: tensor(t, n)}}, nil); err != nil {
		t.Fatal(err)
	}
	zr, _ := zip.NewReader(bytes.NewReader(stored.Bytes()), int64(stored.Len()))
	rc, _ := zr.File[0].Open()
	member, _ := io.ReadAll(rc)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(member)
	fw.Close()
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "w.npy", Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(member),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: uint64(len(member))})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return out.Bytes()
}

func TestLazyMembers(t *testing.T) {
	const n = 3 << 20 // 12 MiB of zeros, deflated
	data := deflatedNPZ(t, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	leaves, err := Read("z.npz", bytes.NewReader(data), int64(len(data)))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("Read of a deflated member of 12 MiB allocated %d bytes", alloc)
	}
	tt := leaves[0].Value.(*pickle.Tensor)
	if tt.NumBytes() != 4*n {
		t.Fatalf("%v", tt.Shape)
	}
	runtime.ReadMemStats(&before)
	if _, err := tt.WriteTo(io.Discard); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("streaming the member allocated %d bytes", alloc)
	}
}

func TestOverlappingMembers(t *testing.T) {
	x := tensor(t, 4)
	var buf bytes.Buffer
	if err := Write(&buf, []pickle.Leaf{{Name: "a", Value: x}, {Name: "b", Value: x}}, nil); err != nil {
		t.Fatal(err)
	}
	z := buf.Bytes()
	// Point b's directory entry at a's local header.
	cd := bytes.Index(z, []byte("PK\x01\x02"))
	i := cd + bytes.Index(z[cd:], []byte("b.npy")) - 46
	copy(z[i+42:i+46], []byte{0, 0, 0, 0})
	_, err := Read("x.npz", bytes.NewReader(z), int64(len(z)))
	var fe *pickle.FormatError
	if !errors.As(err, &fe) || fe.File != "x.npz" || !strings.Contains(err.Error(), "overlapping records") {
		t.Errorf("members sharing their bytes: error %v", err)
	}
}

func TestInflateLimit(t *testing.T) {
	data := deflatedNPZ(t, 8<<20) // 32 MiB of zeros in some 32 KiB
	_, err := Read("bomb.npz", bytes.NewReader(data), int64(len(data)))
	var fe *pickle.FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "more than the limit of 16777216 bytes") {
		t.Errorf("an npz inflating 1000 times its size: %v", err)
	}
}

// TestDTypesRecord checks the record of widened dtypes: Write makes one for BF16 only,
// ReadMetadata does not list it, a tensor may not take its name, and Read refuses a
// record that does not fit the arrays it names.
func TestDTypesRecord(t *testing.T) {
	bf16, err := pickle.NewTensor(pickle.BF16, []int{2}, []byte{0x80, 0x3f, 0xff, 0xff}) // 1, a NaN
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, []pickle.Leaf{{Name: "w", Value: bf16}, {Name: "x", Value: tensor(t, 1)}}, map[string]string{"note": "n"}); err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(buf.Bytes())
	if meta, err := ReadMetadata("a.npz", r, r.Size()); err != nil || len(meta) != 1 || meta["note"] != "n" {
		t.Errorf("metadata %v, %v; want only the note", meta, err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("__dtypes__.npy")) {
		t.Errorf("no __dtypes__ member")
	}
	if err := Write(io.Discard, []pickle.Leaf{{Name: "__dtypes__", Value: tensor(t, 1)}}, nil); err == nil {
		t.Errorf("a tensor named __dtypes__ was written")
	}
	if err := Write(io.Discard, nil, map[string]string{"dtypes": "x"}); err == nil {
		t.Errorf("the metadata key dtypes was written")
	}

	// npzOf writes a float32 array w of the given bits and a record.
	npzOf := func(bits uint32, record string) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		e, _ := zw.CreateHeader(&zip.FileHeader{Name: "w.npy", Method: zip.Store})
		e.Write(npyHeader("<f4", []int{1}))
		e.Write([]byte{byte(bits), byte(bits >> 8), byte(bits >> 16), byte(bits >> 24)})
		if err := writeString(zw, dtypesMember, record); err != nil {
			t.Fatal(err)
		}
		zw.Close()
		return b.Bytes()
	}
	ok := npzOf(0x3f800000, `{"w": "BF16"}`)
	leaves, err := Read("ok.npz", bytes.NewReader(ok), int64(len(ok)))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := leaves[0].Value.(*pickle.Tensor).Bytes(); leaves[0].Value.(*pickle.Tensor).DType != pickle.BF16 || !bytes.Equal(got, []byte{0x80, 0x3f}) {
		t.Errorf("read as %v %x", leaves[0].Value.(*pickle.Tensor).DType, got)
	}
	for _, tc := range []struct {
		file []byte
		want string
	}{
		{npzOf(0x3f800001, `{"w": "BF16"}`), "is not a bfloat16 value"},
		{npzOf(0x3f800000, `{"w": "F16"}`), `tensor "w": recorded as F16, which ptport's npz writer never widens (it records BF16 tensors, stored as F32)`},
		{npzOf(0x3f800000, `{"v": "BF16"}`), `names a tensor that the file does not hold: "v"`},
		{npzOf(0x3f800000, `{"v": "BF16", "w": "BF16", "u": "BF16"}`), `names 2 tensors that the file does not hold, such as "u"`},
		{npzOf(0x3f800000, `["w"]`), "not a JSON object of dtypes"},
	} {
		_, err := Read("bad.npz", bytes.NewReader(tc.file), int64(len(tc.file)))
		var fe *pickle.FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want a *pickle.FormatError mentioning %q", err, tc.want)
		}
	}
}

// TestReservedMembers checks that the members Write writes itself are never tensors:
// a file whose __dtypes__ or __metadata__ is not a string array is refused, as Write
// refuses a tensor of either name, and that a record that does not fit its array says
// so in terms of the file, not of the package's functions.
func TestReservedMembers(t *testing.T) {
	npzOf := func(members ...string) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for _, m := range members {
			name, descr, _ := strings.Cut(m, ":")
			e, _ := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store})
			e.Write(npyHeader(descr, []int{1}))
			e.Write(make([]byte, 8))
		}
		zw.Close()
		return b.Bytes()
	}
	for _, tc := range []struct {
		file []byte
		want string
	}{
		{npzOf("w:<f4", "__dtypes__:<i8"), `member __dtypes__.npy: an array of <i8, where ptport's npz writer records the dtypes of the tensors it widened as a string; the name is reserved`},
		{npzOf("__metadata__:<f4"), `member __metadata__.npy: an array of <f4, where ptport's npz writer records the non-tensor values as a string; the name is reserved`},
	} {
		leaves, err := Read("bad.npz", bytes.NewReader(tc.file), int64(len(tc.file)))
		var fe *pickle.FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("read as %d leaves, error %v; want a *pickle.FormatError mentioning %q", len(leaves), err, tc.want)
		}
	}
	// A float64 array recorded as BF16.
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	e, _ := zw.CreateHeader(&zip.FileHeader{Name: "w.npy", Method: zip.Store})
	e.Write(npyHeader("<f8", []int{1}))
	e.Write(make([]byte, 8))
	if err := writeString(zw, dtypesMember, `{"w": "BF16"}`); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	_, err := Read("f64.npz", bytes.NewReader(b.Bytes()), int64(b.Len()))
	if want := `tensor "w": recorded as BF16, which ptport's npz writer stores as F32, but the array is F64`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
	if err := Write(io.Discard, []pickle.Leaf{{Name: "__dtypes__", Value: tensor(t, 1)}}, nil); err == nil || strings.Contains(err.Error(), "Write") {
		t.Errorf("a tensor named __dtypes__: %v", err)
	}
}

// TestStringLimit writes the largest string member the limit allows (the values, as
// UTF-32), which reads back, and refuses a character more before writing anything; the
// reader refuses a member over the limit, naming it. The limit is lowered so that the
// files stay small.
func TestStringLimit(t *testing.T) {
	defer func(m int64) { maxString = m }(maxString)
	maxString = 4096
	w := tensor(t, 2)
	write := func(n int) ([]byte, error) {
		var buf bytes.Buffer
		err := Write(&buf, []pickle.Leaf{{Name: "w", Value: w}, {Name: "vocab", Value: strings.Repeat("é", n)}}, nil)
		return buf.Bytes(), err
	}
	n, _ := limittest.Boundary(t, int(maxString), maxString, write, func(file []byte, n int) error {
		leaves, err := Read("max.npz", bytes.NewReader(file), int64(len(file)))
		if err == nil && leaves[len(leaves)-1].Value != strings.Repeat("é", n) {
			err = errors.New("another value read back")
		}
		return err
	})
	// {"vocab":"..."} in 4096 bytes, 4 a character.
	if want := int(maxString)/4 - len(`{"vocab":""}`); n != want {
		t.Errorf("largest value written has %d characters, want %d", n, want)
	}
	maxString = MaxString
	big, err := write(n + 1)
	if err != nil {
		t.Fatal(err)
	}
	maxString = 4096
	_, err = Read("big.npz", bytes.NewReader(big), int64(len(big)))
	if err == nil || !strings.Contains(err.Error(), "4100 bytes is more than the 4096 (4 KiB)") {
		t.Errorf("member over the limit: error %v, want one naming the limit", err)
	}
}

// TestLongNPYHeader writes a tensor of so many dimensions that its NPY header passes
// format 1.0's 16-bit length, and reads it back: it takes format 2.0, as NumPy's does.
func TestLongNPYHeader(t *testing.T) {
	shape := make([]int, 30000)
	for i := range shape {
		shape[i] = 1
	}
	x, err := pickle.NewTensor(pickle.F32, shape, make([]byte, 4))
	if err != nil {
		t.Fatal(err)
	}
	if h := npyHeader("<f4", shape); h[6] != 2 || len(h)%64 != 0 {
		t.Errorf("header of version %d and %d bytes, want version 2, a multiple of 64", h[6], len(h))
	}
	var buf bytes.Buffer
	if err := Write(&buf, []pickle.Leaf{{Name: "x", Value: x}}, nil); err != nil {
		t.Fatal(err)
	}
	leaves, err := Read("long.npz", bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if got := leaves[0].Value.(*pickle.Tensor).Shape; len(got) != len(shape) {
		t.Errorf("read back %d dimensions, want %d", len(got), len(shape))
	}
}

// TestNumPyNames reads the arrays that numpy.savez wrote under names whose last
// component is "", "." or ".." (testdata/names/gen.py), and writes them back under the
// member names NumPy gave them, which read back the same.
func TestNumPyNames(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "names", "names.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []struct {
		Name, Member string
		Values       []int64
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join("testdata", "names", "names.npz"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, file []byte) {
		leaves, err := Read("names.npz", bytes.NewReader(file), int64(len(file)))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(leaves) != len(want) {
			t.Fatalf("%s: %d leaves, want %d", what, len(leaves), len(want))
		}
		for i, l := range leaves {
			data, err := l.Value.(*pickle.Tensor).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for k := 0; k+8 <= len(data); k += 8 {
				got = append(got, int64(binary.LittleEndian.Uint64(data[k:])))
			}
			if l.Name != want[i].Name || !slices.Equal(got, want[i].Values) {
				t.Errorf("%s: leaf %d is %q %v, want %q %v", what, i, l.Name, got, want[i].Name, want[i].Values)
			}
		}
		zr, err := zip.NewReader(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range zr.File {
			if f.Name != want[i].Member {
				t.Errorf("%s: member %d is %q, want NumPy's %q", what, i, f.Name, want[i].Member)
			}
		}
	}
	check("NumPy's", file)
	leaves, err := Read("names.npz", bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, leaves, nil); err != nil {
		t.Fatalf("NumPy's names: %v", err)
	}
	check("written", buf.Bytes())
}
