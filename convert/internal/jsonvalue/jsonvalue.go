package jsonvalue

import (
	"bytes"
	"encoding/base64"
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
// arrays; anything else is its Python repr-like description as a string.
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
			_, err := dec.Token()
			return d, err
		}
	}
	return tok, nil // string, bool, nil
}
