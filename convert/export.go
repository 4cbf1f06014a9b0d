package convert

import (
	"archive/zip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ptport/ptport/pickle"
)

// Format names an output format of Export.
type Format string

// The output formats.
const (
	Safetensors Format = "safetensors"
	NPZ         Format = "npz"
	JSON        Format = "json"
	PT          Format = "pt"
)

// Formats lists the output formats in the order help texts show them.
var Formats = []Format{Safetensors, NPZ, JSON, PT}

// FormatOf returns the output format named by name, a format name or a file path whose
// extension names one (.safetensors, .npz, .json, .pt/.pth/.bin/.ckpt).
func FormatOf(name string) (Format, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(name), "."))
	if ext == "" {
		ext = strings.ToLower(name)
	}
	switch ext {
	case "safetensors":
		return Safetensors, nil
	case "npz":
		return NPZ, nil
	case "json":
		return JSON, nil
	case "pt", "pth", "bin", "ckpt":
		return PT, nil
	}
	return "", fmt.Errorf("unknown output format %q (want one of safetensors, npz, json, pt)", name)
}

// Ext returns the file extension of the format, with its dot.
func (f Format) Ext() string { return "." + string(f) }

// Export writes the checkpoint to path in format f, atomically (see WriteFile). Tensors are
// written C-contiguous and little-endian under their names; non-tensor leaves are kept
// as JSON: in safetensors' __metadata__ under "ptport.values", in an npz as the 0-d
// string array "__metadata__", in JSON under "values". NumPy has no bfloat16, so an npz
// holds BF16 tensors widened exactly to float32.
// A .pt output keeps cp's structure (nesting, dict kinds, key order, shared storages);
// a pickled module in it becomes its state_dict.
func Export(path string, f Format, cp *Checkpoint) error {
	t, err := exportTemp(path, f, cp, writeOptions{})
	if err != nil {
		return err
	}
	return t.commit()
}

// exportTemp writes cp as an output at path to a temporary, for the caller to commit.
func exportTemp(path string, f Format, cp *Checkpoint, o writeOptions) (*tempOutput, error) {
	var write func(io.Writer, *Checkpoint, *Source) error
	switch f {
	case Safetensors:
		write = writeSafetensors
	case NPZ:
		write = writeNPZ
	case JSON:
		write = writeJSON
	case PT:
		archive := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		write = func(w io.Writer, cp *Checkpoint, src *Source) error { return writePT(w, cp, src, archive) }
	default:
		return nil, fmt.Errorf("unknown output format %q", f)
	}
	return writeTemp(path, o, func(w io.Writer) error { return write(w, cp, o.source) })
}

// split separates tensors from other leaves.
func split(leaves []pickle.Leaf) (tensors []pickle.Leaf, values []pickle.Leaf) {
	for _, l := range leaves {
		if _, ok := l.Value.(*pickle.Tensor); ok {
			tensors = append(tensors, l)
		} else {
			values = append(values, l)
		}
	}
	return tensors, values
}

// valuesJSON is the JSON object of the non-tensor leaves, in order, or nil if none.
func valuesJSON(values []pickle.Leaf) []byte {
	if len(values) == 0 {
		return nil
	}
	buf := []byte{'{'}
	for i, v := range values {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, v.Name)
		buf = append(buf, ':')
		buf = appendValue(buf, v.Value)
	}
	return append(buf, '}')
}

// metadataKey is the safetensors __metadata__ key under which non-tensor leaves are kept.
const metadataKey = "ptport.values"

// sourceKey is the safetensors __metadata__ key of the Source of a batch output.
const sourceKey = "ptport.source"

func writeSafetensors(w io.Writer, cp *Checkpoint, src *Source) error {
	tensors, values := split(cp.Leaves)
	hdr := []byte(`{"__metadata__":{"format":"pt"`)
	if src != nil {
		b, _ := json.Marshal(src)
		hdr = append(hdr, ',')
		hdr = appendString(hdr, sourceKey)
		hdr = append(hdr, ':')
		hdr = appendString(hdr, string(b))
	}
	if v := valuesJSON(values); v != nil {
		hdr = append(hdr, ',')
		hdr = appendString(hdr, metadataKey)
		hdr = append(hdr, ':')
		hdr = appendString(hdr, string(v))
	}
	hdr = append(hdr, '}')
	var off int64
	for _, l := range tensors {
		t := l.Value.(*pickle.Tensor)
		hdr = append(hdr, ',')
		hdr = appendString(hdr, l.Name)
		hdr = append(hdr, `:{"dtype":"`...)
		hdr = append(hdr, t.DType...)
		hdr = append(hdr, `","shape":`...)
		hdr = appendInts(hdr, t.Shape)
		n := t.NumBytes()
		hdr = append(hdr, `,"data_offsets":[`...)
		hdr = strconv.AppendInt(hdr, off, 10)
		hdr = append(hdr, ',')
		hdr = strconv.AppendInt(hdr, off+n, 10)
		hdr = append(hdr, "]}"...)
		off += n
	}
	hdr = append(hdr, '}')
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	var size [8]byte
	binary.LittleEndian.PutUint64(size[:], uint64(len(hdr)))
	if _, err := w.Write(size[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	out, _ := w.(*output)
	for _, l := range tensors {
		t := l.Value.(*pickle.Tensor)
		if src, off, n, ok := t.Span(); ok && out != nil {
			copied, err := out.copyRange(src, off, n)
			if err != nil {
				return fmt.Errorf("tensor %s: %w", l.Name, err)
			}
			if copied {
				continue
			}
		}
		if _, err := t.WriteTo(w); err != nil {
			return fmt.Errorf("tensor %s: %w", l.Name, err)
		}
	}
	return nil
}

func appendInts(buf []byte, xs []int) []byte {
	buf = append(buf, '[')
	for i, x := range xs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, int64(x), 10)
	}
	return append(buf, ']')
}

// npyDescr is NumPy's dtype string of each dtype.
var npyDescr = map[pickle.DType]string{
	pickle.F64: "<f8", pickle.F32: "<f4", pickle.F16: "<f2", pickle.BF16: "<f4",
	pickle.I64: "<i8", pickle.I32: "<i4", pickle.I16: "<i2", pickle.I8: "|i1",
	pickle.U8: "|u1", pickle.BOOL: "|b1", pickle.C64: "<c8", pickle.C128: "<c16",
}

// npyHeader is the NPY format 1.0 header of an array, padded to 64 bytes.
func npyHeader(descr string, shape []int) []byte {
	dict := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': ("
	for _, d := range shape {
		dict += strconv.Itoa(d) + ", "
	}
	if len(shape) > 1 {
		dict = strings.TrimSuffix(dict, " ")
		dict = strings.TrimSuffix(dict, ",")
	} else if len(shape) == 1 {
		dict = strings.TrimSuffix(dict, " ")
	}
	dict += "), }"
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	dict += strings.Repeat(" ", pad) + "\n"
	h := []byte("\x93NUMPY\x01\x00")
	h = binary.LittleEndian.AppendUint16(h, uint16(len(dict)))
	return append(h, dict...)
}

func writeNPZ(w io.Writer, cp *Checkpoint, src *Source) error {
	tensors, values := split(cp.Leaves)
	zw := zip.NewWriter(w)
	for _, l := range tensors {
		t := l.Value.(*pickle.Tensor)
		descr, ok := npyDescr[t.DType]
		if !ok {
			return fmt.Errorf("tensor %s: dtype %s has no NumPy equivalent", l.Name, t.DType)
		}
		e, err := zw.CreateHeader(&zip.FileHeader{Name: l.Name + ".npy", Method: zip.Store})
		if err != nil {
			return err
		}
		if _, err := e.Write(npyHeader(descr, t.Shape)); err != nil {
			return err
		}
		if t.DType == pickle.BF16 {
			err = writeFloat32s(e, t)
		} else {
			_, err = t.WriteTo(e)
		}
		if err != nil {
			return fmt.Errorf("tensor %s: %w", l.Name, err)
		}
	}
	if v := valuesJSON(values); v != nil {
		if err := writeNPYString(zw, "__metadata__", string(v)); err != nil {
			return err
		}
	}
	if src != nil {
		b, _ := json.Marshal(src)
		if err := writeNPYString(zw, npzSourceMember, string(b)); err != nil {
			return err
		}
	}
	return zw.Close()
}

// npzSourceMember is the npz member holding the Source of a batch output.
const npzSourceMember = "__source__"

// writeNPYString adds a 0-d NumPy string array (UTF-32) to the zip.
func writeNPYString(zw *zip.Writer, name, s string) error {
	runes := []rune(s)
	e, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store})
	if err != nil {
		return err
	}
	if _, err := e.Write(npyHeader("<U"+strconv.Itoa(len(runes)), nil)); err != nil {
		return err
	}
	buf := make([]byte, 0, 4*len(runes))
	for _, r := range runes {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(r))
	}
	_, err = e.Write(buf)
	return err
}

// writeFloat32s writes t's elements as little-endian float32.
func writeFloat32s(w io.Writer, t *pickle.Tensor) error {
	xs, err := t.Float32s()
	if err != nil {
		return err
	}
	buf := make([]byte, 0, 4*len(xs))
	for _, x := range xs {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
	}
	_, err = w.Write(buf)
	return err
}

// ptSourceRecord is the record of a .pt batch output holding its Source; torch.load
// ignores it.
const ptSourceRecord = ".ptport_source"

// writePT writes cp's tree as torch.save does, under the archive folder named like the
// output (torch.save names it after the file).
func writePT(w io.Writer, cp *Checkpoint, src *Source, archive string) error {
	opts := &pickle.WriteOptions{Archive: archive}
	if src != nil {
		b, _ := json.Marshal(src)
		opts.Records = map[string][]byte{ptSourceRecord: b}
	}
	return pickle.Write(w, cp.Root, opts)
}
