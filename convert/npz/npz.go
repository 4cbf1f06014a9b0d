package npz

import (
	"archive/zip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/internal/jsonvalue"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/pickle"
)

// dtypeOfCode is the dtype of each NumPy type code ptport reads, the descr without its
// byte order.
var dtypeOfCode = map[string]pickle.DType{
	"f8": pickle.F64, "f4": pickle.F32, "f2": pickle.F16,
	"i8": pickle.I64, "i4": pickle.I32, "i2": pickle.I16, "i1": pickle.I8,
	"u1": pickle.U8, "u2": pickle.U16, "u4": pickle.U32, "u8": pickle.U64,
	"b1": pickle.BOOL, "c8": pickle.C64, "c16": pickle.C128,
}

// dtypeOfDescr returns the dtype of a NumPy descr ('<f4', '>i8', '|u1'), and whether
// its elements are stored big-endian; ok is false for a descr that is no tensor dtype
// ptport reads.
func dtypeOfDescr(descr string) (dt pickle.DType, big, ok bool) {
	if len(descr) < 2 {
		return "", false, false
	}
	dt, ok = dtypeOfCode[descr[1:]]
	switch descr[0] {
	case '<', '|':
		return dt, false, ok
	case '>':
		return dt, true, ok
	}
	return "", false, false
}

// valuesMember is the npz member that holds a checkpoint's non-tensor values;
// dtypesMember records the dtypes of the tensors that Write widened.
const (
	valuesMember = "__metadata__"
	dtypesMember = "__dtypes__"
)

// MaxString bounds the string members that hold an npz's metadata (the non-tensor
// values, the widened dtypes, each entry of Write's meta), as NumPy's UTF-32, 4 bytes a
// character: Read refuses a longer one and Write does not write one.
const MaxString = 64 << 20

// maxString is the bound in force, MaxString; tests lower it.
var maxString int64 = MaxString

// reserved says what each member that ptport's npz writer writes itself records.
var reserved = map[string]string{valuesMember: "the non-tensor values", dtypesMember: "the dtypes of the tensors it widened"}

// metadataName returns KEY for the name __KEY__ of a member that may hold metadata.
func metadataName(member string) (string, bool) {
	if len(member) <= 4 || !strings.HasPrefix(member, "__") || !strings.HasSuffix(member, "__") || member == valuesMember || member == dtypesMember {
		return "", false
	}
	return member[2 : len(member)-2], true
}

// Read reads the arrays of an npz file (numpy.savez or savez_compressed) of size bytes
// from r as tensors named by their member names without ".npy"; name is how errors call
// the file. Members are read lazily in place: a stored one's bytes from r, a compressed
// one inflated as far as each read asks (see pickle.ZipRecord), so that reading the
// file inflates only the members' headers. Members may not share bytes of the file, and
// compressed ones may inflate to max(64 × the file's size, 16 MiB) in all. The
// member "__metadata__.npy" that Write writes gives back the non-tensor values, listed
// after the tensors; the member "__dtypes__.npy" gives the tensors Write widened their
// dtype back (a float32 array recorded as BF16 must hold bfloat16 values); other string
// members "__KEY__.npy" are metadata (see ReadMetadata), not tensors. The names
// "__metadata__" and "__dtypes__" are reserved, as Write refuses tensors of them: either
// member that is not a string array is an error. Errors about the
// file's content are *pickle.FormatError.
func Read(name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	return ReadContext(context.Background(), name, r, size)
}

// ReadContext is Read, stopping once ctx is done: it looks at ctx every few hundred
// members and as it reads the non-tensor values, and returns an error that wraps
// ctx.Err() (errors.Is(err, context.Canceled)). ctx governs the reading only: the
// tensors read their bytes from r whatever becomes of it.
func ReadContext(ctx context.Context, name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	return ctxio.Read(ctx, name, func() ([]pickle.Leaf, error) { return read(ctx, name, r, size) })
}

// pollEvery is how many members ReadContext reads between two looks at its context.
const pollEvery = 256

func read(ctx context.Context, name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, &pickle.FormatError{File: name, Where: "zip directory", Msg: err.Error()}
	}
	named := func(err error) error {
		var fe *pickle.FormatError
		if errors.As(err, &fe) && fe.File == "" {
			c := *fe
			c.File = name
			return &c
		}
		return err
	}
	var members []*zip.File
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".npy") {
			members = append(members, f)
		}
	}
	if err := pickle.CheckZipRecords(members, size); err != nil {
		return nil, named(err)
	}
	// A compressed member expands at most 1032 times; the members of a file together
	// may hold at most max(64 × its size, 16 MiB), as a pickle's tensors may (see
	// pickle.Options.ExpandLimit).
	var inflated uint64
	for _, f := range members {
		if f.Method != zip.Store {
			inflated += f.UncompressedSize64
		}
	}
	if limit := uint64(max(64*size, 16<<20)); inflated > limit {
		return nil, &pickle.FormatError{File: name, Where: "zip directory", Msg: fmt.Sprintf("its compressed members inflate to %d bytes, more than the limit of %d bytes for a file of %d bytes (max(64 × its size, 16 MiB))", inflated, limit, size)}
	}
	var leaves, values []pickle.Leaf
	var widened map[string]pickle.DType
	seen := make(map[string]bool, len(members))
	for i, f := range members {
		if i%pollEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		bad := func(format string, args ...any) error {
			return &pickle.FormatError{File: name, Where: "member " + f.Name, Msg: fmt.Sprintf(format, args...)}
		}
		arr := strings.TrimSuffix(f.Name, ".npy")
		if seen[f.Name] {
			return nil, bad("a second member of this name: the file holds two arrays %q, and ptport does not guess which one is meant (numpy.load keeps the last)", arr)
		}
		seen[f.Name] = true
		body, bodySize, err := pickle.ZipRecord(f, r, size)
		if err != nil {
			return nil, named(err)
		}
		t, dataOff, descr, err := readNPY(body, bodySize)
		if err != nil {
			return nil, bad("%v", err)
		}
		if _, ok := metadataName(arr); ok && strings.HasPrefix(descr, "<U") {
			continue
		}
		if (arr == valuesMember || arr == dtypesMember) && !strings.HasPrefix(descr, "<U") {
			return nil, bad("an array of %s, where ptport's npz writer records %s as a string; the name is reserved", descr, reserved[arr])
		}
		if arr == valuesMember {
			v, err := readUnicode(body, dataOff, bodySize-dataOff)
			if err != nil {
				return nil, bad("%v", err)
			}
			if !json.Valid([]byte(v)) {
				return nil, bad("__metadata__ is not JSON")
			}
			values, err = jsonvalue.LeavesContext(ctx, v)
			if err != nil {
				return nil, bad("__metadata__: %v", err)
			}
			continue
		}
		if arr == dtypesMember {
			v, err := readUnicode(body, dataOff, bodySize-dataOff)
			if err != nil {
				return nil, bad("%v", err)
			}
			if err := json.Unmarshal([]byte(v), &widened); err != nil {
				return nil, bad("__dtypes__ is not a JSON object of dtypes: %v", err)
			}
			continue
		}
		if t == nil {
			return nil, bad("dtype %s is not a tensor dtype ptport reads", descr)
		}
		leaves = append(leaves, pickle.Leaf{Name: arr, Value: t})
	}
	if err := narrow(leaves, widened); err != nil {
		return nil, &pickle.FormatError{File: name, Where: "member " + dtypesMember + ".npy", Msg: err.Error()}
	}
	leaves = append(leaves, values...)
	if err := leaf.Distinct(name, "member "+valuesMember+".npy", leaves); err != nil {
		return nil, err
	}
	return leaves, nil
}

// Widened returns the dtype in which Write stores a tensor of dtype dt, and whether it is
// wider than dt: float32 for BF16, which NumPy lacks (the widening is exact, and Read
// gives the tensor back as BF16, bit for bit).
func Widened(dt pickle.DType) (pickle.DType, bool) {
	if dt == pickle.BF16 {
		return pickle.F32, true
	}
	return dt, false
}

// narrow gives the tensors that Write widened, as the record dtypes names them, their
// own dtype back.
func narrow(leaves []pickle.Leaf, dtypes map[string]pickle.DType) error {
	if len(dtypes) == 0 {
		return nil
	}
	found := 0
	for i, l := range leaves {
		dt, ok := dtypes[l.Name]
		if !ok {
			continue
		}
		found++
		t := l.Value.(*pickle.Tensor)
		wide, ok := Widened(dt)
		if !ok {
			return fmt.Errorf("tensor %q: recorded as %s, which ptport's npz writer never widens (it records BF16 tensors, stored as %s)", l.Name, dt, pickle.F32)
		}
		if t.DType != wide {
			return fmt.Errorf("tensor %q: recorded as %s, which ptport's npz writer stores as %s, but the array is %s", l.Name, dt, wide, t.DType)
		}
		data, err := t.Bytes()
		if err != nil {
			return fmt.Errorf("tensor %q: %w", l.Name, err)
		}
		b := make([]byte, len(data)/2)
		for k := range len(b) / 2 {
			x := binary.LittleEndian.Uint32(data[4*k:])
			if x&0xffff != 0 {
				return fmt.Errorf("tensor %q: element %d, %g, is not a bfloat16 value", l.Name, k, math.Float32frombits(x))
			}
			binary.LittleEndian.PutUint16(b[2*k:], uint16(x>>16))
		}
		if leaves[i].Value, err = pickle.NewTensor(dt, t.Shape, b); err != nil {
			return fmt.Errorf("tensor %q: %w", l.Name, err)
		}
	}
	if found != len(dtypes) {
		held := make(map[string]bool, len(leaves))
		for _, l := range leaves {
			held[l.Name] = true
		}
		first := ""
		for n := range dtypes {
			if !held[n] && (first == "" || n < first) {
				first = n
			}
		}
		if missing := len(dtypes) - found; missing > 1 {
			return fmt.Errorf("names %d tensors that the file does not hold, such as %s", missing, jsonvalue.Describe(first))
		}
		return fmt.Errorf("names a tensor that the file does not hold: %s", jsonvalue.Describe(first))
	}
	return nil
}

// ReadMetadata returns the metadata Write recorded in an npz file of size bytes, reading
// only the members that hold it.
func ReadMetadata(name string, r io.ReaderAt, size int64) (map[string]string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, &pickle.FormatError{File: name, Where: "zip directory", Msg: err.Error()}
	}
	meta := map[string]string{}
	for _, m := range zr.File {
		key, ok := metadataName(strings.TrimSuffix(m.Name, ".npy"))
		if !ok || !strings.HasSuffix(m.Name, ".npy") || m.Method != zip.Store {
			continue
		}
		bad := func(format string, args ...any) error {
			return &pickle.FormatError{File: name, Where: "member " + m.Name, Msg: fmt.Sprintf(format, args...)}
		}
		off, err := m.DataOffset()
		if err != nil || off+int64(m.UncompressedSize64) > size {
			return nil, bad("data past the end of the file")
		}
		body := io.NewSectionReader(r, off, int64(m.UncompressedSize64))
		_, dataOff, descr, err := readNPY(body, int64(m.UncompressedSize64))
		if err != nil {
			return nil, bad("%v", err)
		}
		if !strings.HasPrefix(descr, "<U") {
			continue
		}
		if meta[key], err = readUnicode(body, dataOff, int64(m.UncompressedSize64)-dataOff); err != nil {
			return nil, bad("%v", err)
		}
	}
	return meta, nil
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
	dt, big, ok := dtypeOfDescr(descr)
	if !ok {
		return nil, dataOff, descr, nil
	}
	n := count * int64(dt.Size())
	if dataOff+n > size {
		return nil, 0, "", fmt.Errorf("%v %s needs %d bytes, the member has %d", shape, descr, n, size-dataOff)
	}
	newStorage := pickle.NewStorageAt
	if big {
		newStorage = pickle.NewBigEndianStorageAt // read little-endian, swapped
	}
	st, err := newStorage(dt, r, dataOff, n)
	if err != nil {
		return nil, 0, "", err
	}
	strides := leaf.Strides(shape)
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
	if n > maxString {
		return "", fmt.Errorf("string array of %d bytes is more than the %d (%s) that ptport reads", n, maxString, leaf.Bytes(maxString))
	}
	if n%4 != 0 {
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
	return s.String(), nil
}

// npyDescr is NumPy's dtype string of each dtype Write writes.
var npyDescr = map[pickle.DType]string{
	pickle.F64: "<f8", pickle.F32: "<f4", pickle.F16: "<f2", pickle.BF16: "<f4",
	pickle.I64: "<i8", pickle.I32: "<i4", pickle.I16: "<i2", pickle.I8: "|i1",
	pickle.U8: "|u1", pickle.U16: "<u2", pickle.U32: "<u4", pickle.U64: "<u8",
	pickle.BOOL: "|b1", pickle.C64: "<c8", pickle.C128: "<c16",
}

// npyHeader is the NPY header of an array, padded to 64 bytes: format 1.0, or 2.0 when
// it is too long for 1.0.
func npyHeader(descr string, shape []int) []byte {
	b := []byte("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (")
	for i, d := range shape {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(d), 10)
	}
	if len(shape) == 1 {
		b = append(b, ',')
	}
	dict := string(b) + "), }"
	pad := func(prefix int) string {
		return dict + strings.Repeat(" ", (64-(prefix+len(dict)+1)%64)%64) + "\n"
	}
	if d := pad(10); len(d) <= math.MaxUint16 {
		h := []byte("\x93NUMPY\x01\x00")
		h = binary.LittleEndian.AppendUint16(h, uint16(len(d)))
		return append(h, d...)
	}
	// A header too long for format 1.0's 16-bit length (tens of thousands of
	// dimensions) takes format 2.0's 32-bit one, as NumPy writes it.
	d := pad(12)
	h := []byte("\x93NUMPY\x02\x00")
	h = binary.LittleEndian.AppendUint32(h, uint32(len(d)))
	return append(h, d...)
}

// Write writes leaves to w as an npz file, as numpy.savez does (stored, not compressed):
// each tensor C-contiguous and little-endian as the member NAME.npy, in order; the
// non-tensor leaves as typed JSON in the 0-d string array "__metadata__"; and each
// entry of meta as the 0-d string array "__KEY__", in key order, which ReadMetadata
// gives back. NumPy has no bfloat16, so BF16 tensors are widened exactly to float32 (see
// Widened) and their dtype is recorded, as the JSON object {NAME: "BF16", ...} in the
// 0-d string array "__dtypes__", from which Read restores it; a tensor of a dtype that
// NumPy lacks otherwise (C32, the float8 and bits dtypes) is an error, before anything
// is written. A key of meta must not be empty, "metadata", "dtypes" or hold a '/'.
// Member names are unique and stay inside the archive: two leaves that share a name (see
// leaf.Unique) are an error wrapping a *leaf.ClashError (convert.ClashError), before anything is written; a tensor
// named like a member Write writes itself ("__metadata__", "__dtypes__", "__KEY__" of a
// key of meta), and a name that starts with '/', holds '\' or NUL, or has a folder
// (a component before its last '/') "", "." or ".." (see the rules of memberName), and
// a value nested deeper than pickle.MaxDepth, are an
// error wrapping a *leaf.NameError, before anything is written; so is a string member
// (the values, the dtypes, an entry of meta) of more than MaxString bytes as UTF-32, a
// *leaf.TooLargeError.
func Write(w io.Writer, leaves []pickle.Leaf, meta map[string]string) error {
	if err := leaf.Unique(leaves); err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	if err := leaf.Nested(leaves); err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if _, ok := metadataName("__" + k + "__"); !ok || strings.Contains(k, "/") {
			return fmt.Errorf("npz: metadata key %q is reserved or not a member name", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tensors, values := leaf.Split(leaves)
	own := map[string]bool{valuesMember: true, dtypesMember: true}
	for _, k := range keys {
		own["__"+k+"__"] = true
	}
	for _, l := range tensors {
		if err := memberName(l.Name); err != nil {
			return fmt.Errorf("npz: %w", err)
		}
		if own[l.Name] {
			return fmt.Errorf("npz: %w", &leaf.NameError{Name: l.Name, Reason: "ptport's npz writer writes a member of this name itself"})
		}
	}
	widened := map[string]pickle.DType{}
	for _, l := range tensors {
		t := l.Value.(*pickle.Tensor)
		if _, ok := npyDescr[t.DType]; !ok {
			return fmt.Errorf("npz: tensor %s: dtype %s has no NumPy equivalent", l.Name, t.DType)
		}
		if _, ok := Widened(t.DType); ok {
			widened[l.Name] = t.DType
		}
	}
	type member struct{ name, text, what string }
	var strs []member
	if v := jsonvalue.Object(values); v != nil {
		strs = append(strs, member{valuesMember, string(v), "the non-tensor values"})
	}
	if len(widened) > 0 {
		b, err := json.Marshal(widened)
		if err != nil {
			return err
		}
		strs = append(strs, member{dtypesMember, string(b), "the dtypes of the widened tensors"})
	}
	for _, k := range keys {
		strs = append(strs, member{"__" + k + "__", meta[k], "the metadata " + strconv.Quote(k)})
	}
	for _, m := range strs {
		if n := 4 * int64(utf8.RuneCountInString(m.text)); n > maxString {
			e := &leaf.TooLargeError{Format: "npz", Size: n, Limit: maxString,
				What:    fmt.Sprintf("the string member %s.npy (%s, 4 bytes a character)", m.name, m.what),
				Instead: "values too large for npz's metadata: JSON and .pt keep them"}
			if m.name == dtypesMember {
				e.Instead = "safetensors and .pt keep BF16 tensors as they are"
			}
			return e
		}
	}
	zw := zip.NewWriter(w)
	for _, l := range tensors {
		t := l.Value.(*pickle.Tensor)
		descr := npyDescr[t.DType]
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
	for _, m := range strs {
		if err := writeString(zw, m.name, m.text); err != nil {
			return err
		}
	}
	return zw.Close()
}

// memberName checks that name.npy is a member name that stays inside the archive's
// folder when it is extracted, apart from the other members. NumPy writes and reads any
// name (np.savez(**{"../x": a}) writes the member "../x.npy"); ptport refuses those that
// unzip would extract elsewhere: an absolute one, one holding '\' or NUL, and one with
// a folder (a component before its last '/') "..", "." or "". The last component is
// the start of a file name, "x" of "x.npy": "", "." and ".." are names there (".npy",
// "..npy", "...npy"), as NumPy writes them, and Read gives them back.
func memberName(name string) error {
	bad := func(why string) error { return &leaf.NameError{Name: name, Reason: why} }
	switch {
	case strings.HasPrefix(name, "/"):
		return bad("an absolute path would be extracted outside the archive's folder")
	case strings.ContainsAny(name, "\\\x00"):
		return bad("a member name may not hold '\\' or NUL")
	}
	dirs := strings.Split(name, "/")
	for _, c := range dirs[:len(dirs)-1] {
		switch c {
		case "..":
			return bad(`the path component ".." would be extracted outside the archive's folder`)
		case ".", "":
			return bad(fmt.Sprintf("the folder %q would be extracted as the folder it is in (a/./b and a//b as a/b), where another name may be", c))
		}
	}
	return nil
}

// writeString adds a 0-d NumPy string array (UTF-32) to the zip.
func writeString(zw *zip.Writer, name, s string) error {
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
