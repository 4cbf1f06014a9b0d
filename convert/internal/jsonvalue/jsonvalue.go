package jsonvalue

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/internal/leaf"
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
// order. See ReadLeaves.
func Leaves(obj string) ([]pickle.Leaf, error) { return LeavesContext(context.Background(), obj) }

// LeavesContext is Leaves, stopping with ctx's error once ctx is done.
func LeavesContext(ctx context.Context, obj string) ([]pickle.Leaf, error) {
	dec := json.NewDecoder(ctxio.Reader(ctx, strings.NewReader(obj)))
	dec.UseNumber()
	leaves, err := ReadLeaves(dec)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return leaves, err
}

// maxNesting bounds how deeply the arrays and objects of the values may nest, the object
// of the values included, so that reading them takes a bounded stack: twice
// pickle.MaxDepth and one, as a tree of that depth nests at most so deep, each dict whose
// members read like a tag in a {"builtins.dict": ...} of its own.
const maxNesting = 2*pickle.MaxDepth + 1

// ReadLeaves reads the JSON object that Object wrote, the next value of dec, which must
// be set to UseNumber, back into the leaves it was made of, in order. It reads the
// object's tokens once, each as it comes, so that its time and memory grow as the
// object's size, however its tagged objects nest. The values are the items of a tree's
// root, at depth 1, and as everywhere in ptport, a value nested deeper than
// pickle.MaxDepth levels is an error.
func ReadLeaves(dec *json.Decoder) ([]pickle.Leaf, error) {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	r := reader{dec: dec, depth: 1}
	var leaves []pickle.Leaf
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			return leaves, nil
		}
		name := tok.(string) // a member's name is a string
		val, err := r.value()
		if err == nil && leaf.TooDeep(val, pickle.MaxDepth-1) {
			err = errTooDeep
		}
		if errors.Is(err, errTooDeep) || errors.Is(err, errIntDigits) {
			return nil, fmt.Errorf("%s: %w", quote(name), err)
		}
		if err != nil {
			return nil, err
		}
		leaves = append(leaves, pickle.Leaf{Name: name, Value: val})
	}
}

var errTooDeep = fmt.Errorf("nested deeper than %d levels, the most that ptport reads or writes in any format", pickle.MaxDepth)

var errNotObject = errors.New("not a JSON object")

// A reader reads the values Append wrote from the tokens of a decoder.
type reader struct {
	dec   *json.Decoder
	depth int // of the arrays and objects open
}

// enter counts the array or object whose first token was read.
func (r *reader) enter() error {
	if r.depth++; r.depth > maxNesting {
		return errTooDeep
	}
	return nil
}

// value reads one JSON value written by Append back into the value it was:
// integers as int64 (or *big.Int), numbers with a fraction or exponent as float64,
// arrays as pickle.List, objects as an ordered *pickle.Dict or the value of the type a
// one-member object names.
func (r *reader) value() (any, error) {
	tok, err := r.dec.Token()
	if err != nil {
		return nil, err
	}
	return r.valueFrom(tok)
}

// valueFrom reads the value whose first token, tok, has been read.
func (r *reader) valueFrom(tok json.Token) (any, error) {
	switch tok {
	case json.Delim('['):
		l, _, err := r.array()
		return l, err
	case json.Delim('{'):
		_, v, verr, err := r.object()
		if err == nil {
			err = verr
		}
		return v, err
	}
	if num, ok := tok.(json.Number); ok {
		return number(num)
	}
	return tok, nil // string, bool, nil
}

// maxIntDigits bounds the digits of an integer: decoding decimal digits takes time
// quadratic in their number. It is the most an int of a pickle takes, which Append
// writes: the pickle reader's LONG4 of 2048 bytes (-2^16383, 4932 digits) is longer
// than its 4300-digit LONG (Python's own limit).
const maxIntDigits = 4932

var errIntDigits = fmt.Errorf("an integer of more than %d digits, the most that ptport reads", maxIntDigits)

// number is the integer or float num is.
func number(num json.Number) (any, error) {
	s := num.String()
	if strings.ContainsAny(s, ".eE") {
		return num.Float64()
	}
	if i, err := num.Int64(); err == nil {
		return i, nil
	}
	if n := len(strings.TrimPrefix(s, "-")); n > maxIntDigits {
		return nil, fmt.Errorf("%w: %d digits", errIntDigits, n)
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, fmt.Errorf("bad number %s", Describe(num))
	}
	return b, nil
}

// array reads the rest of an array whose '[' has been read, and returns the first
// tokens of its first two elements too.
func (r *reader) array() (l pickle.List, first [2]json.Token, err error) {
	if err := r.enter(); err != nil {
		return nil, first, err
	}
	l = pickle.List{}
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return nil, first, err
		}
		if tok == json.Delim(']') {
			r.depth--
			return l, first, nil
		}
		if len(l) < len(first) {
			first[len(l)] = tok
		}
		v, err := r.valueFrom(tok)
		if err != nil {
			return nil, first, err
		}
		l = append(l, v)
	}
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

// object reads the rest of an object whose '{' has been read. It returns the object's
// members as a dict, and the value the object is: the dict, or for an object of one
// member named for a type (a tag), the value of that type, or verr if the member's
// value is not one of the type. verr is apart from err, the error that fails the read,
// because a tagged object is an object of its own as the value of builtins.dict: the
// members of {"builtins.dict": {"builtins.float": "x"}} are the dict's, "x" is no float.
// Each token is read once, whatever the object turns out to be.
func (r *reader) object() (members *pickle.Dict, v any, verr, err error) {
	if err := r.enter(); err != nil {
		return nil, nil, nil, err
	}
	d := &pickle.Dict{Ordered: true}
	var tag string
	var arg tagValue
	names := map[string]bool{}
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return nil, nil, nil, err
		}
		if tok == json.Delim('}') {
			break
		}
		key := tok.(string) // a member's name is a string
		if names[key] {
			return nil, nil, nil, fmt.Errorf("two members named %s in one object: ptport does not guess which one is meant", quote(key))
		}
		var v any
		switch {
		case len(d.Entries) == 0 && isTag(key):
			tag = key
			v, arg, err = r.tagValue()
		case len(d.Entries) == 1 && arg.err != nil:
			return nil, nil, nil, arg.err // the first member's value is needed as it is
		default:
			v, err = r.value()
		}
		if err != nil {
			return nil, nil, nil, err
		}
		d.Entries = append(d.Entries, pickle.DictEntry{Key: key, Value: v})
		names[key] = true
	}
	r.depth--
	if tag == "" || len(d.Entries) > 1 {
		return d, d, nil, nil
	}
	v, verr = arg.as(tag)
	return d, v, verr, nil
}

// A tagValue is the value of a tag's member, as what it is for each reading of the
// object: its first token, and the first tokens of the first two elements of an
// array, or the members of an object, for the tag; the error the value has as a value
// of its own, for an object of more members.
type tagValue struct {
	tok     json.Token
	first   [2]json.Token
	n       int // elements of an array
	members *pickle.Dict
	err     error
}

// tagValue reads the value of a tag's member: the value it is, and what the tag reads.
func (r *reader) tagValue() (any, tagValue, error) {
	tok, err := r.dec.Token()
	if err != nil {
		return nil, tagValue{}, err
	}
	t := tagValue{tok: tok}
	switch tok {
	case json.Delim('['):
		l, first, err := r.array()
		t.first, t.n = first, len(l)
		return l, t, err
	case json.Delim('{'):
		members, v, verr, err := r.object()
		t.members, t.err = members, verr
		return v, t, err
	}
	v, err := r.valueFrom(tok) // a number, string, boolean or null
	t.err = err
	return v, t, nil
}

// as is the value of the one-member object {tag: t}, as Append wrote it.
func (t tagValue) as(tag string) (any, error) {
	bad := func() error { return fmt.Errorf("invalid %s value %s", tag, Describe(t.tok)) }
	switch tag {
	case dictTag:
		if t.members == nil {
			return nil, bad()
		}
		return t.members, nil
	case floatTag:
		bits, err := FloatBits(pickle.F64, t.tok)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", tag, err)
		}
		return math.Float64frombits(bits), nil
	case bytesTag:
		s, ok := t.tok.(string)
		if !ok {
			return nil, bad()
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", tag, err)
		}
		return b, nil
	case complexTag:
		re, im, err := t.pair(pickle.F64)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", tag, err)
		}
		return complex(math.Float64frombits(re), math.Float64frombits(im)), nil
	}
	return t.scalar(numpyDTypes[strings.TrimPrefix(tag, "numpy.")])
}

// pair returns the bits of the two floats of dtype dt of a [real, imag] pair.
func (t tagValue) pair(dt pickle.DType) (re, im uint64, err error) {
	if t.tok != json.Delim('[') || t.n != 2 {
		return 0, 0, errors.New("a complex number is a [real, imag] pair")
	}
	if re, err = FloatBits(dt, t.first[0]); err != nil {
		return 0, 0, err
	}
	im, err = FloatBits(dt, t.first[1])
	return re, im, err
}

// Describe is the JSON token tok as an error says it: a string quoted, a string or
// number cut to its first 40 bytes, an array or object by its delimiter, null as null.
func Describe(tok json.Token) string {
	switch tok := tok.(type) {
	case nil:
		return "null"
	case string:
		return quote(tok)
	case json.Number:
		if len(tok) > 40 {
			return string(tok[:40]) + "..."
		}
	}
	return fmt.Sprint(tok)
}

// quote is s quoted, cut to its first 40 bytes if it is longer.
func quote(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "..."
	}
	return strconv.Quote(s)
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

// scalar makes the numpy scalar of dtype dt that appendScalar wrote, from the value t
// of its tag.
func (t tagValue) scalar(dt pickle.DType) (any, error) {
	le := binary.LittleEndian
	b := make([]byte, 0, dt.Size())
	name := "numpy." + numpyNames[dt]
	tok := t.tok
	bad := func() error { return fmt.Errorf("invalid %s value %s", name, Describe(tok)) }
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
		re, im, err := t.pair(part)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		b = append(le.AppendUint64(nil, re)[:part.Size()], le.AppendUint64(nil, im)[:part.Size()]...)
	case pickle.BOOL:
		x, ok := tok.(bool)
		if !ok {
			return nil, bad()
		}
		if x {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	default:
		num, ok := tok.(json.Number)
		if !ok {
			return nil, bad()
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
			return nil, bad()
		}
		b = le.AppendUint64(b, u)[:dt.Size()]
	}
	return pickle.Scalar{DType: dt, Data: b}, nil
}
