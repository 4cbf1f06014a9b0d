package ptjson

import (
	"errors"
	"runtime"
	"strings"
	"testing"

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
		{doc("I64", "9223372036854775808"), "not an integer of I64"},
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
		{doc("I32", long), long[:40] + `... is not an integer of I32`},
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
