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
// of number survives a round trip; NaN and infinities, which JSON lacks, are the strings
// "NaN", "Infinity" and "-Infinity"; bytes are base64 strings; tuples and lists are
// arrays; a numpy scalar is an object of one member named for its numpy type,
// {"numpy.float32": 0.1}, its value at the scalar's own precision; anything else is its
// Python repr-like description as a string.
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
		return AppendFloat(buf, v, 64)
	case float32:
		return AppendFloat(buf, float64(v), 32)
	case complex128:
		buf = append(buf, '[')
		buf = AppendFloat(buf, real(v), 64)
		buf = append(buf, ',')
		buf = AppendFloat(buf, imag(v), 64)
		return append(buf, ']')
	case string:
		return AppendString(buf, v)
	case []byte:
		return AppendString(buf, base64.StdEncoding.EncodeToString(v))
	case pickle.List:
		return appendArray(buf, v)
	case pickle.Tuple:
		return appendArray(buf, v)
	case *pickle.Dict:
		buf = append(buf, '{')
		for i, e := range v.Entries {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = AppendString(buf, fmt.Sprint(e.Key))
			buf = append(buf, ':')
			buf = Append(buf, e.Value)
		}
		return append(buf, '}')
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

// AppendFloat appends f as Append does, formatted as the shortest decimal that reads
// back to the same float of the given bit size (32 or 64).
func AppendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, `"NaN"`...)
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
			d := &pickle.Dict{Ordered: true}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decode(dec)
				if err != nil {
					return nil, err
				}
				d.Entries = append(d.Entries, pickle.DictEntry{Key: k, Value: v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			if len(d.Entries) == 1 {
				if k, ok := d.Entries[0].Key.(string); ok {
					if dt, ok := numpyDTypes[strings.TrimPrefix(k, "numpy.")]; ok && strings.HasPrefix(k, "numpy.") {
						return decodeScalar(dt, d.Entries[0].Value)
					}
				}
			}
			return d, nil
		}
	}
	return tok, nil // string, bool, nil
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
	bits := 64
	if s.DType == pickle.F32 || s.DType == pickle.F16 || s.DType == pickle.C64 {
		bits = 32
	}
	buf = append(AppendString(append(buf, '{'), "numpy."+name), ':')
	switch v := s.Value().(type) {
	case float64:
		buf = AppendFloat(buf, v, bits)
	case complex128:
		buf = append(AppendFloat(append(buf, '['), real(v), bits), ',')
		buf = append(AppendFloat(buf, imag(v), bits), ']')
	case int64:
		buf = strconv.AppendInt(buf, v, 10)
	case uint64:
		buf = strconv.AppendUint(buf, v, 10)
	case bool:
		buf = strconv.AppendBool(buf, v)
	}
	return append(buf, '}')
}

// decodeScalar makes the numpy scalar of dtype dt that appendScalar wrote as v.
func decodeScalar(dt pickle.DType, v any) (any, error) {
	le := binary.LittleEndian
	b := make([]byte, dt.Size())
	bad := fmt.Errorf("invalid numpy.%s value %v", numpyNames[dt], v)
	float := func(x any, bits int) (float64, bool) {
		switch x := x.(type) {
		case float64:
			return x, true
		case string: // NaN and infinities
			f, err := strconv.ParseFloat(x, bits)
			return f, err == nil
		}
		return 0, false
	}
	switch dt {
	case pickle.F64, pickle.F32, pickle.F16:
		f, ok := float(v, 64)
		if !ok {
			return nil, bad
		}
		switch dt {
		case pickle.F64:
			le.PutUint64(b, math.Float64bits(f))
		case pickle.F32:
			le.PutUint32(b, math.Float32bits(float32(f)))
		default:
			h, ok := halfBits(float64(float32(f))) // written at float32 precision
			if !ok {
				return nil, bad
			}
			le.PutUint16(b, h)
		}
	case pickle.C64, pickle.C128:
		l, ok := v.(pickle.List)
		if !ok || len(l) != 2 {
			return nil, bad
		}
		re, ok1 := float(l[0], 64)
		im, ok2 := float(l[1], 64)
		if !ok1 || !ok2 {
			return nil, bad
		}
		if dt == pickle.C64 {
			le.PutUint32(b, math.Float32bits(float32(re)))
			le.PutUint32(b[4:], math.Float32bits(float32(im)))
		} else {
			le.PutUint64(b, math.Float64bits(re))
			le.PutUint64(b[8:], math.Float64bits(im))
		}
	case pickle.BOOL:
		x, ok := v.(bool)
		if !ok {
			return nil, bad
		}
		if x {
			b[0] = 1
		}
	default:
		var u uint64
		switch x := v.(type) {
		case int64:
			u = uint64(x)
			if numpyNames[dt][0] == 'u' && x < 0 {
				return nil, bad
			}
		case *big.Int:
			if !x.IsUint64() || numpyNames[dt][0] != 'u' {
				return nil, bad
			}
			u = x.Uint64()
		default:
			return nil, bad
		}
		n := 8 * len(b)
		if n < 64 {
			signed := numpyNames[dt][0] == 'i'
			if signed && (int64(u) < -(1<<(n-1)) || int64(u) >= 1<<(n-1)) || !signed && u >= 1<<n {
				return nil, bad
			}
		}
		for i := range b {
			b[i] = byte(u >> (8 * i))
		}
	}
	return pickle.Scalar{DType: dt, Data: b}, nil
}

// halfBits returns the binary16 bits of f when f is a float16 value.
func halfBits(f float64) (uint16, bool) {
	if f != f {
		return 0x7e00, true
	}
	f32 := float32(f)
	if float64(f32) != f {
		return 0, false
	}
	b := math.Float32bits(f32)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff
	switch {
	case exp == 0xff:
		return sign | 0x7c00, true
	case exp == 0 && frac == 0:
		return sign, true
	case exp-127 > 15:
		return 0, false
	case exp-127 >= -14:
		if frac&0x1fff != 0 {
			return 0, false
		}
		return sign | uint16(exp-127+15)<<10 | uint16(frac>>13), true
	}
	// Subnormal: f = m × 2^-24 with m < 1024.
	m := math.Abs(f) * (1 << 24)
	if m != math.Trunc(m) || m >= 1024 {
		return 0, false
	}
	return sign | uint16(m), true
}
