package convert

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"math"

	"github.com/ptport/ptport/pickle"
)

// writeJSON writes leaves as one JSON document:
//
//	{"source": {...}, "tensors": [{"name": ..., "dtype": ..., "shape": [...], "data": [...]}, ...],
//	 "values": {name: value, ...}}
//
// data is the tensor's elements in C order. Floats are written in the shortest form that
// reads back to the same value of their dtype (F16 and BF16 through float32, which holds
// them exactly); NaN and infinities are the strings "NaN", "Infinity", "-Infinity";
// booleans are true/false; complex elements are [real, imag] pairs.
func writeJSON(w io.Writer, cp *Checkpoint, src *Source) error {
	tensors, values := split(cp.Leaves)
	head := "{"
	if src != nil {
		b, _ := json.Marshal(src)
		head += "\"source\": " + string(b) + ",\n"
	}
	if _, err := io.WriteString(w, head+"\"tensors\": ["); err != nil {
		return err
	}
	for i, l := range tensors {
		t := l.Value.(*pickle.Tensor)
		hdr := []byte("\n  {\"name\": ")
		if i > 0 {
			hdr = append([]byte{','}, hdr...)
		}
		hdr = appendString(hdr, l.Name)
		hdr = append(hdr, ", \"dtype\": \""...)
		hdr = append(hdr, t.DType...)
		hdr = append(hdr, "\", \"shape\": "...)
		hdr = appendInts(hdr, t.Shape)
		hdr = append(hdr, ", \"data\": ["...)
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		ew := &elementWriter{w: w, dtype: t.DType, size: t.DType.Size()}
		if _, err := t.WriteTo(ew); err != nil {
			return err
		}
		if err := ew.flush(); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "]}"); err != nil {
			return err
		}
	}
	tail := []byte("\n]")
	if v := valuesJSON(values); v != nil {
		tail = append(tail, ",\n\"values\": "...)
		tail = append(tail, v...)
	}
	tail = append(tail, "}\n"...)
	_, err := w.Write(tail)
	return err
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

func (e *elementWriter) element(b []byte) {
	if e.n > 0 {
		e.buf = append(e.buf, ", "...)
	}
	e.n++
	le := binary.LittleEndian
	switch e.dtype {
	case pickle.F64:
		e.buf = appendFloat(e.buf, math.Float64frombits(le.Uint64(b)), 64)
	case pickle.F32:
		e.buf = appendFloat(e.buf, float64(math.Float32frombits(le.Uint32(b))), 32)
	case pickle.F16:
		e.buf = appendFloat(e.buf, float64(pickle.Float16To32(le.Uint16(b))), 32)
	case pickle.BF16:
		e.buf = appendFloat(e.buf, float64(math.Float32frombits(uint32(le.Uint16(b))<<16)), 32)
	case pickle.C64:
		e.buf = appendValue(e.buf, complex(float64(math.Float32frombits(le.Uint32(b))), float64(math.Float32frombits(le.Uint32(b[4:])))))
	case pickle.C128:
		e.buf = appendValue(e.buf, complex(math.Float64frombits(le.Uint64(b)), math.Float64frombits(le.Uint64(b[8:]))))
	case pickle.I64:
		e.buf = appendValue(e.buf, int64(le.Uint64(b)))
	case pickle.I32:
		e.buf = appendValue(e.buf, int64(int32(le.Uint32(b))))
	case pickle.I16:
		e.buf = appendValue(e.buf, int64(int16(le.Uint16(b))))
	case pickle.I8:
		e.buf = appendValue(e.buf, int64(int8(b[0])))
	case pickle.U8:
		e.buf = appendValue(e.buf, int64(b[0]))
	case pickle.BOOL:
		e.buf = appendValue(e.buf, b[0] != 0)
	}
}
