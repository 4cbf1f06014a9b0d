package jsonvalue

import (
	"encoding/binary"
	"math"
	"reflect"
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
