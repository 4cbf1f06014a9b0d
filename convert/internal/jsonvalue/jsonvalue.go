package jsonvalue

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/ptport/ptport/pickle"
)

// Append appends the JSON form of a non-tensor leaf to buf. Integers are written
// as JSON integers, floats always with a fraction or exponent ("1.0"), so that the kind
// of number survives a round trip; tuples and lists are arrays, dicts objects. A value
// that JSON has no form of its own for is an object of one member named for its Python
// type: a NaN or infinite float is {"builtins.float": "NaN"} (or "Infinity",
// "-Infinity", or for a NaN other than float("nan") its bits, "NaN:0x7ff8000000000001":
// see AppendFloatBits), bytes are {"builtins.bytes": BASE64}, a complex number is
// {"builtins.complex": [real, imag]}, a numpy scalar is {"numpy.float32": 0.1}, its
// value at the scalar's own precision; a dict of one member named like one of these is
// {"builtins.dict": {KEY: VALUE}}, so that no dict reads back as another type.
// Anything else is its Python repr-like description as a string.
func Append(buf []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...)
	case bool:
		return strconv.AppendBool(buf, v)
	case int64:
		return strconv.AppendInt(buf, v, 10)
	case int:
		return strconv.AppendInt(buf, int64(v), 10)
	case *big.Int:
		return v.Append(buf, 10)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			buf = append(buf, `{"`+floatTag+`":`...)
			return append(AppendFloatBits(buf, pickle.F64, math.Float64bits(v)), '}')
		}
		return appendFloat(buf, v, 64)
	case float32:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return Append(buf, float64(v))
		}
		return appendFloat(buf, float64(v), 32)
	case complex128:
		buf = append(buf, `{"`+complexTag+`":[`...)
		buf = AppendFloatBits(buf, pickle.F64, math.Float64bits(real(v)))
		buf = append(buf, ',')
		buf = AppendFloatBits(buf, pickle.F64, math.Float64bits(imag(v)))
		return append(buf, "]}"...)
	case string:
		return AppendString(buf, v)
	case []byte:
		buf = append(buf, `{"`+bytesTag+`":`...)
		return append(AppendString(buf, base64.StdEncoding.EncodeToString(v)), '}')
	case pickle.List:
		return appendArray(buf, v)
	case pickle.Tuple:
		return appendArray(buf, v)
	case *pickle.Dict:
		if len(v.Entries) == 1 && isTag(fmt.Sprint(v.Entries[0].Key)) {
			buf = append(buf, `{"`+dictTag+`":`...)
			return append(appendDict(buf, v), '}')
		}
		return appendDict(buf, v)
	case pickle.Global:
		return AppendString(buf, v.Module+"."+v.Name)
	case *pickle.Object:
		return AppendString(buf, "<"+v.Module+"."+v.Name+" object>")
	case pickle.Scalar:
		return appendScalar(buf, v)
	default:
		return AppendString(buf, fmt.Sprint(v))
	}
}

// appendDict appends d as a JSON object, its keys as strings.
func appendDict(buf []byte, d *pickle.Dict) []byte {
	buf = append(buf, '{')
	for i, e := range d.Entries {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = AppendString(buf, fmt.Sprint(e.Key))
		buf = append(buf, ':')
		buf = Append(buf, e.Value)
	}
	return append(buf, '}')
}

func appendArray(buf []byte, vs []any) []byte {
	buf = append(buf, '[')
	for i, e := range vs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = Append(buf, e)
	}
	return append(buf, ']')
}

// appendFloat appends f, which is not NaN, as the shortest decimal that reads back to
// the same float of the given bit size (32 or 64), with a fraction or exponent ("1.0"),
// or as the string "Infinity" or "-Infinity".
func appendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(buf, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(buf, `"-Infinity"`...)
	}
	n := len(buf)
	buf = strconv.AppendFloat(buf, f, 'g', -1, bits)
	if !bytes.ContainsAny(buf[n:], ".e") {
		buf = append(buf, ".0"...)
	}
	return buf
}

// AppendString appends s as a JSON string, with no HTML escaping.
func AppendString(buf []byte, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return append(buf, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}

// AppendInts appends xs as a JSON array of integers.
func AppendInts(buf []byte, xs []int) []byte {
	buf = append(buf, '[')
	for i, x := range xs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, int64(x), 10)
	}
	return append(buf, ']')
}

// Object is the JSON object of the non-tensor leaves values, in order, or nil if there
// are none.
func Object(values []pickle.Leaf) []byte {
	if len(values) == 0 {
		return nil
	}
	buf := []byte{'{'}
	for i, v := range values {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = AppendString(buf, v.Name)
		buf = append(buf, ':')
		buf = Append(buf, v.Value)
	}
	return append(buf, '}')
}

// Leaves reads a JSON object that Object wrote back into the leaves it was made of, in
// order.
func Leaves(obj string) ([]pickle.Leaf, error) {
	dec := json.NewDecoder(strings.NewReader(obj))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	var leaves []pickle.Leaf
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		val, err := decode(dec)
		if err != nil {
			return nil, err
		}
		leaves = append(leaves, pickle.Leaf{Name: tok.(string), Value: val})
	}
	return leaves, nil
}

var errNotObject = errors.New("not a JSON object")

// decode reads one JSON value written by Append back into the value it was:
// integers as int64 (or *big.Int), numbers with a fraction or exponent as float64,
// arrays as pickle.List, objects as an ordered *pickle.Dict.
func decode(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Number:
		s := tok.String()
		if strings.ContainsAny(s, ".eE") {
			return tok.Float64()
		}
		if i, err := tok.Int64(); err == nil {
			return i, nil
		}
		b, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, fmt.Errorf("bad number %s", s)
		}
		return b, nil
	case json.Delim:
		switch tok {
		case '[':
			l := pickle.List{}
			for dec.More() {
				v, err := decode(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token()
			return l, err
		case '{':
			return decodeObject(dec)
		}
	}
	return tok, nil // string, bool, nil
}

// The names of the one-member objects that Append writes for the values JSON has no
// form of its own for.
const (
	floatTag   = "builtins.float"
	bytesTag   = "builtins.bytes"
	complexTag = "builtins.complex"
	dictTag    = "builtins.dict"
)

// isTag reports whether key names the type of a one-member object Append writes.
func isTag(key string) bool {
	switch key {
	case floatTag, bytesTag, complexTag, dictTag:
		return true
	}
	name, ok := strings.CutPrefix(key, "numpy.")
	_, numpy := numpyDTypes[name]
	return ok && numpy
}

// decodeObject reads the rest of an object whose '{' dec has read: an ordered
// *pickle.Dict, or the value of a one-member object named for its type.
func decodeObject(dec *json.Decoder) (any, error) {
	d := &pickle.Dict{Ordered: true}
	if dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v any
		if key, _ := k.(string); isTag(key) {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, err
			}
			if !dec.More() {
				if _, err := dec.Token(); err != nil {
					return nil, err
				}
				return tagged(key, raw)
			}
			if v, err = decode(rawDecoder(raw)); err != nil {
				return nil, err
			}
		} else if v, err = decode(dec); err != nil {
			return nil, err
		}
		d.Entries = append(d.Entries, pickle.DictEntry{Key: k, Value: v})
	}
	return d, decodeEntries(dec, d)
}

// decodeEntries reads the remaining members of an object, and its '}', into d.
func decodeEntries(dec *json.Decoder, d *pickle.Dict) error {
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		v, err := decode(dec)
		if err != nil {
			return err
		}
		d.Entries = append(d.Entries, pickle.DictEntry{Key: k, Value: v})
	}
	_, err := dec.Token()
	return err
}

func rawDecoder(raw json.RawMessage) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec
}

// tagged reads the value of the one-member object {tag: raw} back into the value
// Append wrote as it.
func tagged(tag string, raw json.RawMessage) (any, error) {
	dec := rawDecoder(raw)
	bad := fmt.Errorf("invalid %s value %s", tag, raw)
	tok, err := dec.Token()
	if err != nil {
		return nil, bad
	}
	switch tag {
	case dictTag:
		if tok != json.Delim('{') {
			return nil, bad
		}
		d := &pickle.Dict{Ordered: true}
		return d, decodeEntries(dec, d)
	case floatTag:
		bits, err := FloatBits(pickle.F64, tok)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", tag, err)
		}
		return math.Float64frombits(bits), nil
	case bytesTag:
		s, ok := tok.(string)
		if !ok {
			return nil, bad
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", tag, err)
		}
		return b, nil
	case complexTag:
		if tok != json.Delim('[') {
			return nil, bad
		}
		re, im, err := floatPair(dec, pickle.F64)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", tag, err)
		}
		return complex(math.Float64frombits(re), math.Float64frombits(im)), nil
	}
	return decodeScalar(numpyDTypes[strings.TrimPrefix(tag, "numpy.")], tok, dec)
}

// floatPair reads the two floats of dtype dt and the ']' of a [real, imag] pair whose
// '[' dec has read.
func floatPair(dec *json.Decoder, dt pickle.DType) (re, im uint64, err error) {
	var parts [2]uint64
	for i := range parts {
		tok, err := dec.Token()
		if err != nil {
			return 0, 0, err
		}
		if parts[i], err = FloatBits(dt, tok); err != nil {
			return 0, 0, err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return 0, 0, errors.New("a complex number is a [real, imag] pair")
	}
	return parts[0], parts[1], nil
}

// numpyNames are the numpy type names of the dtypes a pickle.Scalar holds.
var numpyNames = map[pickle.DType]string{
	pickle.F64: "float64", pickle.F32: "float32", pickle.F16: "float16",
	pickle.I64: "int64", pickle.I32: "int32", pickle.I16: "int16", pickle.I8: "int8",
	pickle.U8: "uint8", pickle.U16: "uint16", pickle.U32: "uint32",
	pickle.U64: "uint64", pickle.BOOL: "bool_", pickle.C64: "complex64", pickle.C128: "complex128",
}

var numpyDTypes = func() map[string]pickle.DType {
	m := make(map[string]pickle.DType, len(numpyNames))
	for dt, n := range numpyNames {
		m[n] = dt
	}
	return m
}()

// appendScalar appends {"numpy.TYPE": value}.
func appendScalar(buf []byte, s pickle.Scalar) []byte {
	name, ok := numpyNames[s.DType]
	if !ok || s.Value() == nil {
		return AppendString(buf, s.String())
	}
	buf = append(AppendString(append(buf, '{'), "numpy."+name), ':')
	le := binary.LittleEndian
	switch s.DType {
	case pickle.F64:
		buf = AppendFloatBits(buf, pickle.F64, le.Uint64(s.Data))
	case pickle.F32:
		buf = AppendFloatBits(buf, pickle.F32, uint64(le.Uint32(s.Data)))
	case pickle.F16:
		buf = AppendFloatBits(buf, pickle.F16, uint64(le.Uint16(s.Data)))
	case pickle.C64:
		buf = append(AppendFloatBits(append(buf, '['), pickle.F32, uint64(le.Uint32(s.Data))), ',')
		buf = append(AppendFloatBits(buf, pickle.F32, uint64(le.Uint32(s.Data[4:]))), ']')
	case pickle.C128:
		buf = append(AppendFloatBits(append(buf, '['), pickle.F64, le.Uint64(s.Data)), ',')
		buf = append(AppendFloatBits(buf, pickle.F64, le.Uint64(s.Data[8:])), ']')
	default:
		switch v := s.Value().(type) {
		case int64:
			buf = strconv.AppendInt(buf, v, 10)
		case uint64:
			buf = strconv.AppendUint(buf, v, 10)
		case bool:
			buf = strconv.AppendBool(buf, v)
		}
	}
	return append(buf, '}')
}

// decodeScalar makes the numpy scalar of dtype dt that appendScalar wrote, from the
// first token tok of its value and the rest of it in dec.
func decodeScalar(dt pickle.DType, tok json.Token, dec *json.Decoder) (any, error) {
	le := binary.LittleEndian
	b := make([]byte, 0, dt.Size())
	name := "numpy." + numpyNames[dt]
	bad := fmt.Errorf("invalid %s value %v", name, tok)
	switch dt {
	case pickle.F64, pickle.F32, pickle.F16:
		bits, err := FloatBits(dt, tok)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		b = le.AppendUint64(b, bits)[:dt.Size()]
	case pickle.C64, pickle.C128:
		part := pickle.F32
		if dt == pickle.C128 {
			part = pickle.F64
		}
		if tok != json.Delim('[') {
			return nil, bad
		}
		re, im, err := floatPair(dec, part)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		b = append(le.AppendUint64(nil, re)[:part.Size()], le.AppendUint64(nil, im)[:part.Size()]...)
	case pickle.BOOL:
		x, ok := tok.(bool)
		if !ok {
			return nil, bad
		}
		if x {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	default:
		num, ok := tok.(json.Number)
		if !ok {
			return nil, bad
		}
		var u uint64
		var err error
		if numpyNames[dt][0] == 'u' {
			u, err = strconv.ParseUint(num.String(), 10, 8*dt.Size())
		} else {
			var i int64
			i, err = strconv.ParseInt(num.String(), 10, 8*dt.Size())
			u = uint64(i)
		}
		if err != nil {
			return nil, bad
		}
		b = le.AppendUint64(b, u)[:dt.Size()]
	}
	return pickle.Scalar{DType: dt, Data: b}, nil
}
