package jsonvalue

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// TestScalarRoundTrip writes numpy scalars of every dtype as JSON and reads
// them back: the dtype and every bit of the value survive (but a NaN's
// payload, which JSON's "NaN" does not hold).
func TestScalarRoundTrip(t *testing.T) {
	le := binary.LittleEndian
	f32 := func(f float32) []byte { return le.AppendUint32(nil, math.Float32bits(f)) }
	f64 := func(f float64) []byte { return le.AppendUint64(nil, math.Float64bits(f)) }
	scalars := []pickle.Scalar{
		{DType: pickle.F64, Data: f64(0.9123456789)},
		{DType: pickle.F64, Data: f64(math.Copysign(0, -1))},
		{DType: pickle.F64, Data: f64(math.Inf(-1))},
		{DType: pickle.F32, Data: f32(0.1)},
		{DType: pickle.F32, Data: f32(math.SmallestNonzeroFloat32)},
		{DType: pickle.F16, Data: []byte{0x00, 0x3e}}, // 1.5
		{DType: pickle.F16, Data: []byte{0x01, 0x00}}, // the smallest subnormal
		{DType: pickle.F16, Data: []byte{0xff, 0x7b}}, // 65504
		{DType: pickle.I64, Data: le.AppendUint64(nil, 1<<63)},
		{DType: pickle.I32, Data: le.AppendUint32(nil, uint32(0xfffffffd))},
		{DType: pickle.I16, Data: []byte{0xd4, 0xfe}},
		{DType: pickle.I8, Data: []byte{0x80}},
		{DType: pickle.U8, Data: []byte{0xff}},
		{DType: pickle.BOOL, Data: []byte{1}},
		{DType: pickle.C64, Data: append(f32(1), f32(-2.5)...)},
		{DType: pickle.C128, Data: append(f64(-0.5), f64(1e-300)...)},
	}
	var leaves []pickle.Leaf
	for i, s := range scalars {
		leaves = append(leaves, pickle.Leaf{Name: string(rune('a' + i)), Value: s})
	}
	obj := Object(leaves)
	got, err := Leaves(string(obj))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, leaves) {
		t.Errorf("%s\nread back as %v", obj, got)
	}
	if string(Append(nil, scalars[3])) != `{"numpy.float32":0.1}` {
		t.Errorf("float32 0.1 written as %s", Append(nil, scalars[3]))
	}
	// A dict of one member that is not a numpy type stays a dict.
	d, err := Leaves(`{"x":{"numpy.float33":1.0}}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d[0].Value.(*pickle.Dict); !ok {
		t.Errorf("read as %#v", d[0].Value)
	}
}

// TestValuesKeepTypes writes the values JSON has no form of its own for, and dicts
// that look like their forms, and reads them back: each comes back as the type it was,
// every bit of a float included.
func TestValuesKeepTypes(t *testing.T) {
	le := binary.LittleEndian
	nan := func(bits uint64) float64 { return math.Float64frombits(bits) }
	tag := func(k string, v any) *pickle.Dict {
		return &pickle.Dict{Ordered: true, Entries: []pickle.DictEntry{{Key: k, Value: v}}}
	}
	values := []any{
		nan(0x7ff8000000000000), nan(0xfff8000000000000), nan(0x7ff0000000000001), math.Inf(1), math.Inf(-1),
		"NaN", "Infinity", []byte("bytes"), []byte{}, "Ynl0ZXM=", complex(1.5, nan(0x7ff8000000000000)),
		pickle.List{nan(0x7ff8000000000000), []byte{0, 0xff}},
		tag("builtins.float", "NaN"), tag("builtins.bytes", "eA=="), tag("builtins.dict", int64(1)),
		tag("numpy.float32", 0.5), tag("builtins.floaty", 1.0),
		tag("builtins.dict", tag("builtins.dict", pickle.List{})),
		&pickle.Dict{Ordered: true, Entries: []pickle.DictEntry{{Key: "builtins.float", Value: 1.0}, {Key: "b", Value: int64(2)}}},
		pickle.Scalar{DType: pickle.F64, Data: le.AppendUint64(nil, 0x7ff8000000000000)},
		pickle.Scalar{DType: pickle.F64, Data: le.AppendUint64(nil, 0xfff8000000000000)},
		pickle.Scalar{DType: pickle.F32, Data: le.AppendUint32(nil, 0x7fc00001)},
		pickle.Scalar{DType: pickle.F16, Data: le.AppendUint16(nil, 0xfe00)},
		pickle.Scalar{DType: pickle.C64, Data: le.AppendUint32(le.AppendUint32(nil, 0x7fc00000), 0xffc00000)},
		&pickle.Dict{Ordered: true}, pickle.List{}, tag("builtins.dict", &pickle.Dict{Ordered: true}),
	}
	var leaves []pickle.Leaf
	for i, v := range values {
		leaves = append(leaves, pickle.Leaf{Name: string(rune('a' + i)), Value: v})
	}
	obj := Object(leaves)
	got, err := Leaves(string(obj))
	if err != nil {
		t.Fatalf("%s: %v", obj, err)
	}
	if len(got) != len(leaves) {
		t.Fatalf("%s read back as %d leaves", obj, len(got))
	}
	for i, l := range leaves {
		// NaN != NaN: compare what each is written as, and its Go type.
		a, b := Append(nil, l.Value), Append(nil, got[i].Value)
		if !bytes.Equal(a, b) || reflect.TypeOf(l.Value) != reflect.TypeOf(got[i].Value) {
			t.Errorf("%#v written as %s read back as %#v", l.Value, a, got[i].Value)
		}
		f, ok1 := l.Value.(float64)
		g, ok2 := got[i].Value.(float64)
		if ok1 && ok2 && math.Float64bits(f) != math.Float64bits(g) {
			t.Errorf("%s read back as %#x", a, math.Float64bits(g))
		}
	}
	for _, tc := range []struct {
		v    any
		text string
	}{
		{nan(0x7ff8000000000000), `{"builtins.float":"NaN"}`},
		{math.Inf(-1), `{"builtins.float":"-Infinity"}`},
		{[]byte("bytes"), `{"builtins.bytes":"Ynl0ZXM="}`},
		{complex(1, -0.5), `{"builtins.complex":[1.0,-0.5]}`},
		{tag("numpy.float32", 0.5), `{"builtins.dict":{"numpy.float32":0.5}}`},
		{tag("numpy.float33", 0.5), `{"numpy.float33":0.5}`},
		{values[21], `{"numpy.float32":"NaN:0x7fc00001"}`},
	} {
		if got := string(Append(nil, tc.v)); got != tc.text {
			t.Errorf("%#v written as %s, want %s", tc.v, got, tc.text)
		}
	}
}

// TestOldValues reads the values of files written before the special floats and bytes
// were tagged: they read as they always did, and a numpy NaN as the canonical one.
func TestOldValues(t *testing.T) {
	got, err := Leaves(`{"a":"NaN","b":"Ynl0ZXM=","c":[1.0,2.0],"d":{"numpy.float64":"NaN"},"e":{"numpy.float32":"Infinity"}}`)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	want := []any{"NaN", "Ynl0ZXM=", pickle.List{1.0, 2.0},
		pickle.Scalar{DType: pickle.F64, Data: le.AppendUint64(nil, 0x7ff8000000000000)},
		pickle.Scalar{DType: pickle.F32, Data: le.AppendUint32(nil, 0x7f800000)}}
	for i, w := range want {
		if !reflect.DeepEqual(got[i].Value, w) {
			t.Errorf("%s read as %#v, want %#v", got[i].Name, got[i].Value, w)
		}
	}
}

// TestTaggedRefuses checks that a tagged object of the wrong content is an error.
func TestTaggedRefuses(t *testing.T) {
	for _, obj := range []string{
		`{"a":{"builtins.float":"nan"}}`,
		`{"a":{"builtins.bytes":"@@"}}`,
		`{"a":{"builtins.bytes":5}}`,
		`{"a":{"builtins.complex":[1.0]}}`,
		`{"a":{"builtins.complex":[1.0,2.0,3.0]}}`,
		`{"a":{"builtins.dict":[]}}`,
		`{"a":{"numpy.int8":128}}`,
		`{"a":{"numpy.uint8":-1}}`,
		`{"a":{"numpy.int32":1.0}}`,
		`{"a":{"numpy.float32":"NaN:0x7fc0"}}`,
	} {
		if got, err := Leaves(obj); err == nil {
			t.Errorf("%s read as %#v", obj, got[0].Value)
		}
	}
}

// TestNestedTagsLinear reads values whose tagged objects nest as deep as a tree may
// around a large value, in the shapes that make a reader that decodes a tag's value
// again at each level take time and memory of depth times size: what it allocates
// stays a small multiple of the document's bytes, and each value reads back whole.
func TestNestedTagsLinear(t *testing.T) {
	const size = 1 << 20
	big := `"` + strings.Repeat("x", size) + `"`
	for _, tc := range []struct {
		name, open, close string
		per               int // levels of the tree in each repetition of open
	}{
		{"dict of dict", `{"builtins.dict":{"k":`, `}}`, 1},
		{"dict of its tag", `{"builtins.dict":{"builtins.dict":`, `}}`, 1},
		{"tag beside a member", `{"builtins.float":{"k":`, `},"m":1}`, 2},
		{"array", `{"numpy.complex64":[`, `,1.0],"m":1}`, 2},
	} {
		levels := (pickle.MaxDepth - 1) / tc.per
		doc := `{"a":` + strings.Repeat(tc.open, levels) + big + strings.Repeat(tc.close, levels) + `}`
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		leaves, err := Leaves(doc)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 20*uint64(len(doc)) {
			t.Errorf("%s: reading %d bytes allocated %d", tc.name, len(doc), alloc)
		}
		v, depth := leaves[0].Value, 0
		for {
			switch x := v.(type) {
			case *pickle.Dict:
				v = x.Entries[0].Value
			case pickle.List:
				v = x[0]
			default:
				if s, _ := v.(string); len(s) != size || depth < levels {
					t.Errorf("%s: %T at depth %d", tc.name, v, depth)
				}
				depth = -1
			}
			if depth < 0 {
				break
			}
			depth++
		}
	}
}

// TestDepthLimit checks that a value may nest pickle.MaxDepth levels below the root of
// the tree whose items the values are, as in every format, and no deeper, however the
// levels are written: arrays, objects, and dicts whose members read like a tag in
// {"builtins.dict": ...}, around a value that is not a container, an empty one, or one
// written as a tag of its own, which is no level of the tree.
func TestDepthLimit(t *testing.T) {
	for _, level := range []struct{ open, close string }{
		{`[`, `]`},
		{`{"k":`, `}`},
		{`{"builtins.dict":{"builtins.float":`, `}}`},
		{`{"builtins.dict":{"k":`, `}}`},
		{`{"builtins.float":1.0,"k":`, `}`},
	} {
		for _, inner := range []struct {
			value  string
			levels int // the levels around value that make it pickle.MaxDepth deep
		}{
			{`1`, pickle.MaxDepth - 1},
			{`{"builtins.complex":[1.0,"NaN"]}`, pickle.MaxDepth - 1},
			{`{"builtins.dict":{"builtins.bytes":"YQ=="}}`, pickle.MaxDepth - 2},
			{`[]`, pickle.MaxDepth - 1},
			{`[[]]`, pickle.MaxDepth - 2},
		} {
			doc := func(levels int) string {
				return `{"a":` + strings.Repeat(level.open, levels) + inner.value + strings.Repeat(level.close, levels) + `}`
			}
			if _, err := Leaves(doc(inner.levels)); err != nil {
				t.Errorf("%s %d levels around %s: %v", level.open, inner.levels, inner.value, err)
			}
			want := fmt.Sprintf(`"a": nested deeper than %d levels`, pickle.MaxDepth)
			if _, err := Leaves(doc(inner.levels + 1)); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s %d levels around %s: %v, want %q", level.open, inner.levels+1, inner.value, err, want)
			}
		}
	}
	// Far deeper than any stack would take, read a level at a time.
	if _, err := Leaves(`{"a":` + strings.Repeat("[", 10_000_000) + `}`); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("10000000 levels: %v", err)
	}
}

// TestIntDigits: the longest int a pickle holds (LONG4 of 2048 bytes) is read back from
// what Append writes; a longer integer is refused before its digits are decoded (which
// takes time quadratic in their number: a 900 KB integer took 1.2 s).
func TestIntDigits(t *testing.T) {
	longest := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 16383))
	doc := `{"a":` + string(Append(nil, longest)) + `}`
	leaves, err := Leaves(doc)
	if err != nil || len(leaves) != 1 {
		t.Fatalf("%d digits: %v", len(doc)-7, err)
	}
	if b, ok := leaves[0].Value.(*big.Int); !ok || b.Cmp(longest) != 0 {
		t.Errorf("read back %T, want -2^16383", leaves[0].Value)
	}
	for _, digits := range []string{"1" + strings.Repeat("0", maxIntDigits), "-" + strings.Repeat("9", 900_000)} {
		_, err := Leaves(`{"a":` + digits + `}`)
		want := fmt.Sprintf(`"a": an integer of more than %d digits, the most that ptport reads: %d digits`, maxIntDigits, len(strings.TrimPrefix(digits, "-")))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%d digits: %v, want %q", len(digits), err, want)
		}
	}
}
