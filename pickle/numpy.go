package pickle

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nlpodyssey/gopickle/types"
)

// numpy values, as numpy pickles them (numpy/core/src/multiarray in numpy
// 1.x, numpy/_core/src/multiarray in numpy 2.x):
//
//   - a dtype is numpy.dtype(str, align, copy), e.g. numpy.dtype("f8",
//     False, True), then BUILD with (version, byte order, subarray, names,
//     fields, element size, alignment, flags[, metadata]);
//   - a scalar is numpy.core.multiarray.scalar(dtype, bytes)
//     (numpy._core.multiarray.scalar in numpy 2), its bytes in the dtype's
//     byte order; for an object dtype the second argument is the object;
//   - an array is numpy.core.multiarray._reconstruct(numpy.ndarray, (0,),
//     b"b"), then BUILD with (version, shape, dtype, is_fortran, data),
//     data the raw bytes in C or Fortran order (a list of the items for
//     object arrays); with protocol 5, numpy.core.numeric._frombuffer(
//     buffer, dtype, shape, order).

// npDType is a numpy dtype.
type npDType struct {
	kind  byte // 'f', 'i', 'u', 'b', 'c', 'U', 'S', 'O', 'V', 'M', 'm', ...
	size  int  // bytes of one element (for 'U', four per character)
	order byte // '<', '>', '|' or '='
	spec  string
	// structured: names or fields or a subarray in the state
	structured bool
}

// str returns the dtype as numpy's dtype.str spells it ("<f8", "|b1", "<U5").
func (d *npDType) str() string {
	n := d.size
	if d.kind == 'U' {
		n /= 4
	}
	return string(d.order) + string(d.kind) + strconv.Itoa(n)
}

func (d *npDType) String() string { return "numpy dtype " + strconv.Quote(d.spec) }

// newNpDType implements numpy.dtype(obj, align, copy) for the type strings
// numpy pickles ("f8", "<i4", "b1", "U5", "O8", ...).
func newNpDType(args []any) (*npDType, error) {
	if len(args) < 1 || len(args) > 3 {
		return nil, fmt.Errorf("numpy.dtype: expected (type, align, copy), got %d arguments", len(args))
	}
	s, ok := asString(args[0])
	if !ok {
		return nil, fmt.Errorf("numpy.dtype: type is %s, not a type string", typeName(args[0]))
	}
	d := &npDType{order: '=', spec: s}
	if s != "" && strings.IndexByte("<>|=", s[0]) >= 0 {
		d.order, s = s[0], s[1:]
	}
	if s == "" {
		return nil, fmt.Errorf("numpy.dtype: empty type string")
	}
	d.kind = s[0]
	if len(s) > 1 {
		n, err := strconv.Atoi(s[1:])
		if err != nil || n < 0 || n > 1<<20 {
			return nil, fmt.Errorf("numpy.dtype: unsupported type string %q", d.spec)
		}
		d.size = n
	}
	switch d.kind {
	case 'U':
		d.size *= 4
	case 'f', 'i', 'u', 'b', 'c', 'S', 'O', 'V', 'M', 'm':
	default:
		return nil, fmt.Errorf("numpy.dtype: unsupported type string %q", d.spec)
	}
	return d, nil
}

// setState implements dtype.__setstate__.
func (d *npDType) setState(state any) error {
	t, ok := state.(*types.Tuple)
	if !ok || len(*t) < 7 {
		return fmt.Errorf("numpy dtype state is %s, not a tuple of 7 to 9 items", typeName(state))
	}
	st := *t
	order, ok := asString(st[1])
	if !ok || len(order) != 1 || strings.IndexByte("<>|=", order[0]) < 0 {
		return fmt.Errorf("numpy dtype state: invalid byte order %v", st[1])
	}
	d.order = order[0]
	if st[2] != nil || st[3] != nil || st[4] != nil {
		d.structured = true
	}
	if d.kind == 'U' || d.kind == 'S' || d.kind == 'V' {
		if n, ok := toInt64(st[5]); ok && n > 0 && n <= 1<<22 {
			d.size = int(n)
		}
	}
	return nil
}

// dtype returns the DType of a numeric or bool numpy dtype.
func (d *npDType) dtype() (DType, error) {
	if d.structured {
		return "", fmt.Errorf("structured numpy dtypes (fields, subarrays) are not supported")
	}
	var dt DType
	switch fmt.Sprintf("%c%d", d.kind, d.size) {
	case "f8":
		dt = F64
	case "f4":
		dt = F32
	case "f2":
		dt = F16
	case "i8":
		dt = I64
	case "i4":
		dt = I32
	case "i2":
		dt = I16
	case "i1":
		dt = I8
	case "u1":
		dt = U8
	case "u2":
		dt = U16
	case "u4":
		dt = U32
	case "u8":
		dt = U64
	case "b1":
		dt = BOOL
	case "c8":
		dt = C64
	case "c16":
		dt = C128
	}
	if dt == "" || dt.Size() != d.size {
		return "", fmt.Errorf("numpy dtype %q has no dtype here", d.spec)
	}
	return dt, nil
}

// bigEndian reports whether elements are stored most significant byte
// first ('=' is the writer's native order, little-endian on every
// platform torch runs on).
func (d *npDType) bigEndian() bool { return d.order == '>' }

// latin1Bytes returns data given as bytes, or as a str holding bytes
// (Python 2 pickles), as numpy reads it.
func latin1Bytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case *types.ByteArray:
		return *x, true
	case string:
		out := make([]byte, 0, len(x))
		for _, r := range x {
			if r > 0xff {
				return nil, false
			}
			out = append(out, byte(r))
		}
		return out, true
	}
	return nil, false
}

// littleEndian returns data in little-endian order, as a new slice when
// it must be swapped.
func littleEndian(dt DType, data []byte, big bool) []byte {
	if !big {
		return data
	}
	out := append([]byte(nil), data...)
	u := dt.swapUnit()
	for i := 0; i+u <= len(out); i += u {
		for a, b := i, i+u-1; a < b; a, b = a+1, b-1 {
			out[a], out[b] = out[b], out[a]
		}
	}
	return out
}

// npScalar implements numpy.core.multiarray.scalar(dtype, data).
func npScalar(args []any) (any, error) {
	if len(args) != 2 && len(args) != 1 {
		return nil, fmt.Errorf("numpy scalar: expected (dtype, data), got %d arguments", len(args))
	}
	d, ok := args[0].(*npDType)
	if !ok {
		return nil, fmt.Errorf("numpy scalar: dtype is %s", typeName(args[0]))
	}
	if d.kind == 'O' {
		if len(args) != 2 {
			return nil, fmt.Errorf("numpy scalar of object dtype without its object")
		}
		return args[1], nil
	}
	if len(args) != 2 {
		return nil, fmt.Errorf("numpy scalar without its data")
	}
	data, ok := latin1Bytes(args[1])
	if !ok {
		return nil, fmt.Errorf("numpy scalar: data is %s, not bytes", typeName(args[1]))
	}
	if len(data) != d.size {
		return nil, fmt.Errorf("numpy scalar of %s: %d bytes of data, want %d", d, len(data), d.size)
	}
	switch d.kind {
	case 'U':
		return ucs4(data, d.bigEndian())
	case 'S':
		return append([]byte(nil), trimNUL(data)...), nil
	}
	dt, err := d.dtype()
	if err != nil {
		return nil, err
	}
	return Scalar{DType: dt, Data: append([]byte(nil), littleEndian(dt, data, d.bigEndian())...)}, nil
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// ucs4 decodes numpy's fixed-width unicode (UTF-32), dropping trailing NULs.
func ucs4(b []byte, big bool) (string, error) {
	var sb strings.Builder
	for i := 0; i+4 <= len(b); i += 4 {
		var r uint32
		if big {
			r = binary.BigEndian.Uint32(b[i:])
		} else {
			r = binary.LittleEndian.Uint32(b[i:])
		}
		if r == 0 {
			rest := b[i:]
			for _, c := range rest {
				if c != 0 {
					return "", fmt.Errorf("numpy unicode value with a NUL inside")
				}
			}
			break
		}
		if r > utf8.MaxRune {
			return "", fmt.Errorf("numpy unicode value holds an invalid code point %#x", r)
		}
		sb.WriteString(pyRune(rune(r)))
	}
	return sb.String(), nil
}

// npArray is a numpy array: empty from _reconstruct until BUILD sets its
// shape, dtype and data; then v holds its value (*tensorVal, or a List
// for arrays of objects and strings).
type npArray struct {
	v any
}

// npReconstruct implements numpy.core.multiarray._reconstruct(subtype,
// shape, dtype): an empty array of subtype, which must be numpy.ndarray.
func npReconstruct(args []any) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("numpy _reconstruct: expected (subtype, shape, dtype), got %d arguments", len(args))
	}
	if c, ok := args[0].(*pyClass); !ok || c.kind != gNumpyNDArray {
		return nil, fmt.Errorf("numpy _reconstruct of %s: only numpy.ndarray is supported", typeName(args[0]))
	}
	return &npArray{}, nil
}

// setState implements ndarray.__setstate__((version, shape, dtype,
// is_fortran, data)) (version 1; version 0 has no version item).
func (a *npArray) setState(r *reader, state any) error {
	t, ok := state.(*types.Tuple)
	if !ok || (len(*t) != 5 && len(*t) != 4) {
		return fmt.Errorf("numpy array state is %s, not a tuple of 4 or 5 items", typeName(state))
	}
	st := *t
	if len(st) == 5 {
		st = st[1:]
	}
	shape, err := intTuple(st[0])
	if err != nil {
		return fmt.Errorf("numpy array shape: %v", err)
	}
	d, ok := st[1].(*npDType)
	if !ok {
		return fmt.Errorf("numpy array dtype is %s", typeName(st[1]))
	}
	fortran, ok := st[2].(bool)
	if !ok {
		if n, isInt := toInt64(st[2]); isInt {
			fortran, ok = n != 0, true
		}
	}
	if !ok {
		return fmt.Errorf("numpy array order flag is %s", typeName(st[2]))
	}
	v, err := npArrayValue(r.expansion, shape, d, fortran, st[3])
	if err != nil {
		return err
	}
	a.v = v
	return nil
}

// npFromBuffer implements numpy.core.numeric._frombuffer(buffer, dtype,
// shape, order).
func npFromBuffer(exp *expandBudget, args []any) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("numpy _frombuffer: expected (buffer, dtype, shape, order), got %d arguments", len(args))
	}
	d, ok := args[1].(*npDType)
	if !ok {
		return nil, fmt.Errorf("numpy _frombuffer: dtype is %s", typeName(args[1]))
	}
	shape, err := intTuple(args[2])
	if err != nil {
		return nil, fmt.Errorf("numpy _frombuffer: shape: %v", err)
	}
	order, _ := asString(args[3])
	if order != "C" && order != "F" {
		return nil, fmt.Errorf("numpy _frombuffer: order %v", args[3])
	}
	v, err := npArrayValue(exp, shape, d, order == "F", args[0])
	if err != nil {
		return nil, err
	}
	return &npArray{v: v}, nil
}

// npArrayValue returns the value of an array: a tensor of its bytes, or a
// nested List for an array of objects or strings. The reads of the tensor
// are charged to exp, the expansion budget of the file it was read from.
func npArrayValue(exp *expandBudget, shape []int, d *npDType, fortran bool, data any) (any, error) {
	n, ok := numel(shape)
	if !ok {
		return nil, fmt.Errorf("numpy array: invalid shape %v", shape)
	}
	if d.kind == 'O' {
		items, ok := iterItems(data)
		if !ok {
			return nil, fmt.Errorf("numpy object array: data is %s, not a list", typeName(data))
		}
		if int64(len(items)) != n {
			return nil, fmt.Errorf("numpy object array of shape %v holds %d items", shape, len(items))
		}
		if fortran && len(shape) > 1 {
			return nil, fmt.Errorf("numpy object arrays in Fortran order are not supported")
		}
		return nestList(shape, append([]any(nil), items...)), nil
	}
	raw, ok := latin1Bytes(data)
	if !ok {
		return nil, fmt.Errorf("numpy array: data is %s, not bytes", typeName(data))
	}
	if d.size == 0 || int64(len(raw)/d.size) != n || len(raw)%d.size != 0 {
		return nil, fmt.Errorf("numpy array of shape %v and %s: %d bytes of data", shape, d, len(raw))
	}
	if d.kind == 'U' || d.kind == 'S' {
		if fortran && len(shape) > 1 {
			return nil, fmt.Errorf("numpy string arrays in Fortran order are not supported")
		}
		items := make([]any, n)
		for i := range items {
			b := raw[i*d.size : (i+1)*d.size]
			if d.kind == 'S' {
				items[i] = append([]byte(nil), trimNUL(b)...)
				continue
			}
			s, err := ucs4(b, d.bigEndian())
			if err != nil {
				return nil, err
			}
			items[i] = s
		}
		return nestList(shape, items), nil
	}
	dt, err := d.dtype()
	if err != nil {
		return nil, err
	}
	s := &Storage{DType: dt, Len: int64(n), Device: "cpu", src: memSource(raw), swap: d.bigEndian(), expansion: exp}
	strides := make([]int, len(shape))
	acc := 1
	for k := range shape {
		i := len(shape) - 1 - k // C order: the last dimension varies fastest
		if fortran {
			i = k
		}
		strides[i] = acc
		acc *= max(shape[i], 1)
	}
	t := &Tensor{DType: dt, Shape: shape, Strides: strides, Storage: s}
	if err := t.checkBounds(); err != nil {
		return nil, err
	}
	return &tensorVal{t: t}, nil
}

// nestList arranges items (in C order) as nested lists of the shape.
func nestList(shape []int, items []any) any {
	if len(shape) == 0 {
		if len(items) == 1 {
			return items[0]
		}
		return nil
	}
	if len(shape) == 1 {
		return types.NewListFromSlice(items)
	}
	step := len(items) / max(shape[0], 1)
	out := make([]any, shape[0])
	for i := range out {
		out[i] = nestList(shape[1:], items[i*step:(i+1)*step])
	}
	return types.NewListFromSlice(out)
}

// npDTypeClasses are numpy 2's dtype classes (numpy.dtypes), each with the
// type string of the dtype it makes when called.
var npDTypeClasses = map[string]string{
	"BoolDType": "b1", "Int8DType": "i1", "UInt8DType": "u1", "Int16DType": "i2",
	"UInt16DType": "u2", "Int32DType": "i4", "UInt32DType": "u4", "Int64DType": "i8",
	"UInt64DType": "u8", "ByteDType": "i1", "UByteDType": "u1", "ShortDType": "i2",
	"UShortDType": "u2", "IntDType": "i4", "UIntDType": "u4", "LongDType": "i8",
	"ULongDType": "u8", "LongLongDType": "i8", "ULongLongDType": "u8",
	"Float16DType": "f2", "Float32DType": "f4", "Float64DType": "f8",
	"Complex64DType": "c8", "Complex128DType": "c16", "ObjectDType": "O8",
	"LongDoubleDType": "", "CLongDoubleDType": "", "BytesDType": "", "StrDType": "",
	"VoidDType": "", "DateTime64DType": "", "TimeDelta64DType": "", "StringDType": "",
}
