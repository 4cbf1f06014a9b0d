package convert

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/ptport/ptport/pickle"
)

// appendValue appends the JSON form of a non-tensor leaf to buf. Integers are written
// as JSON integers, floats always with a fraction or exponent ("1.0"), so that the kind
// of number survives a round trip; NaN and infinities, which JSON lacks, are the strings
// "NaN", "Infinity" and "-Infinity"; bytes are base64 strings; tuples and lists are
// arrays; anything else is its Python repr-like description as a string.
func appendValue(buf []byte, v any) []byte {
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
		return appendFloat(buf, v, 64)
	case float32:
		return appendFloat(buf, float64(v), 32)
	case complex128:
		buf = append(buf, '[')
		buf = appendFloat(buf, real(v), 64)
		buf = append(buf, ',')
		buf = appendFloat(buf, imag(v), 64)
		return append(buf, ']')
	case string:
		return appendString(buf, v)
	case []byte:
		return appendString(buf, base64.StdEncoding.EncodeToString(v))
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
			buf = appendString(buf, fmt.Sprint(e.Key))
			buf = append(buf, ':')
			buf = appendValue(buf, e.Value)
		}
		return append(buf, '}')
	case pickle.Global:
		return appendString(buf, v.Module+"."+v.Name)
	case *pickle.Object:
		return appendString(buf, "<"+v.Module+"."+v.Name+" object>")
	default:
		return appendString(buf, fmt.Sprint(v))
	}
}

func appendArray(buf []byte, vs []any) []byte {
	buf = append(buf, '[')
	for i, e := range vs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendValue(buf, e)
	}
	return append(buf, ']')
}

func appendFloat(buf []byte, f float64, bits int) []byte {
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

func appendString(buf []byte, s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return append(buf, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}
