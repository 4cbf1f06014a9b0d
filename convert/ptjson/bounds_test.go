package ptjson

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/convert/internal/limittest"
	"github.com/ptport/ptport/pickle"
)

func TestReadRefuses(t *testing.T) {
	doc := func(dtype, data string) string {
		return `{"tensors": [{"name": "x", "dtype": "` + dtype + `", "shape": [1], "data": [` + data + `]}]}`
	}
	for _, tc := range []struct{ doc, want string }{
		{doc("U8", "300"), "300 is outside the range of U8, [0, 255]"},
		{doc("U8", "-1"), "outside the range of U8"},
		{doc("I8", "128"), "outside the range of I8"},
		{doc("I16", "-32769"), "outside the range of I16"},
		{doc("I32", "2147483648"), "outside the range of I32"},
		{doc("I64", "9223372036854775808"), "9223372036854775808 is outside the range of I64, [-9223372036854775808, 9223372036854775807]"},
		{doc("I64", "-9223372036854775809"), "outside the range of I64"},
		{doc("F32", "1e39"), "1e39 is outside the range of F32, [-3.4028235e+38, 3.4028235e+38]"},
		{doc("F32", "-3.5e38"), "outside the range of F32"},
		{doc("F16", "70000"), "70000 is outside the range of F16"},
		{doc("BF16", "1e39"), "outside the range of BF16"},
		{doc("F64", "1e309"), "outside the range of F64"},
		{doc("C64", "[1, 1e39]"), "outside the range of F32"},
		{`{"tensors": [], "values": {"a": {"numpy.float32": 1e39}}}`, "outside the range of F32"},
		// Two entries of one name: which did the writer mean?
		{`{"tensors": [{"name": "a", "dtype": "F32", "shape": [1], "data": [1]}, {"name": "a", "dtype": "F32", "shape": [1], "data": [2]}]}`,
			`"a": the file holds two tensors of this name; ptport does not guess`},
		{`{"tensors": [{"name": "a", "dtype": "F32", "shape": [1], "data": [1]}], "values": {"a": 5}}`, `"a": the file holds a tensor and a value of this name`},
		{`{"tensors": [], "values": {"a": 5, "a": 6}}`, `"a": the file holds two values of this name`},
		{`{"tensors": [], "values": {"a": {"b": 1, "b": 2}}}`, `two members named "b" in one object`},
		{`{"tensors": [], "tensors": []}`, `a second "tensors" member`},
		{`{"note": "a", "note": "b", "tensors": []}`, `a second "note" member`},
		{`{"tensors": [{"name": "a", "dtype": "F32", "dtype": "I32", "shape": [1], "data": [1]}]}`, `tensor "a": two "dtype" members: ptport does not guess`},
		{`{"tensors": [{"name": "a", "dtype": "F32", "shape": [1], "data": [1], "data": [2]}]}`, `tensor "a": two "data" members`},
		{`{"tensors": [{"name": "a", "dtype": "F32", "shape": [2], "shape": [1], "data": [1]}]}`, `tensor "a": two "shape" members`},
		{`{"tensors": [{"name": "a", "name": "b", "dtype": "F32", "shape": [1], "data": [1]}]}`, `tensor "a": two "name" members`},
		{`{"tensors": [{"name": "a", "n\u0061me": "b", "dtype": "F32", "shape": [1], "data": [1]}]}`, `tensor "a": two "name" members`},
		{`{"tensors": [{"name": "a", "dtype": "F32", "dtype": "F32", "shape": [1], "data": [1]}]}`, `tensor "a": two "dtype" members`},
		{`{"tensors": [{"name": "a", "dtype": "F32", "shape": [2], "strides": [1], "data": [1, 2]}]}`, `tensor "a": a member "strides": a tensor of ptport's JSON format has only name, dtype, shape and data`},
		{`{"tensors": [], "values": {}, "values": {}}`, `a second "values" member`},
		{`{"tensors": [{"name": "a.b", "dtype": "F32", "shape": [1], "data": [1]}], "values": {"a": {"b": 1}}}`,
			`"a.b": two leaves have this name (a name holding a dot is also the path of the value nested in the leaf "a"`},
		{doc("I32", "1.5"), "not an integer of I32"},
		{doc("U16", "1"), `dtype "U16" is not one`},
		{doc("BOOL", "1"), "not a boolean"},
		{doc("F32", `"x"`), "not a number"},
		{doc("C64", "[1]"), "[real, imag] pair"},
		{doc("F32", "1, 2"), "more than the 1 elements"},
		{`{"tensors": [{"name": "x", "data": [1], "dtype": "F32", "shape": [1]}]}`, "data before dtype and shape"},
		{`{"tensors": [{"name": "x", "dtype": "F32", "shape": [1099511627776, 1099511627776], "data": []}]}`, "holds more elements than"},
		{`{"values": {}}`, `no "tensors" array`},
	} {
		_, err := Read("in.json", strings.NewReader(tc.doc), int64(len(tc.doc)))
		var fe *pickle.FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want a *pickle.FormatError mentioning %q", tc.doc, err, tc.want)
		}
	}
	// What came from the file is quoted in an error at most 40 bytes long.
	long := strings.Repeat("7", 1<<20)
	for _, tc := range []struct{ doc, want string }{
		{doc("BOOL", `"`+long+`"`), `"` + long[:40] + `"... is not a boolean`},
		{doc("I32", long), long[:40] + `... is outside the range of I32`},
		{doc("I32", long+".5"), long[:40] + `... is not an integer of I32`},
		{doc("F32", long), long[:40] + `... is outside the range of F32`},
		{doc("F32", `"NaN:0x`+long+`"`), `"NaN:0x` + long[:34] + `"... is not a NaN of F32`},
		{doc(long, "1"), `dtype "` + long[:40] + `"... is not one`},
		{`{"tensors": [{"name": "x", "dtype": "F32", "shape": [1], "data": "` + long + `"}]}`, `found "` + long[:40] + `"... where [ belongs`},
		{`{"tensors": [], "values": {"a": {"builtins.float": "` + long + `"}}}`, `builtins.float: "` + long[:40] + `"... is not a number`},
	} {
		_, err := Read("in.json", strings.NewReader(tc.doc), int64(len(tc.doc)))
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 500 {
			t.Errorf("error %.600q, want one of at most 500 bytes mentioning %.100q", err, tc.want)
		}
	}
	ok := doc("U8", "255") + " "
	if l, err := Read("in.json", strings.NewReader(ok), int64(len(ok))); err != nil || len(l) != 1 {
		t.Errorf("U8 255: %v", err)
	}
}

// TestMembers: the document's members other than tensors and values (its metadata) are
// not tensors; a tensor's member of a name other than name, dtype, shape and data is
// refused; no object holds a name twice, and ReadMetadata refuses a metadata key given
// twice.
func TestMembers(t *testing.T) {
	doc := `{"note": "n", "other": [1, {"x": 2}], "tensors": [{"name": "a", "dtype": "I32", "shape": [2], "data": [1, 2]}]}`
	l, err := Read("in.json", strings.NewReader(doc), int64(len(doc)))
	if err != nil || len(l) != 1 || l[0].Name != "a" || l[0].Value.(*pickle.Tensor).DType != pickle.I32 {
		t.Errorf("metadata members: %v, %v; want the I32 tensor a alone", l, err)
	}
	extra := `{"tensors": [{"name": "a", "comment": "c", "dtype": "I32", "shape": [2], "data": [1, 2]}]}`
	var fe0 *pickle.FormatError
	if _, err := Read("in.json", strings.NewReader(extra), int64(len(extra))); !errors.As(err, &fe0) || !strings.Contains(err.Error(), `a member "comment"`) {
		t.Errorf("a tensor with a member \"comment\": %v, want a *pickle.FormatError naming it", err)
	}
	dup := `{"note": "a", "note": "b", "tensors": []}`
	_, err = ReadMetadata("in.json", strings.NewReader(dup), int64(len(dup)))
	var fe *pickle.FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `a second "note" member`) {
		t.Errorf("ReadMetadata of a key given twice: %v, want a *pickle.FormatError naming it", err)
	}
}

func TestReadStreams(t *testing.T) {
	// A million float64 zeros: 2 MiB of document, 8 MiB of tensor.
	const n = 1 << 20
	doc := `{"tensors": [{"name": "x", "dtype": "F64", "shape": [` + "1048576" + `], "data": [0` + strings.Repeat(",0", n-1) + `]}]}`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	leaves, err := Read("big.json", strings.NewReader(doc), int64(len(doc)))
	runtime.GC()
	runtime.ReadMemStats(&after)
	if err != nil || len(leaves) != 1 {
		t.Fatal(err)
	}
	// The tensor's 8 MiB, and the slack of the slice that grew to hold them.
	if live := int64(after.HeapAlloc) - int64(before.HeapAlloc); live > 20<<20 {
		t.Errorf("reading a document of %d bytes holds %d bytes", len(doc), live)
	}
	runtime.KeepAlive(leaves)
}

// TestSizeLimit writes the largest document the limit allows, which reads back, and
// refuses a byte more: before writing anything when the tensors' headers and element
// counts and the values show it, else as soon as the bytes written pass the limit. The
// limit is lowered so that the documents stay small.
func TestSizeLimit(t *testing.T) {
	defer func(m int64) { maxSize = m }(maxSize)
	maxSize = 4096
	// Zeros take their shortest form: the size is known before writing.
	zeros, err := pickle.NewTensor(pickle.I64, []int{100}, make([]byte, 800))
	if err != nil {
		t.Fatal(err)
	}
	write := func(x *pickle.Tensor, n int) ([]byte, error) {
		var buf bytes.Buffer
		err := Write(&buf, []pickle.Leaf{{Name: "w", Value: x}, {Name: "vocab", Value: strings.Repeat("x", n)}}, nil)
		return buf.Bytes(), err
	}
	n, doc := limittest.Boundary(t, int(maxSize), maxSize, func(n int) ([]byte, error) { return write(zeros, n) }, func(doc []byte, n int) error {
		leaves, err := Read("max.json", bytes.NewReader(doc), int64(len(doc)))
		if err == nil && leaves[len(leaves)-1].Value != strings.Repeat("x", n) {
			err = errors.New("another value read back")
		}
		return err
	})
	if int64(len(doc)) != maxSize {
		t.Errorf("largest document written has %d bytes, want %d", len(doc), maxSize)
	}
	var tl *leaf.TooLargeError
	// 2000 elements take at least 5998 bytes: refused before any byte.
	many, err := pickle.NewTensor(pickle.U8, []int{2000}, make([]byte, 2000))
	if err != nil {
		t.Fatal(err)
	}
	if over, err := write(many, 0); !errors.As(err, &tl) || len(over) != 0 || tl.Size < 5998 {
		t.Errorf("2000 elements: error %v after %d bytes, want a *leaf.TooLargeError before any byte", err, len(over))
	}
	// 400 float32s of 1/3 take about 5 KiB, though their shortest form takes 1.2 KiB:
	// refused as the bytes written pass the limit.
	third := make([]byte, 0, 1600)
	for range 400 {
		third = binary.LittleEndian.AppendUint32(third, math.Float32bits(1.0/3))
	}
	long, err := pickle.NewTensor(pickle.F32, []int{400}, third)
	if err != nil {
		t.Fatal(err)
	}
	if over, err := write(long, 0); !errors.As(err, &tl) || int64(len(over)) > maxSize {
		t.Errorf("400 long floats: error %v after %d bytes, want a *leaf.TooLargeError within the limit", err, len(over))
	}
	maxSize = MaxSize
	big, err := write(zeros, n+1)
	if err != nil {
		t.Fatal(err)
	}
	maxSize = 4096
	if _, err := Read("big.json", bytes.NewReader(big), int64(len(big))); err == nil || !strings.Contains(err.Error(), "4097 bytes is more than the 4096 (4 KiB)") {
		t.Errorf("document over the limit: error %v, want one naming the limit", err)
	}
}
