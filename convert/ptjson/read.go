package ptjson

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/internal/jsonvalue"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/pickle"
)

// MaxSize bounds the JSON documents read as checkpoints: Read refuses a longer one and
// Write does not write one.
const MaxSize = 1 << 30

// maxSize is the bound in force, MaxSize; tests lower it.
var maxSize int64 = MaxSize

// Read reads a document of size bytes that Write wrote from r back into its tensors, in
// order, followed by its non-tensor values; name is how errors call the file. The
// document is read as a stream, so that the memory it takes is that of its tensors'
// bytes (at most eight times the document's size) and of its values, which are read in
// one pass, however they nest, and at most 10000 levels deep; it may have at most 1 GiB.
// A tensor's dtype and shape come before its data, as Write writes them; its members of
// other names are ignored. An element is an error when it does not fit its dtype (a
// number outside its range: an integer, or a float that would round to an infinity,
// which the strings "Infinity" and "-Infinity" are; a fraction for an integer dtype; a
// "NaN:0x" string that is not a NaN of its dtype), and so is a dtype the format does not
// encode. "NaN" is the dtype's canonical NaN. A document that holds two entries of one
// name (two tensors, a tensor and a value, two members of one object, be it the
// document, a tensor or a value) is ambiguous, and refused, naming it: json.load keeps
// the last member of an object, ptport does not guess. Errors about the file's content
// are *pickle.FormatError.
func Read(name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	return ReadContext(context.Background(), name, r, size)
}

// ReadContext is Read, stopping once ctx is done: it looks at ctx at each read of the
// document (every few kilobytes) and returns an error that wraps ctx.Err()
// (errors.Is(err, context.Canceled)). ctx governs the reading only.
func ReadContext(ctx context.Context, name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	return ctxio.Read(ctx, name, func() ([]pickle.Leaf, error) { return read(ctx, name, r, size) })
}

func read(ctx context.Context, name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	leaves, err := readDocument(ctx, name, r, size)
	var fe *pickle.FormatError
	if errors.As(err, &fe) && fe.File == name && ctx.Err() == nil && cutShort(ctx, r, size) {
		return nil, &pickle.FormatError{File: name, Where: "JSON document", Msg: fmt.Sprintf("cut short: the file's %d bytes end inside the JSON object (a download that never finished?)", size)}
	}
	return leaves, err
}

// cutShort reports whether the JSON text of size bytes in r ends before its first
// value does: read token by token, it runs out of bytes.
func cutShort(ctx context.Context, r io.ReaderAt, size int64) bool {
	dec := json.NewDecoder(ctxio.Reader(ctx, io.NewSectionReader(r, 0, size)))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) && depth > 0
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			if depth--; depth == 0 {
				return false
			}
		}
	}
}

func readDocument(ctx context.Context, name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	bad := func(format string, args ...any) error {
		return &pickle.FormatError{File: name, Where: "JSON document", Msg: fmt.Sprintf(format, args...)}
	}
	if size > maxSize {
		return nil, bad("%d bytes is more than the %d (%s) a JSON checkpoint may have", size, maxSize, leaf.Bytes(maxSize))
	}
	dec := json.NewDecoder(ctxio.Reader(ctx, io.NewSectionReader(r, 0, size)))
	dec.UseNumber()
	if err := delim(dec, '{'); err != nil {
		return nil, bad("not a JSON object: %v", err)
	}
	var tensors, values []pickle.Leaf
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("%v", err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return nil, bad("a second %s member: ptport does not guess which one is meant", jsonvalue.Describe(key))
		}
		seen[key] = true
		switch key {
		case tensorsKey:
			if tensors, err = readTensors(dec, size); err != nil {
				return nil, bad("%v", err)
			}
		case valuesKey:
			if values, err = jsonvalue.ReadLeaves(dec); err != nil {
				return nil, bad("values: %v", err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, bad("%q: %v", key, err)
			}
		}
	}
	if err := delim(dec, '}'); err != nil {
		return nil, bad("%v", err)
	}
	if !seen[tensorsKey] {
		return nil, bad("no \"tensors\" array: not a JSON document ptport wrote")
	}
	leaves := append(tensors, values...)
	if err := leaf.Distinct(name, "JSON document", leaves); err != nil {
		return nil, err
	}
	return leaves, nil
}

// delim reads the delimiter d.
func delim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("found %s where %v belongs", jsonvalue.Describe(tok), d)
	}
	return nil
}

// readTensors reads the "tensors" array of a document of size bytes.
func readTensors(dec *json.Decoder, size int64) ([]pickle.Leaf, error) {
	if err := delim(dec, '['); err != nil {
		return nil, fmt.Errorf("tensors: %v", err)
	}
	var leaves []pickle.Leaf
	for dec.More() {
		l, err := readTensor(dec, size)
		if err != nil {
			return nil, err
		}
		leaves = append(leaves, l)
	}
	if err := delim(dec, ']'); err != nil {
		return nil, fmt.Errorf("tensors: %v", err)
	}
	return leaves, nil
}

// readTensor reads one {"name", "dtype", "shape", "data"} object; it ignores members
// of other names, and refuses a member given twice.
func readTensor(dec *json.Decoder, size int64) (pickle.Leaf, error) {
	var (
		name  string
		dt    pickle.DType
		shape []int
		n     int64 = -1 // elements, once shape is read
		data  []byte
		seen  = map[string]bool{}
	)
	fail := func(format string, args ...any) (pickle.Leaf, error) {
		return pickle.Leaf{}, fmt.Errorf("tensor %q: %s", name, fmt.Sprintf(format, args...))
	}
	if err := delim(dec, '{'); err != nil {
		return fail("%v", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail("%v", err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return fail("two %s members: ptport does not guess which one is meant", jsonvalue.Describe(key))
		}
		seen[key] = true
		switch key {
		case "name":
			err = dec.Decode(&name)
		case "dtype":
			err = dec.Decode(&dt)
			if err == nil && (dt.Size() == 0 || !jsonDTypes[dt]) {
				return fail("dtype %s is not one ptport's JSON format encodes", jsonvalue.Describe(string(dt)))
			}
		case "shape":
			var dims []int64 // int64 whatever the platform's int; each fits an int once checked
			if err = dec.Decode(&dims); err != nil {
				break
			}
			n = 1
			for _, d := range dims {
				// A document of size bytes holds fewer than size elements.
				if d < 0 || d > 0 && n > size/d {
					return fail("shape %v holds more elements than the %d-byte document", dims, size)
				}
				n *= d
			}
			shape = make([]int, len(dims))
			for i, d := range dims {
				shape[i] = int(d) // at most size, below 1 GiB
			}
		case "data":
			if !seen["dtype"] || n < 0 {
				return fail("data before dtype and shape (ptport writes name, dtype, shape, data)")
			}
			data, err = readData(dec, dt, n)
		default:
			// A member the format does not define might change what the data mean (a
			// "strides" or an "order"): refused rather than skipped.
			return fail("a member %s: a tensor of ptport's JSON format has only name, dtype, shape and data", jsonvalue.Describe(key))
		}
		if err != nil {
			return fail("%s: %v", key, err)
		}
	}
	if err := delim(dec, '}'); err != nil {
		return fail("%v", err)
	}
	if !seen["name"] || !seen["data"] {
		return fail("needs a name, a dtype, a shape and data")
	}
	t, err := pickle.NewTensor(dt, shape, data)
	if err != nil {
		return fail("%v", err)
	}
	return pickle.Leaf{Name: name, Value: t}, nil
}

// readData reads the data array of n elements of dtype dt.
func readData(dec *json.Decoder, dt pickle.DType, n int64) ([]byte, error) {
	if err := delim(dec, '['); err != nil {
		return nil, err
	}
	data := make([]byte, 0, min(n*int64(dt.Size()), 1<<20))
	var i int64
	for ; dec.More(); i++ {
		if i == n {
			return nil, fmt.Errorf("more than the %d elements of the shape", n)
		}
		var err error
		if data, err = appendElement(data, dt, dec); err != nil {
			return nil, fmt.Errorf("element %d: %v", i, err)
		}
	}
	if i != n {
		return nil, fmt.Errorf("%d elements, the shape has %d", i, n)
	}
	return data, delim(dec, ']')
}

// appendElement reads one element of dtype dt and appends its little-endian bytes.
func appendElement(buf []byte, dt pickle.DType, dec *json.Decoder) ([]byte, error) {
	le := binary.LittleEndian
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch dt {
	case pickle.BOOL:
		v, ok := tok.(bool)
		if !ok {
			return nil, fmt.Errorf("%s is not a boolean", jsonvalue.Describe(tok))
		}
		if v {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case pickle.C64, pickle.C128:
		if tok != json.Delim('[') {
			return nil, fmt.Errorf("%s is not a [real, imag] pair", jsonvalue.Describe(tok))
		}
		part := pickle.F32
		if dt == pickle.C128 {
			part = pickle.F64
		}
		for k := 0; k < 2; k++ {
			if !dec.More() {
				return nil, errors.New("a complex element is a [real, imag] pair")
			}
			if buf, err = appendElement(buf, part, dec); err != nil {
				return nil, err
			}
		}
		return buf, delim(dec, ']')
	case pickle.F64, pickle.F32, pickle.F16, pickle.BF16:
		bits, err := jsonvalue.FloatBits(dt, tok)
		if err != nil {
			return nil, err
		}
		switch dt {
		case pickle.F64:
			return le.AppendUint64(buf, bits), nil
		case pickle.F32:
			return le.AppendUint32(buf, uint32(bits)), nil
		}
		return le.AppendUint16(buf, uint16(bits)), nil
	}
	num, ok := tok.(json.Number)
	if !ok {
		return nil, fmt.Errorf("%s is not an integer", jsonvalue.Describe(tok))
	}
	lo, hi := intRange(dt)
	v, err := strconv.ParseInt(num.String(), 10, 64)
	if strings.ContainsAny(num.String(), ".eE") {
		err = strconv.ErrSyntax // a fraction or an exponent, however large
	}
	if errors.Is(err, strconv.ErrRange) || err == nil && (v < lo || v > hi) {
		return nil, fmt.Errorf("%s is outside the range of %s, [%d, %d]", jsonvalue.Describe(num), dt, lo, hi)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not an integer of %s", jsonvalue.Describe(num), dt)
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

// intRange is the range of the integer dtype dt.
func intRange(dt pickle.DType) (lo, hi int64) {
	switch dt {
	case pickle.I8:
		return math.MinInt8, math.MaxInt8
	case pickle.U8:
		return 0, math.MaxUint8
	case pickle.I16:
		return math.MinInt16, math.MaxInt16
	case pickle.I32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// ReadMetadata returns the metadata Write recorded in a document of size bytes from r,
// reading only the start of the document, up to "tensors"; a key given twice there is an
// error, as it is for Read.
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
		if _, ok := meta[key]; ok {
			return nil, bad("a second %s member: ptport does not guess which one is meant", jsonvalue.Describe(key))
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
