package ptjson

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ptport/ptport/convert/internal/jsonvalue"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/pickle"
)

// The document's own keys; metadata keys are the others.
const (
	tensorsKey = "tensors"
	valuesKey  = "values"
)

// document is a document that Write has checked and is to write.
type document struct {
	head, tail []byte
	tensors    []pickle.Leaf
	tooLarge   func(size int64, what string) error
}

// Check returns the error that Write would return for leaves and meta before writing
// anything (see Write), without writing: a caller that does work before writing (a
// batch hashing its input) refuses a document sure to pass MaxSize first.
func Check(leaves []pickle.Leaf, meta map[string]string) error {
	_, err := prepare(leaves, meta)
	return err
}

// prepare makes the document of leaves and meta, but for the tensors' elements, and
// refuses it when it is sure to pass maxSize.
func prepare(leaves []pickle.Leaf, meta map[string]string) (*document, error) {
	if err := leaf.Unique(leaves); err != nil {
		return nil, fmt.Errorf("ptjson: %w", err)
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if k == "" || k == tensorsKey || k == valuesKey {
			return nil, fmt.Errorf("ptjson: metadata key %q is reserved", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tensors, values := leaf.Split(leaves)
	if err := leaf.Nested(values); err != nil {
		return nil, fmt.Errorf("ptjson: %w", err)
	}
	head := []byte("{")
	for _, k := range keys {
		head = jsonvalue.AppendString(head, k)
		head = append(head, ": "...)
		if v := meta[k]; strings.HasPrefix(v, "{") && json.Valid([]byte(v)) {
			head = append(head, v...)
		} else {
			head = jsonvalue.AppendString(head, v)
		}
		head = append(head, ",\n"...)
	}
	for _, l := range tensors {
		if dt := l.Value.(*pickle.Tensor).DType; !jsonDTypes[dt] {
			return nil, fmt.Errorf("ptjson: tensor %s: ptport's JSON format has no element encoding for dtype %s", l.Name, dt)
		}
	}
	head = append(head, "\"tensors\": ["...)
	tail := []byte("\n]")
	v := jsonvalue.Object(values)
	if v != nil {
		tail = append(tail, ",\n\"values\": "...)
		tail = append(tail, v...)
	}
	tail = append(tail, "}\n"...)
	// The document takes at least its head, its tail, the tensors' headers and the
	// shortest form of each element; Write refuses at once what is sure to pass maxSize, and stops, with the
	// same error, as soon as what it writes passes it.
	tooLarge := func(size int64, what string) error {
		e := &leaf.TooLargeError{Format: "json", What: what, Size: size, AtLeast: true, Limit: maxSize,
			Instead: "safetensors, npz and .pt keep tensors this large"}
		if 2*int64(len(v)) > maxSize {
			e.Instead = ".pt keeps values this large"
		}
		return e
	}
	least := int64(len(head) + len(tail))
	var hdr []byte
	for i, l := range tensors {
		hdr = tensorHeader(hdr[:0], i, l)
		least += int64(len(hdr)+len("]}")) + minDataBytes(l.Value.(*pickle.Tensor))
	}
	if least > maxSize {
		return nil, tooLarge(least, fmt.Sprintf("the document (%d tensors in their shortest elements, and %d bytes of values)", len(tensors), len(v)))
	}
	return &document{head: head, tail: tail, tensors: tensors, tooLarge: tooLarge}, nil
}

// Write writes leaves to w as one JSON document:
//
//	{"KEY": ..., "tensors": [{"name": ..., "dtype": ..., "shape": [...], "data": [...]}, ...],
//	 "values": {name: value, ...}}
//
// data is the tensor's elements in C order. Floats are written in the shortest form that
// reads back to the same value of their dtype (F16 and BF16 through float32, which holds
// them exactly); infinities are the strings "Infinity" and "-Infinity", the dtype's
// canonical NaN is "NaN" and any other NaN "NaN:0x" and its bits ("NaN:0xffff" in
// BF16), so that every element reads back to its bits; booleans are true/false; complex
// elements are [real, imag] pairs. values holds the non-tensor leaves as typed JSON
// (integers stay integers, floats floats; see the package doc); it is left out when
// there are none. Two leaves that share a name (see leaf.Unique) are an error wrapping a
// *leaf.ClashError (convert.ClashError), and a value nested deeper than pickle.MaxDepth one wrapping a
// *leaf.NameError, before anything is written. Each entry of meta comes first, in key
// order, as a JSON string, or as the object itself when the entry is a JSON object;
// ReadMetadata gives it back. A key of meta must not be empty, "tensors" or "values".
// A document longer than MaxSize is a *leaf.TooLargeError: before anything is written
// when its tensors' element counts and its values show it, else when the bytes written
// pass MaxSize (w then holds part of the document).
func Write(w io.Writer, leaves []pickle.Leaf, meta map[string]string) error {
	d, err := prepare(leaves, meta)
	if err != nil {
		return err
	}
	head, tail, tensors, tooLarge := d.head, d.tail, d.tensors, d.tooLarge
	var hdr []byte
	w = &limitWriter{w: w, tooLarge: func(n int64) error { return tooLarge(n, "the document") }}
	if _, err := w.Write(head); err != nil {
		return err
	}
	for i, l := range tensors {
		t := l.Value.(*pickle.Tensor)
		hdr = tensorHeader(hdr[:0], i, l)
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		ew := &elementWriter{w: w, dtype: t.DType, size: t.DType.Size()}
		if _, err := t.WriteTo(ew); err != nil {
			return fmt.Errorf("tensor %s: %w", l.Name, err)
		}
		if err := ew.flush(); err != nil {
			return fmt.Errorf("tensor %s: %w", l.Name, err)
		}
		if _, err := io.WriteString(w, "]}"); err != nil {
			return err
		}
	}
	_, err = w.Write(tail)
	return err
}

// tensorHeader appends what comes before the elements of the i-th tensor, l, to b.
func tensorHeader(b []byte, i int, l pickle.Leaf) []byte {
	t := l.Value.(*pickle.Tensor)
	if i > 0 {
		b = append(b, ',')
	}
	b = append(b, "\n  {\"name\": "...)
	b = jsonvalue.AppendString(b, l.Name)
	b = append(b, ", \"dtype\": \""...)
	b = append(b, t.DType...)
	b = append(b, "\", \"shape\": "...)
	b = jsonvalue.AppendInts(b, t.Shape)
	return append(b, ", \"data\": ["...)
}

// minDataBytes is the least a tensor's "data" array takes: each element in its shortest
// form ("0", "true", "[0,0]") and ", " between two.
func minDataBytes(t *pickle.Tensor) int64 {
	n := int64(t.NumElements())
	if n == 0 || n > maxSize {
		return n
	}
	least := int64(1)
	switch t.DType {
	case pickle.BOOL:
		least = 4
	case pickle.C64, pickle.C128:
		least = 5
	}
	return n*least + 2*(n-1)
}

// limitWriter writes to w until the bytes written would pass maxSize, and then fails
// with tooLarge of the bytes they would take.
type limitWriter struct {
	w        io.Writer
	n        int64
	tooLarge func(n int64) error
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n+int64(len(p)) > maxSize {
		return 0, l.tooLarge(l.n + int64(len(p)))
	}
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}

// elementWriter turns a stream of little-endian elements into comma-separated JSON
// numbers, keeping a partial element between writes.
type elementWriter struct {
	w       io.Writer
	dtype   pickle.DType
	size    int
	partial []byte
	n       int
	buf     []byte
}

func (e *elementWriter) Write(p []byte) (int, error) {
	total := len(p)
	if len(e.partial) > 0 {
		k := min(e.size-len(e.partial), len(p))
		e.partial = append(e.partial, p[:k]...)
		p = p[k:]
		if len(e.partial) == e.size {
			e.element(e.partial)
			e.partial = e.partial[:0]
		}
	}
	for len(p) >= e.size {
		e.element(p[:e.size])
		p = p[e.size:]
		if len(e.buf) >= 1<<16 {
			if err := e.flush(); err != nil {
				return 0, err
			}
		}
	}
	e.partial = append(e.partial, p...)
	return total, nil
}

func (e *elementWriter) flush() error {
	_, err := e.w.Write(e.buf)
	e.buf = e.buf[:0]
	return err
}

// jsonDTypes are the dtypes whose elements Write encodes (and Read decodes).
var jsonDTypes = map[pickle.DType]bool{
	pickle.F64: true, pickle.F32: true, pickle.F16: true, pickle.BF16: true, pickle.C64: true,
	pickle.C128: true, pickle.I64: true, pickle.I32: true, pickle.I16: true, pickle.I8: true,
	pickle.U8: true, pickle.BOOL: true,
}

func (e *elementWriter) element(b []byte) {
	if e.n > 0 {
		e.buf = append(e.buf, ", "...)
	}
	e.n++
	le := binary.LittleEndian
	switch e.dtype {
	case pickle.F64:
		e.buf = jsonvalue.AppendFloatBits(e.buf, pickle.F64, le.Uint64(b))
	case pickle.F32:
		e.buf = jsonvalue.AppendFloatBits(e.buf, pickle.F32, uint64(le.Uint32(b)))
	case pickle.F16, pickle.BF16:
		e.buf = jsonvalue.AppendFloatBits(e.buf, e.dtype, uint64(le.Uint16(b)))
	case pickle.C64:
		e.buf = append(e.buf, '[')
		e.buf = jsonvalue.AppendFloatBits(e.buf, pickle.F32, uint64(le.Uint32(b)))
		e.buf = append(e.buf, ',')
		e.buf = jsonvalue.AppendFloatBits(e.buf, pickle.F32, uint64(le.Uint32(b[4:])))
		e.buf = append(e.buf, ']')
	case pickle.C128:
		e.buf = append(e.buf, '[')
		e.buf = jsonvalue.AppendFloatBits(e.buf, pickle.F64, le.Uint64(b))
		e.buf = append(e.buf, ',')
		e.buf = jsonvalue.AppendFloatBits(e.buf, pickle.F64, le.Uint64(b[8:]))
		e.buf = append(e.buf, ']')
	case pickle.I64:
		e.buf = jsonvalue.Append(e.buf, int64(le.Uint64(b)))
	case pickle.I32:
		e.buf = jsonvalue.Append(e.buf, int64(int32(le.Uint32(b))))
	case pickle.I16:
		e.buf = jsonvalue.Append(e.buf, int64(int16(le.Uint16(b))))
	case pickle.I8:
		e.buf = jsonvalue.Append(e.buf, int64(int8(b[0])))
	case pickle.U8:
		e.buf = jsonvalue.Append(e.buf, int64(b[0]))
	case pickle.BOOL:
		e.buf = jsonvalue.Append(e.buf, b[0] != 0)
	}
}
