package ptjson

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/ptport/ptport/convert/internal/jsonvalue"
	"github.com/ptport/ptport/pickle"
)

// maxJSONInput bounds the JSON documents read as checkpoints, which are held in memory.
const maxJSONInput = 1 << 30

// Read reads a document of size bytes that Write wrote from r back into its tensors, in
// order, followed by its non-tensor values; name is how errors call the file. The
// document is held in memory, so it may have at most 1 GiB. Errors about the file's
// content are *pickle.FormatError.
func Read(name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	bad := func(format string, args ...any) error {
		return &pickle.FormatError{File: name, Where: "JSON document", Msg: fmt.Sprintf(format, args...)}
	}
	if size > maxJSONInput {
		return nil, bad("%d bytes is more than the %d a JSON checkpoint may have", size, maxJSONInput)
	}
	b := make([]byte, size)
	if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, bad("%v", err)
	}
	var doc struct {
		Tensors *[]struct {
			Name  string            `json:"name"`
			DType pickle.DType      `json:"dtype"`
			Shape []int             `json:"shape"`
			Data  []json.RawMessage `json:"data"`
		} `json:"tensors"`
		Values json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, bad("%v", err)
	}
	if doc.Tensors == nil {
		return nil, bad("no \"tensors\" array: not a JSON document ptport wrote")
	}
	var leaves []pickle.Leaf
	for _, t := range *doc.Tensors {
		size := t.DType.Size()
		if size == 0 {
			return nil, bad("tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		n := 1
		for _, d := range t.Shape {
			if d < 0 || (d > 0 && n > len(t.Data)/d) {
				return nil, bad("tensor %q: shape %v does not fit its %d elements", t.Name, t.Shape, len(t.Data))
			}
			n *= d
		}
		if n != len(t.Data) {
			return nil, bad("tensor %q: shape %v needs %d elements, data has %d", t.Name, t.Shape, n, len(t.Data))
		}
		data := make([]byte, 0, n*size)
		for i, e := range t.Data {
			var err error
			if data, err = appendElement(data, t.DType, e); err != nil {
				return nil, bad("tensor %q element %d: %v", t.Name, i, err)
			}
		}
		tn, err := pickle.NewTensor(t.DType, t.Shape, data)
		if err != nil {
			return nil, bad("tensor %q: %v", t.Name, err)
		}
		leaves = append(leaves, pickle.Leaf{Name: t.Name, Value: tn})
	}
	if len(doc.Values) > 0 {
		values, err := jsonvalue.Leaves(string(doc.Values))
		if err != nil {
			return nil, bad("values: %v", err)
		}
		leaves = append(leaves, values...)
	}
	return leaves, nil
}

// appendElement appends the little-endian bytes of one JSON element of dtype dt.
func appendElement(buf []byte, dt pickle.DType, raw json.RawMessage) ([]byte, error) {
	le := binary.LittleEndian
	switch dt {
	case pickle.BOOL:
		var v bool
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		if v {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case pickle.C64, pickle.C128:
		var pair [2]json.RawMessage
		if err := json.Unmarshal(raw, &pair); err != nil {
			return nil, err
		}
		part := pickle.F32
		if dt == pickle.C128 {
			part = pickle.F64
		}
		buf, err := appendElement(buf, part, pair[0])
		if err != nil {
			return nil, err
		}
		return appendElement(buf, part, pair[1])
	case pickle.F64, pickle.F32, pickle.F16, pickle.BF16:
		f, err := jsonFloat(raw)
		if err != nil {
			return nil, err
		}
		switch dt {
		case pickle.F64:
			return le.AppendUint64(buf, math.Float64bits(f)), nil
		case pickle.F32:
			return le.AppendUint32(buf, math.Float32bits(float32(f))), nil
		case pickle.F16:
			return le.AppendUint16(buf, float32ToHalf(float32(f))), nil
		default:
			return le.AppendUint16(buf, float32ToBF16(float32(f))), nil
		}
	}
	var v int64
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	switch dt {
	case pickle.I64:
		return le.AppendUint64(buf, uint64(v)), nil
	case pickle.I32:
		return le.AppendUint32(buf, uint32(v)), nil
	case pickle.I16:
		return le.AppendUint16(buf, uint16(v)), nil
	}
	return append(buf, byte(v)), nil // I8, U8
}

// jsonFloat reads a number, or one of the strings Write uses for NaN and infinities.
func jsonFloat(raw json.RawMessage) (float64, error) {
	switch string(bytes.TrimSpace(raw)) {
	case `"NaN"`:
		return math.NaN(), nil
	case `"Infinity"`:
		return math.Inf(1), nil
	case `"-Infinity"`:
		return math.Inf(-1), nil
	}
	var f float64
	err := json.Unmarshal(raw, &f)
	return f, err
}

// float32ToBF16 rounds f to bfloat16, to nearest even; NaN stays NaN.
func float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// float32ToHalf rounds f to IEEE 754 half precision, to nearest even.
func float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf, NaN
		if frac != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127 > 15: // overflow
		return sign | 0x7c00
	case exp-127 >= -14: // normal
		h := uint32(exp-127+15)<<10 | frac>>13
		rest := frac & 0x1fff
		if rest > 0x1000 || (rest == 0x1000 && h&1 == 1) {
			h++ // may carry into the exponent, up to Inf: correct
		}
		return sign | uint16(h)
	case exp-127 < -25: // underflow to zero
		return sign
	}
	// subnormal: value = m * 2^(e-23) with the implicit bit, in units of 2^-24
	m := frac | 0x800000
	shift := uint32(-(exp - 127) - 14 + 13) // bits dropped
	h := m >> shift
	rest := m & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rest > half || (rest == half && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

// ReadMetadata returns the metadata Write recorded in a document of size bytes from r,
// reading only the start of the document, up to "tensors".
func ReadMetadata(name string, r io.ReaderAt, size int64) (map[string]string, error) {
	bad := func(format string, args ...any) error {
		return &pickle.FormatError{File: name, Where: "JSON document", Msg: fmt.Sprintf(format, args...)}
	}
	dec := json.NewDecoder(io.NewSectionReader(r, 0, size))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad("not a JSON object")
	}
	meta := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("%v", err)
		}
		key, _ := tok.(string)
		if key == tensorsKey || key == valuesKey {
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, bad("%q: %v", key, err)
		}
		if len(v) > 0 && v[0] == '"' {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, bad("%q: %v", key, err)
			}
			meta[key] = s
		} else {
			meta[key] = string(v)
		}
	}
	return meta, nil
}
