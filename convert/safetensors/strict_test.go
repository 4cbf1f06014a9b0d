package safetensors

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// TestStrict: Read refuses what the safetensors crate refuses (its Metadata::validate
// and read_metadata): tensors that leave bytes of the data section uncovered, before,
// between or after them; a header that is not UTF-8, or escapes half a surrogate pair;
// and, as a file holding two entries of one name is ambiguous, two members of one key
// (in the header ptport parses itself and in one it leaves to encoding/json) or a tensor
// and a value of one name. Each error says what is wrong, where.
func TestStrict(t *testing.T) {
	nest := strings.Repeat("[", 1001) + strings.Repeat("]", 1001)
	const a8 = `"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`
	for _, tc := range []struct {
		what, hdr string
		data      int
		want      string
	}{
		{"gap", `{` + a8 + `,"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}`, 16,
			`the 4 bytes [8, 12) of the data section between tensors "a" and "b" are no tensor's`},
		{"leading gap", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12,
			`the first 4 bytes of the data section are no tensor's: the first tensor, "a", begins at 4`},
		{"trailing bytes", `{` + a8 + `}`, 16, `8 bytes after the data of the last tensor, "a", which ends at 8 of the 16-byte data section`},
		{"data and no tensor", `{"__metadata__":{"k":"v"}}`, 8, "the data section of 8 bytes holds no tensor"},
		{"overlap", `{` + a8 + `,"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8, `tensors "a" and "b" overlap`},
		{"duplicate key", `{` + a8 + `,"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, 16, `two members named "a"`},
		{"duplicate key, deep", `{"x":` + nest + `,"x":` + nest + `}`, 0, `two members named "x"`},
		{"invalid UTF-8", "{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "safetensors header: not valid UTF-8 (at byte 3 of"},
		{"invalid UTF-8 in metadata", "{\"__metadata__\":{\"k\":\"\xfe\"}}", 0, "not valid UTF-8"},
		{"lone high surrogate", `{"a\ud800":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8, `the escape \ud800, half of a UTF-16 surrogate pair`},
		{"lone low surrogate", `{"__metadata__":{"k":"\uDC00\ud800"}}`, 0, `the escape \uDC00`},
		{"tensor and value", `{"__metadata__":{"ptport.values":"{\"a\":1}"},` + a8 + `}`, 8,
			`"a": the file holds a tensor and a value of this name; ptport does not guess which one is meant`},
	} {
		file := fileOf(tc.hdr, make([]byte, tc.data))
		_, err := Read(tc.what, bytes.NewReader(file), int64(len(file)))
		var fe *pickle.FormatError
		if !errors.As(err, &fe) || fe.File != tc.what || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a *pickle.FormatError: ...%s", tc.what, err, tc.want)
		}
	}
	// What the crate takes, ptport takes: a surrogate pair, an escaped backslash before
	// "u", empty tensors anywhere, and no data at all.
	for _, tc := range []struct {
		what, hdr string
		data      int
		names     []string
	}{
		{"surrogate pair", `{"\ud83d\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1, []string{"\U0001F600"}},
		{"escaped backslash", `{"a\\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1, []string{`a\ud800`}},
		{"empty tensors", `{"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},` + a8 + `,"y":{"dtype":"I64","shape":[0,3],"data_offsets":[8,8]}}`, 8, []string{"z", "a", "y"}},
		{"nothing", `{}`, 0, nil},
	} {
		file := fileOf(tc.hdr, make([]byte, tc.data))
		leaves, err := Read(tc.what, bytes.NewReader(file), int64(len(file)))
		var names []string
		for _, l := range leaves {
			names = append(names, l.Name)
		}
		if err != nil || strings.Join(names, "|") != strings.Join(tc.names, "|") {
			t.Errorf("%s: %q, %v; want %q", tc.what, names, err, tc.names)
		}
	}
}

// TestEmptyTensorsRoundTrip: a file Write wrote reads back whatever the names of its
// empty tensors, which share an offset with the tensor after them.
func TestEmptyTensorsRoundTrip(t *testing.T) {
	empty, _ := pickle.NewTensor(pickle.F32, []int{0}, nil)
	one, _ := pickle.NewTensor(pickle.F32, []int{1}, make([]byte, 4))
	var buf bytes.Buffer
	if err := Write(&buf, []pickle.Leaf{{Name: "b", Value: empty}, {Name: "a", Value: one}, {Name: "c", Value: empty}}, nil); err != nil {
		t.Fatal(err)
	}
	leaves, err := Read("empty.safetensors", bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil || len(leaves) != 3 || leaves[0].Name != "b" || leaves[1].Name != "a" || leaves[2].Name != "c" {
		t.Errorf("read back %v, %v; want b, a, c", leaves, err)
	}
}
