package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ptport/ptport/convert/internal/jsonvalue"
	"github.com/ptport/ptport/pickle"
)

// An info is a tensor's entry in the header, as the safetensors crate's TensorInfo
// reads it: its dtype, shape and data_offsets fields, each exactly once.
type info struct {
	dtype   pickle.DType
	shape   []int
	offsets [2]int64
}

// The fields of a header entry.
const (
	dtypeField   = "dtype"
	shapeField   = "shape"
	offsetsField = "data_offsets"
)

// fieldOf is the index of the field named key among dtype, shape and data_offsets, or
// -1 for a member of another name.
func fieldOf(key string) int {
	switch key {
	case dtypeField:
		return 0
	case shapeField:
		return 1
	case offsetsField:
		return 2
	}
	return -1
}

// decodeInfo decodes the entry v, a well-formed JSON value, as the crate does: an
// object holding each of the fields dtype (a string), shape (an array of non-negative
// integers) and data_offsets (an array of two), in any order, and members of other
// names, which it ignores. A field given twice is an error, as it is for the crate,
// which keeps neither. Most entries are read by scanInfo; decodeInfoTokens reads the
// others and says what is wrong with them.
func decodeInfo(v []byte) (info, error) {
	if e, ok := scanInfo(v); ok {
		return e, nil
	}
	return decodeInfoTokens(v)
}

// decodeInfoTokens is decodeInfo, token by token.
func decodeInfoTokens(v []byte) (info, error) {
	var e info
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return e, err
	}
	if tok != json.Delim('{') {
		return e, fmt.Errorf("%s, where an object of dtype, shape and data_offsets belongs", jsonvalue.Describe(tok))
	}
	var seen [3]bool // dtype, shape, data_offsets
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return e, err
		}
		key, _ := tok.(string) // a member's name is a string
		field := fieldOf(key)
		if field < 0 {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return e, err
			}
			continue
		}
		if seen[field] {
			return e, fmt.Errorf("two %q fields: ptport does not guess which one is meant", key)
		}
		seen[field] = true
		switch field {
		case 0:
			tok, err := dec.Token()
			if err != nil {
				return e, err
			}
			s, ok := tok.(string)
			if !ok {
				return e, fmt.Errorf("dtype %s is not a string", jsonvalue.Describe(tok))
			}
			e.dtype = pickle.DType(s)
		case 1:
			e.shape = []int{}
			err = readInts(dec, func(n int64) error {
				if n > int64(maxInt) {
					return fmt.Errorf("%d is more than an int holds", n)
				}
				e.shape = append(e.shape, int(n))
				return nil
			})
			if err != nil {
				return e, fmt.Errorf("shape: %v", err)
			}
		case 2:
			k := 0
			err = readInts(dec, func(n int64) error {
				if k == 2 {
					return errors.New("more than two offsets")
				}
				e.offsets[k] = n
				k++
				return nil
			})
			if err == nil && k < 2 {
				err = fmt.Errorf("%d offsets, not two", k)
			}
			if err != nil {
				return e, fmt.Errorf("data_offsets: %v, where the [begin, end] of the tensor's bytes belongs", err)
			}
		}
	}
	for i, name := range []string{dtypeField, shapeField, offsetsField} {
		if !seen[i] {
			return e, fmt.Errorf("no %q field", name)
		}
	}
	return e, nil
}

// readInts reads an array of non-negative integers, as the crate reads an array of
// usize, passing each to add.
func readInts(dec *json.Decoder, add func(int64) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('[') {
		return fmt.Errorf("%s is not an array", jsonvalue.Describe(tok))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		num, ok := tok.(json.Number)
		if !ok || strings.ContainsAny(num.String(), "-.eE") {
			// serde_json reads -0 as a float, as it reads 1.0 and 1e2: no usize.
			return fmt.Errorf("%s is not a non-negative integer", jsonvalue.Describe(tok))
		}
		n, err := strconv.ParseInt(num.String(), 10, 64)
		if err != nil {
			return fmt.Errorf("%s is more than a 64-bit int holds", jsonvalue.Describe(num))
		}
		if err := add(n); err != nil {
			return err
		}
	}
	_, err = dec.Token() // ']'
	return err
}

// maxInt is the largest int.
const maxInt = int(^uint(0) >> 1)

// scanInfo reads the entry v, a well-formed JSON value, as decodeInfo does, when it is
// as writers write it: keys and dtype without escapes, integers of at most 18 digits, no
// field twice, every field there. For anything else it returns false, and leaves the
// entry to decodeInfoTokens.
func scanInfo(v []byte) (e info, ok bool) {
	i := skipSpace(v, 0)
	if i == len(v) || v[i] != '{' {
		return e, false
	}
	var seen [3]bool
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == '}' {
		return e, false // no fields
	}
	for {
		key, end, ok := plainString(v, i)
		if !ok {
			return e, false
		}
		if i = skipSpace(v, end); i == len(v) || v[i] != ':' {
			return e, false
		}
		i = skipSpace(v, i+1)
		field := fieldOf(key)
		switch field {
		case -1:
			if i, _ = valueEnd(v, i); i < 0 {
				return e, false
			}
		case 0:
			s, end, ok := plainString(v, i)
			if !ok || seen[0] {
				return e, false
			}
			e.dtype, i = pickle.DType(s), end
		case 1:
			if seen[1] {
				return e, false
			}
			e.shape = make([]int, 0, 4)
			if i, ok = scanInts(v, i, func(n int64) bool {
				e.shape = append(e.shape, int(n))
				return n <= int64(maxInt)
			}); !ok {
				return e, false
			}
		case 2:
			k := 0
			i, ok = scanInts(v, i, func(n int64) bool {
				if k == 2 {
					return false
				}
				e.offsets[k] = n
				k++
				return true
			})
			if !ok || k != 2 || seen[2] {
				return e, false
			}
		}
		if field >= 0 {
			seen[field] = true
		}
		switch i = skipSpace(v, i); {
		case i < len(v) && v[i] == ',':
			i = skipSpace(v, i+1)
		case i < len(v) && v[i] == '}':
			if skipSpace(v, i+1) != len(v) || !seen[0] || !seen[1] || !seen[2] {
				return e, false
			}
			return e, true
		default:
			return e, false
		}
	}
}

// plainString returns the text of the JSON string at v[i], and its end, when it is
// printable ASCII with no escape.
func plainString(v []byte, i int) (s string, end int, ok bool) {
	if i >= len(v) || v[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(v); j++ {
		switch c := v[j]; {
		case c == '"':
			return string(v[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", 0, false
		}
	}
	return "", 0, false
}

// scanInts reads the array of integers at v[i], passing each to add, and returns its
// end; false for anything but an array of integers of at most 18 digits, or when add
// does.
func scanInts(v []byte, i int, add func(int64) bool) (int, bool) {
	if i >= len(v) || v[i] != '[' {
		return 0, false
	}
	i = skipSpace(v, i+1)
	if i < len(v) && v[i] == ']' {
		return i + 1, true
	}
	for {
		j := i
		var n int64
		for ; j < len(v) && j-i <= 18 && v[j] >= '0' && v[j] <= '9'; j++ {
			n = n*10 + int64(v[j]-'0')
		}
		if j == i || j-i > 18 || (v[i] == '0' && j-i > 1) || !add(n) {
			return 0, false
		}
		switch i = skipSpace(v, j); {
		case i < len(v) && v[i] == ',':
			i = skipSpace(v, i+1)
		case i < len(v) && v[i] == ']':
			return i + 1, true
		default:
			return 0, false // a fraction, an exponent, anything else
		}
	}
}
