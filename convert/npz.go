package convert

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ptport/ptport/pickle"
)

// dtypeOfDescr is the dtype of each NumPy descr ptport reads (little-endian or
// byte-order-free only).
var dtypeOfDescr = map[string]pickle.DType{
	"<f8": pickle.F64, "<f4": pickle.F32, "<f2": pickle.F16,
	"<i8": pickle.I64, "<i4": pickle.I32, "<i2": pickle.I16, "|i1": pickle.I8,
	"|u1": pickle.U8, "|b1": pickle.BOOL, "<c8": pickle.C64, "<c16": pickle.C128,
}

// readNPZ reads the arrays of an npz file (numpy.savez or savez_compressed) as tensors
// named by their member names without ".npy". Stored members are read lazily in place;
// compressed ones are inflated into memory, never past their declared size. A member
// "__metadata__.npy" written by ptport gives back the non-tensor values.
func readNPZ(name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, &pickle.FormatError{File: name, Where: "zip directory", Msg: err.Error()}
	}
	var leaves, values []pickle.Leaf
	for _, f := range zr.File {
		bad := func(format string, args ...any) error {
			return &pickle.FormatError{File: name, Where: "member " + f.Name, Msg: fmt.Sprintf(format, args...)}
		}
		if !strings.HasSuffix(f.Name, ".npy") {
			continue
		}
		arr := strings.TrimSuffix(f.Name, ".npy")
		if f.UncompressedSize64 > uint64(size)*1032 && f.Method != zip.Store {
			return nil, bad("declares %d bytes from a %d-byte file", f.UncompressedSize64, size)
		}
		var body io.ReaderAt
		var bodySize int64
		switch f.Method {
		case zip.Store:
			off, err := f.DataOffset()
			if err != nil || off+int64(f.UncompressedSize64) > size {
				return nil, bad("data past the end of the file")
			}
			body, bodySize = io.NewSectionReader(r, off, int64(f.UncompressedSize64)), int64(f.UncompressedSize64)
		default:
			rc, err := f.Open()
			if err != nil {
				return nil, bad("%v", err)
			}
			b, err := io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)+1))
			rc.Close()
			if err != nil || uint64(len(b)) != f.UncompressedSize64 {
				return nil, bad("inflating: %v", err)
			}
			body, bodySize = bytes.NewReader(b), int64(len(b))
		}
		t, dataOff, descr, err := readNPY(body, bodySize)
		if err != nil {
			return nil, bad("%v", err)
		}
		if arr == npzSourceMember && strings.HasPrefix(descr, "<U") {
			continue
		}
		if arr == "__metadata__" && strings.HasPrefix(descr, "<U") {
			v, err := readUnicode(body, dataOff, bodySize-dataOff)
			if err != nil {
				return nil, bad("%v", err)
			}
			values, err = metadataLeaves(map[string]string{metadataKey: v})
			if err != nil {
				return nil, bad("%v", err)
			}
			continue
		}
		if t == nil {
			return nil, bad("dtype %s is not a tensor dtype ptport reads", descr)
		}
		leaves = append(leaves, pickle.Leaf{Name: arr, Value: t})
	}
	return append(leaves, values...), nil
}

var npyDict = regexp.MustCompile(`^\{\s*'descr':\s*'([^']*)',\s*'fortran_order':\s*(True|False),\s*'shape':\s*\(([0-9,\s]*)\),?\s*\}\s*$`)

// readNPY parses an NPY array of size bytes from r. It returns the tensor (nil for a
// descr that is no tensor dtype), the offset of the data and the descr.
func readNPY(r io.ReaderAt, size int64) (*pickle.Tensor, int64, string, error) {
	var pre [12]byte
	if size < 10 {
		return nil, 0, "", fmt.Errorf("too short for an NPY header")
	}
	if _, err := r.ReadAt(pre[:min(12, size)], 0); err != nil && err != io.EOF {
		return nil, 0, "", err
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, 0, "", fmt.Errorf("not an NPY array (bad magic)")
	}
	var hlen, start int64
	switch pre[6] {
	case 1:
		hlen, start = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case 2, 3:
		hlen, start = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return nil, 0, "", fmt.Errorf("NPY version %d", pre[6])
	}
	if start+hlen > size {
		return nil, 0, "", fmt.Errorf("NPY header of %d bytes does not fit", hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := r.ReadAt(hdr, start); err != nil {
		return nil, 0, "", err
	}
	m := npyDict.FindSubmatch(hdr)
	if m == nil {
		return nil, 0, "", fmt.Errorf("unreadable NPY header %q", hdr)
	}
	descr := string(m[1])
	var shape []int
	count := int64(1)
	for _, f := range strings.Split(string(m[3]), ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 || (d > 0 && count > (1<<62)/int64(d)) {
			return nil, 0, "", fmt.Errorf("bad NPY shape %q", m[3])
		}
		shape = append(shape, d)
		count *= int64(d)
	}
	dataOff := start + hlen
	dt, ok := dtypeOfDescr[descr]
	if !ok {
		if strings.HasPrefix(descr, ">") {
			return nil, 0, "", fmt.Errorf("big-endian NPY arrays (%s) are not read", descr)
		}
		return nil, dataOff, descr, nil
	}
	n := count * int64(dt.Size())
	if dataOff+n > size {
		return nil, 0, "", fmt.Errorf("%v %s needs %d bytes, the member has %d", shape, descr, n, size-dataOff)
	}
	st, err := pickle.NewStorageAt(dt, r, dataOff, n)
	if err != nil {
		return nil, 0, "", err
	}
	strides := contiguousStrides(shape)
	if string(m[2]) == "True" {
		s := 1
		for i := range shape {
			strides[i] = s
			s *= shape[i]
		}
	}
	return &pickle.Tensor{DType: dt, Shape: shape, Strides: strides, Storage: st}, dataOff, descr, nil
}

// readUnicode decodes a NumPy UTF-32 string of n bytes at off.
func readUnicode(r io.ReaderAt, off, n int64) (string, error) {
	if n%4 != 0 || n > 64<<20 {
		return "", fmt.Errorf("bad unicode array size %d", n)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil && err != io.EOF {
		return "", err
	}
	var s strings.Builder
	for i := 0; i < len(b); i += 4 {
		c := rune(binary.LittleEndian.Uint32(b[i:]))
		if c == 0 {
			break
		}
		if !utf8.ValidRune(c) {
			return "", fmt.Errorf("invalid character in string array")
		}
		s.WriteRune(c)
	}
	if !json.Valid([]byte(s.String())) {
		return "", fmt.Errorf("__metadata__ is not JSON")
	}
	return s.String(), nil
}
