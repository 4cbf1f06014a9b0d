package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert/internal/fuzzcheck"
	"github.com/ptport/ptport/pickle"
)

// TestEntryFields: a tensor's entry is read as the safetensors crate's TensorInfo is
// (serde's derive, without deny_unknown_fields): each of dtype, shape and data_offsets
// exactly once, a field given twice refused, naming the tensor and the field, where the
// last one was taken; fields matched by their exact names, after their escapes; members
// of other names ignored, however often they come. __metadata__ holds each key once.
func TestEntryFields(t *testing.T) {
	const rest = `"shape":[2],"data_offsets":[0,8]`
	for _, tc := range []struct{ what, entry, want string }{
		{"two dtypes", `{"dtype":"F32","dtype":"I32",` + rest + `}`, `tensor "a": two "dtype" fields: ptport does not guess which one is meant`},
		{"two shapes", `{"dtype":"F32","shape":[1],"shape":[2],"data_offsets":[0,8]}`, `tensor "a": two "shape" fields`},
		{"two offsets", `{"dtype":"F32",` + rest + `,"data_offsets":[0,8]}`, `tensor "a": two "data_offsets" fields`},
		{"two dtypes, one escaped", `{"dtype":"F32","d\u0074ype":"F32",` + rest + `}`, `tensor "a": two "dtype" fields`},
		{"no dtype", `{` + rest + `}`, `tensor "a": no "dtype" field`},
		{"dtype in capitals", `{"DTYPE":"F32",` + rest + `}`, `tensor "a": no "dtype" field`},
		{"no shape", `{"dtype":"F32","data_offsets":[0,8]}`, `tensor "a": no "shape" field`},
		{"no offsets", `{"dtype":"F32","shape":[2]}`, `tensor "a": no "data_offsets" field`},
		{"null shape", `{"dtype":"F32","shape":null,"data_offsets":[0,8]}`, `tensor "a": shape: null is not an array`},
		{"null dtype", `{"dtype":null,` + rest + `}`, `tensor "a": dtype null is not a string`},
		{"three offsets", `{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}`, `tensor "a": data_offsets: more than two offsets`},
		{"one offset", `{"dtype":"F32","shape":[2],"data_offsets":[8]}`, `tensor "a": data_offsets: 1 offsets, not two`},
		{"negative zero", `{"dtype":"F32","shape":[2,-0],"data_offsets":[0,8]}`, `tensor "a": shape: -0 is not a non-negative integer`},
		{"exponent", `{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}`, `tensor "a": shape: 2e0 is not a non-negative integer`},
		{"fraction", `{"dtype":"F32",` + `"shape":[2],"data_offsets":[0,8.0]}`, `tensor "a": data_offsets: 8.0 is not a non-negative integer`},
		{"huge offset", `{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]}`, `99999999999999999999 is more than a 64-bit int holds`},
		{"an array", `["F32",[2],[0,8]]`, `tensor "a": [, where an object of dtype, shape and data_offsets belongs`},
		{"unknown dtype", `{"dtype":"F31",` + rest + `}`, `tensor "a": unknown dtype "F31"`},
	} {
		file := fileOf(`{"a":`+tc.entry+`}`, make([]byte, 8))
		_, err := Read(tc.what, bytes.NewReader(file), int64(len(file)))
		var fe *pickle.FormatError
		if !errors.As(err, &fe) || fe.File != tc.what || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a *pickle.FormatError: ...%s", tc.what, err, tc.want)
		}
	}
	for _, tc := range []struct{ what, entry string }{
		{"unknown field", `{"dtype":"F32",` + rest + `,"bogus":1}`},
		{"unknown fields twice", `{"x":[{"dtype":"I8"}],"dtype":"F32","x":"]}",` + rest + `}`},
		{"escaped dtype", `{"dtype":"F\u00332",` + rest + `}`},
		{"other order, spaced", "{ \"data_offsets\" : [ 0 , 8 ] ,\n\t\"shape\":[ 2 ], \"dtype\" : \"F32\" }"},
	} {
		file := fileOf(`{"a":`+tc.entry+`}`, make([]byte, 8))
		leaves, err := Read(tc.what, bytes.NewReader(file), int64(len(file)))
		if err != nil || len(leaves) != 1 {
			t.Errorf("%s: %d leaves, %v; want tensor a", tc.what, len(leaves), err)
			continue
		}
		if tt := leaves[0].Value.(*pickle.Tensor); tt.DType != pickle.F32 || !reflect.DeepEqual(tt.Shape, []int{2}) {
			t.Errorf("%s: %s %v, want F32 [2]", tc.what, tt.DType, tt.Shape)
		}
	}
	const a = `"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}`
	for _, hdr := range []string{`{"__metadata__":{"k":"v","k":"w"},` + a + `}`, `{` + a + `,"__metadata__":{"ptport.x":"1","ptport.x":"2"}}`} {
		file := fileOf(hdr, make([]byte, 1))
		for _, read := range []func() error{
			func() error { _, err := Read("m", bytes.NewReader(file), int64(len(file))); return err },
			func() error { _, err := ReadMetadata("m", bytes.NewReader(file), int64(len(file))); return err },
		} {
			err := read()
			var fe *pickle.FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), `__metadata__: two members named "`) {
				t.Errorf("%s: %v, want a *pickle.FormatError naming the key", hdr, err)
			}
		}
	}
}

// entrySeeds are tensor entries, as writers write them and not, that could tell scanInfo
// from decodeInfoTokens.
func entrySeeds() []string {
	return []string{
		`{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}`, `{"dtype":"U8","shape":[],"data_offsets":[5,5]}`,
		` { "shape" : [ 1 ] , "data_offsets" : [ 0 , 1 ] , "dtype" : "BOOL" } `, `{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":{"y":["]}"]}}`,
		`{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}`, `{"dtype":"F32","shape":[2],"shape":[2],"data_offsets":[0,8]}`,
		`{"dtype":"F32","shape":[2],"data_offsets":[0,8],"data_offsets":[0,8]}`, `{"d\u0074ype":"F32","shape":[2],"data_offsets":[0,8]}`,
		`{"dtype":"F\u00332","shape":[2],"data_offsets":[0,8]}`, `{"Dtype":"F32","shape":[2],"data_offsets":[0,8]}`,
		`{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}`, `{"dtype":"F32","shape":[1e1],"data_offsets":[0,40]}`,
		`{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}`, `{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}`,
		`{"dtype":"F32","shape":[999999999999999999],"data_offsets":[0,4]}`, `{"dtype":"F32","shape":[9999999999999999999],"data_offsets":[0,4]}`,
		`{"dtype":"F32","shape":[2],"data_offsets":[0]}`, `{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}`, `{"dtype":"F32","shape":[2],"data_offsets":[]}`,
		`{"dtype":null,"shape":[2],"data_offsets":[0,8]}`, `{"dtype":"F32","shape":null,"data_offsets":[0,8]}`, `{"dtype":"F32","shape":[2],"data_offsets":null}`,
		`{"dtype":1,"shape":[2],"data_offsets":[0,8]}`, `{"dtype":"F32","shape":{},"data_offsets":[0,8]}`, `{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}`,
		`{"dtype":"F32","shape":[2]}`, `{}`, `[]`, `null`, `"F32"`, `1`, `{"dtype":"\u00e9","shape":[2],"data_offsets":[0,8]}`,
		"{\"dtype\":\"\xc3\xa9\",\"shape\":[2],\"data_offsets\":[0,8]}", `{"dtype":"F32","shape":[2],"data_offsets":[0,8],"":1,"":2}`,
	}
}

// sameEntry fails t unless scanInfo, when it reads v, reads it as decodeInfoTokens does,
// so that decodeInfo reads every entry as decodeInfoTokens does.
func sameEntry(t *testing.T, v []byte) {
	got, ok := scanInfo(v)
	if !json.Valid(v) {
		return // the header was valid JSON before any entry is read; scanInfo must not panic
	}
	want, err := decodeInfoTokens(v)
	if ok && (err != nil || !reflect.DeepEqual(got, want)) {
		t.Fatalf("%q: scanInfo read %+v, decodeInfoTokens %+v, %v", v, got, want, err)
	}
	dgot, derr := decodeInfo(v)
	if fmt.Sprint(derr) != fmt.Sprint(err) || !reflect.DeepEqual(dgot, want) {
		t.Fatalf("%q: decodeInfo %+v, %v; decodeInfoTokens %+v, %v", v, dgot, derr, want, err)
	}
}

// TestScanInfo: scanInfo reads the entries writers write, and reads every entry it reads
// as decodeInfoTokens does, the seeds and every entry a byte away from one.
func TestScanInfo(t *testing.T) {
	for _, s := range entrySeeds() {
		sameEntry(t, []byte(s))
		for i := range len(s) + 1 {
			if i < len(s) {
				sameEntry(t, []byte(s[:i]+s[i+1:]))
			}
			for _, c := range ` ,:"-0.e[]{}\u` {
				sameEntry(t, []byte(s[:i]+string(c)+s[i:]))
			}
		}
	}
	for _, s := range entrySeeds()[:4] {
		if _, ok := scanInfo([]byte(s)); !ok {
			t.Errorf("%s: left to decodeInfoTokens", s)
		}
	}
}

func TestScanInfoSeeds(t *testing.T) {
	seeds := map[string][]byte{}
	for i, s := range entrySeeds() {
		seeds[fmt.Sprintf("%02d", i)] = []byte(s)
	}
	fuzzcheck.Seeds(t, "FuzzScanInfo", seeds)
}

// FuzzScanInfo: scanInfo reads any entry as decodeInfoTokens does, or leaves it to it.
func FuzzScanInfo(f *testing.F) {
	for _, s := range entrySeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) { sameEntry(t, v) })
}
