package safetensors

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ptport/ptport/convert/internal/atomicfile"
	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/internal/jsonvalue"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/pickle"
)

// MaxHeader bounds the JSON header of a safetensors file, as the safetensors crate
// does: Read refuses a longer header and Write does not write one.
const MaxHeader = 100 << 20

// maxHeader is the bound in force, MaxHeader; tests lower it.
var maxHeader int64 = MaxHeader

// The __metadata__ keys of ptport: its non-tensor values, and the prefix of the metadata
// Write records.
const (
	valuesKey = "ptport.values"
	ownPrefix = "ptport."
)

// Read reads a safetensors file of size bytes from r, validating every dtype, shape and
// offset against the file before use; name is how errors call the file. Tensors stay in
// r and are read lazily; they are listed in the order of their data, followed by the
// non-tensor values Write kept and then by the other __metadata__ entries (except
// "format" and the metadata Write recorded) as string leaves named "__metadata__.KEY",
// in key order. Errors about the file's content are *pickle.FormatError.
func Read(name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	return ReadContext(context.Background(), name, r, size)
}

// ReadContext is Read, stopping once ctx is done: it looks at ctx between the steps of
// reading the header and every thousand tensors, and returns an error that wraps
// ctx.Err() (errors.Is(err, context.Canceled)). ctx governs the reading only: the
// tensors read their bytes from r whatever becomes of it.
func ReadContext(ctx context.Context, name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	return ctxio.Read(ctx, name, func() ([]pickle.Leaf, error) { return read(ctx, name, r, size) })
}

// pollEvery is how many tensors ReadContext reads between two looks at its context.
const pollEvery = 1024

// ReadWithMetadata is ReadContext that also returns the metadata Write recorded, as
// ReadMetadata returns it, from the one parse of the header that both need.
func ReadWithMetadata(ctx context.Context, name string, r io.ReaderAt, size int64) ([]pickle.Leaf, map[string]string, error) {
	type both struct {
		leaves []pickle.Leaf
		meta   map[string]string
	}
	b, err := ctxio.Read(ctx, name, func() (both, error) {
		raw, hlen, err := readHeader(ctx, name, r, size)
		if err != nil {
			return both{}, err
		}
		leaves, err := leavesOf(ctx, name, r, size, raw, hlen)
		if err != nil {
			return both{}, err
		}
		meta, err := ownMetadata(name, raw)
		return both{leaves, meta}, err
	})
	return b.leaves, b.meta, err
}

func read(ctx context.Context, name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	raw, hlen, err := readHeader(ctx, name, r, size)
	if err != nil {
		return nil, err
	}
	return leavesOf(ctx, name, r, size, raw, hlen)
}

// leavesOf returns the leaves of a file of size bytes in r whose header, of hlen bytes,
// parsed to raw.
func leavesOf(ctx context.Context, name string, r io.ReaderAt, size int64, raw map[string]json.RawMessage, hlen int64) ([]pickle.Leaf, error) {
	bad := func(format string, args ...any) error {
		return &pickle.FormatError{File: name, Where: "safetensors header", Msg: fmt.Sprintf(format, args...)}
	}
	type entry struct {
		name       string
		DType      pickle.DType
		Shape      []int
		begin, end int64
	}
	data := size - 8 - hlen
	entries := make([]entry, 0, len(raw))
	var leaves []pickle.Leaf
	n := 0
	// one reads the member key of the header; the error of a file whose header holds
	// several bad members is that of the least key, whatever the order of raw.
	one := func(key string, v json.RawMessage) error {
		if key == "__metadata__" {
			meta, err := metadataOf(name, v)
			if err != nil {
				return err
			}
			ml, err := metadataLeaves(ctx, meta)
			if err != nil {
				return bad("%v", err)
			}
			leaves = append(leaves, ml...)
			return nil
		}
		in, err := decodeInfo(v)
		if err != nil {
			return bad("tensor %q: %v", key, err)
		}
		e := entry{name: key, DType: in.dtype, Shape: in.shape}
		if e.DType.Size() == 0 {
			return bad("tensor %q: unknown dtype %q", key, e.DType)
		}
		if e.DType == pickle.F4 {
			// safetensors counts F4's 4-bit values; a pickle.F4 element is a
			// byte of two, as torch.float4_e2m1fn_x2's is.
			if len(e.Shape) == 0 || e.Shape[len(e.Shape)-1]%2 != 0 {
				return bad("tensor %q: F4 shape %v does not pair its values into bytes", key, e.Shape)
			}
			e.Shape = append([]int(nil), e.Shape...)
			e.Shape[len(e.Shape)-1] /= 2
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && count > math.MaxInt64/int64(d)/8) {
				return bad("tensor %q: invalid shape %v", key, e.Shape)
			}
			count *= int64(d)
		}
		e.begin, e.end = in.offsets[0], in.offsets[1]
		if e.begin >= 0 && e.end-e.begin == count*int64(e.DType.Size()) && e.end > data {
			return bad("tensor %q: its data, bytes [%d, %d) of the data section, runs past the end of the file, whose data section holds %d bytes (the file is %d bytes): the file is cut short (a download that never finished?) or damaged", key, e.begin, e.end, data, size)
		}
		if e.begin < 0 || e.end < e.begin || e.end > data || e.end-e.begin != count*int64(e.DType.Size()) {
			return bad("tensor %q: data_offsets %v do not hold %v %s in a %d-byte data section", key, in.offsets, e.Shape, e.DType, data)
		}
		entries = append(entries, e)
		return nil
	}
	var failed error
	var failedKey string
	for key, v := range raw {
		if n%pollEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		n++
		if failed != nil && key > failedKey {
			continue
		}
		if err := one(key, v); err != nil {
			failed, failedKey = err, key
		}
	}
	if failed != nil {
		return nil, failed
	}
	// In the order of their data, as the safetensors crate sorts them: an empty tensor
	// at an offset before the tensor that starts there.
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return a.name < b.name
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tensors := make([]pickle.Leaf, 0, len(entries)+len(leaves))
	var start int64 // where the next tensor's data must begin
	for i, e := range entries {
		if i%pollEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if err := covers(entries[max(i-1, 0)].name, e.name, i, start, e.begin); err != "" {
			return nil, bad("%s", err)
		}
		start = e.end
		st, err := pickle.NewStorageAt(e.DType, r, 8+hlen+e.begin, e.end-e.begin)
		if err != nil {
			return nil, bad("tensor %q: %v", e.name, err)
		}
		t := &pickle.Tensor{DType: e.DType, Shape: e.Shape, Strides: leaf.Strides(e.Shape), Storage: st}
		tensors = append(tensors, pickle.Leaf{Name: e.name, Value: t})
	}
	if start != data {
		if len(entries) == 0 {
			return nil, bad("the data section of %d bytes holds no tensor (safetensors' tensors cover it exactly)", data)
		}
		return nil, bad("%d bytes after the data of the last tensor, %q, which ends at %d of the %d-byte data section (safetensors' tensors cover it exactly)", data-start, entries[len(entries)-1].name, start, data)
	}
	leaves = append(tensors, leaves...)
	if err := leaf.Distinct(name, "safetensors header", leaves); err != nil {
		return nil, err
	}
	return leaves, nil
}

// covers says what is wrong when the data of the tensor named name, the i-th in the
// order of the data, begins at begin, where the tensor before it, prev, ended at start:
// the safetensors crate takes tensors that cover the data section exactly, each
// beginning where the one before ends. It returns "" when nothing is.
func covers(prev, name string, i int, start, begin int64) string {
	switch {
	case begin == start:
		return ""
	case i == 0:
		return fmt.Sprintf("the first %d bytes of the data section are no tensor's: the first tensor, %q, begins at %d (safetensors' tensors cover the data section exactly, with no gap)", begin, name, begin)
	case begin < start:
		return fmt.Sprintf("tensors %q and %q overlap", prev, name)
	}
	return fmt.Sprintf("the %d bytes [%d, %d) of the data section between tensors %q and %q are no tensor's (safetensors' tensors cover the data section exactly, with no gap)", begin-start, start, begin, prev, name)
}

// readHeader reads and parses the JSON header, stopping with ctx's error once ctx is
// done; hlen is its length.
func readHeader(ctx context.Context, name string, r io.ReaderAt, size int64) (raw map[string]json.RawMessage, hlen int64, err error) {
	bad := func(format string, args ...any) error {
		return &pickle.FormatError{File: name, Where: "safetensors header", Msg: fmt.Sprintf(format, args...)}
	}
	var n [8]byte
	if _, err := r.ReadAt(n[:], 0); err != nil {
		return nil, 0, bad("file too short for a header size")
	}
	u := binary.LittleEndian.Uint64(n[:])
	if u > uint64(maxHeader) {
		return nil, 0, bad("header of %d bytes is more than the %d (%s) that a safetensors header may have", u, maxHeader, leaf.Bytes(maxHeader))
	}
	if int64(u) > size-8 {
		return nil, 0, bad("its %d bytes run past the end of the file, which is %d bytes (%d after the 8-byte length that precedes the header): the file is cut short (a download that never finished?) or damaged", u, size, max(size-8, 0))
	}
	hdr := make([]byte, u)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, 0, bad("reading the header: %v", err)
	}
	// The safetensors crate reads the header as a UTF-8 string with serde_json, which
	// refuses an escaped lone surrogate; encoding/json would read either as U+FFFD,
	// renaming the tensor.
	if !utf8.Valid(hdr) {
		return nil, 0, bad("not valid UTF-8 (at byte %d of %d)", invalidUTF8(hdr), len(hdr))
	}
	if at := loneSurrogate(hdr); at >= 0 {
		return nil, 0, bad("the escape %s, half of a UTF-16 surrogate pair, which names no character (at byte %d)", hdr[at:at+6], at)
	}
	var dup string
	if raw, dup, err = parseMembers(ctx, hdr); err != nil {
		if stop := ctx.Err(); stop != nil {
			return nil, 0, stop
		}
		return nil, 0, bad("header is not a JSON object: %v", err)
	}
	if dup != "" {
		return nil, 0, bad("two members named %q: ptport does not guess which one is meant", dup)
	}
	return raw, int64(u), nil
}

// invalidUTF8 returns the offset of the first byte of b that is not valid UTF-8.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// loneSurrogate returns the offset of the first escape \uXXXX in the JSON text b that
// is a UTF-16 surrogate outside a pair (a high one not followed by a low one, or a low
// one alone), or -1. Escapes stand in strings only, where a backslash starts one.
func loneSurrogate(b []byte) int {
	surrogate := func(i int) (high, low bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return false, false
		}
		v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		if err != nil {
			return false, false
		}
		return v >= 0xd800 && v < 0xdc00, v >= 0xdc00 && v < 0xe000
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		switch high, low := surrogate(i); {
		case low:
			return i
		case high:
			if _, next := surrogate(i + 6); !next {
				return i
			}
			i += 11 // the pair
		default:
			i++ // the escaped byte
		}
	}
	return -1
}

// parseHeader parses the JSON header hdr as json.Unmarshal parses it into a map of raw
// values, member by member, looking at ctx every pollEvery members: a header of a
// million tensors takes a second or so. Each key and value is checked by json.Valid and
// the punctuation between them by hand, so that the members of a well-formed object are
// what json.Unmarshal would make of them; anything else (null, another value, an error,
// data after the object, a value nested deep) is json.Unmarshal's to parse, for its
// result or its error.
func parseHeader(ctx context.Context, hdr []byte) (map[string]json.RawMessage, error) {
	raw, _, err := parseMembers(ctx, hdr)
	return raw, err
}

// parseMembers is parseHeader that also returns the first key of a member that an
// earlier member of the object has, if any (json.Unmarshal keeps the last).
func parseMembers(ctx context.Context, hdr []byte) (raw map[string]json.RawMessage, dup string, err error) {
	unmarshal := func() (map[string]json.RawMessage, string, error) {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(hdr, &raw); err != nil {
			return nil, "", err
		}
		return raw, firstDuplicate(hdr), nil
	}
	i := skipSpace(hdr, 0)
	if i == len(hdr) || hdr[i] != '{' {
		return unmarshal()
	}
	raw = map[string]json.RawMessage{}
	// end returns the members once the object closes at i, when only white space
	// follows.
	end := func(i int) (map[string]json.RawMessage, string, error) {
		if skipSpace(hdr, i) != len(hdr) {
			return unmarshal() // its error
		}
		return raw, dup, nil
	}
	i = skipSpace(hdr, i+1)
	if i < len(hdr) && hdr[i] == '}' {
		return end(i + 1)
	}
	for n := 0; ; n++ {
		if n%pollEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, "", err
			}
		}
		kend, _ := valueEnd(hdr, i)
		if kend < 0 || hdr[i] != '"' || !json.Valid(hdr[i:kend]) {
			return unmarshal()
		}
		key := hdr[i:kend]
		if i = skipSpace(hdr, kend); i == len(hdr) || hdr[i] != ':' {
			return unmarshal()
		}
		i = skipSpace(hdr, i+1)
		vend, depth := valueEnd(hdr, i)
		if vend < 0 || depth > maxValueDepth || !json.Valid(hdr[i:vend]) {
			return unmarshal()
		}
		name := string(key[1 : len(key)-1])
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			if err := json.Unmarshal(key, &name); err != nil {
				return unmarshal()
			}
		}
		if _, ok := raw[name]; ok && dup == "" {
			dup = name
		}
		raw[name] = json.RawMessage(hdr[i:vend:vend])
		switch i = skipSpace(hdr, vend); {
		case i < len(hdr) && hdr[i] == ',':
			i = skipSpace(hdr, i+1)
		case i < len(hdr) && hdr[i] == '}':
			return end(i + 1)
		default:
			return unmarshal()
		}
	}
}

// firstDuplicate returns the first key of a member of the JSON object hdr, which
// json.Unmarshal parsed, that an earlier member has, or "".
func firstDuplicate(hdr []byte) string {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return ""
		}
		if seen[key] {
			return key
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// maxValueDepth bounds the nesting of a header's value that parseHeader parses itself,
// well below json's own bound on a document's.
const maxValueDepth = 1000

// skipSpace returns the index of the first byte of b from i that is not JSON's white
// space, or len(b).
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the end of the JSON value that starts at b[i], were it well formed
// (a string to its closing quote, an object or array to its closing bracket, anything
// else to the next white space or punctuation), and how deep it nests; -1 when b ends
// first.
func valueEnd(b []byte, i int) (end, depth int) {
	level := 0
	for j := i; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			for j++; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
			if j >= len(b) {
				return -1, depth
			}
			if level == 0 {
				return j + 1, depth
			}
		case c == '{' || c == '[':
			level++
			depth = max(depth, level)
		case c == '}' || c == ']':
			if level == 0 {
				return j, depth // the end of a number or literal
			}
			if level--; level == 0 {
				return j + 1, depth
			}
		case level == 0 && (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return j, depth
		}
	}
	if level > 0 || i >= len(b) {
		return -1, depth
	}
	return len(b), depth
}

// ReadMetadata returns the metadata Write recorded in a safetensors file of size bytes,
// reading only its header.
func ReadMetadata(name string, r io.ReaderAt, size int64) (map[string]string, error) {
	return ReadMetadataContext(context.Background(), name, r, size)
}

// ReadMetadataContext is ReadMetadata, stopping once ctx is done, as ReadContext does.
func ReadMetadataContext(ctx context.Context, name string, r io.ReaderAt, size int64) (map[string]string, error) {
	return ctxio.Read(ctx, name, func() (map[string]string, error) { return readMetadata(ctx, name, r, size) })
}

func readMetadata(ctx context.Context, name string, r io.ReaderAt, size int64) (map[string]string, error) {
	raw, _, err := readHeader(ctx, name, r, size)
	if err != nil {
		return nil, err
	}
	return ownMetadata(name, raw)
}

// ownMetadata returns the metadata Write recorded in the header that parsed to raw.
func ownMetadata(name string, raw map[string]json.RawMessage) (map[string]string, error) {
	var all map[string]string
	if m, ok := raw["__metadata__"]; ok {
		var err error
		if all, err = metadataOf(name, m); err != nil {
			return nil, err
		}
	}
	meta := map[string]string{}
	for k, v := range all {
		if k != valuesKey && strings.HasPrefix(k, ownPrefix) {
			meta[strings.TrimPrefix(k, ownPrefix)] = v
		}
	}
	return meta, nil
}

// metadataOf decodes the __metadata__ member v of the header of the file name: a map of
// strings, or null, as the crate reads it. A key given twice is an error, naming it.
func metadataOf(name string, v json.RawMessage) (map[string]string, error) {
	bad := func(format string, args ...any) error {
		return &pickle.FormatError{File: name, Where: "safetensors header", Msg: fmt.Sprintf(format, args...)}
	}
	var meta map[string]string
	if err := json.Unmarshal(v, &meta); err != nil {
		return nil, bad("__metadata__ is not a map of strings: %v", err)
	}
	if dup := firstDuplicate(v); dup != "" {
		return nil, bad("__metadata__: two members named %q: ptport does not guess which one is meant", dup)
	}
	return meta, nil
}

// metadataLeaves turns __metadata__ back into leaves: the values under valuesKey, then
// the entries that are not ptport's own.
func metadataLeaves(ctx context.Context, meta map[string]string) ([]pickle.Leaf, error) {
	var leaves []pickle.Leaf
	if v, ok := meta[valuesKey]; ok {
		var err error
		if leaves, err = jsonvalue.LeavesContext(ctx, v); err != nil {
			return nil, fmt.Errorf("%s: %v", valuesKey, err)
		}
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if !strings.HasPrefix(k, ownPrefix) && k != "format" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		leaves = append(leaves, pickle.Leaf{Name: "__metadata__." + k, Value: meta[k]})
	}
	return leaves, nil
}

// DTypes are the dtypes safetensors names (its format's Dtype, as of safetensors 0.7):
// Write writes these and refuses the others. safetensors has no complex128 (C128),
// complex32 (C32), float8_e4m3fnuz and float8_e5m2fnuz (F8_E4M3FNUZ, F8_E5M2FNUZ) nor
// bits types; C64 is its only complex type.
var DTypes = map[pickle.DType]bool{
	pickle.F64: true, pickle.F32: true, pickle.F16: true, pickle.BF16: true,
	pickle.I64: true, pickle.I32: true, pickle.I16: true, pickle.I8: true,
	pickle.U64: true, pickle.U32: true, pickle.U16: true, pickle.U8: true, pickle.BOOL: true,
	pickle.C64: true, pickle.F8E4M3: true, pickle.F8E5M2: true, pickle.F8E8M0: true, pickle.F4: true,
}

// DTypeError reports a tensor whose dtype safetensors has no name for.
type DTypeError struct{ DType pickle.DType }

func (e *DTypeError) Error() string {
	return fmt.Sprintf("safetensors has no dtype for %s tensors (it names %s)", e.DType, dtypeList())
}

func dtypeList() string {
	names := make([]string, 0, len(DTypes))
	for d := range DTypes {
		names = append(names, string(d))
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// Write writes leaves to w as a safetensors file: the tensors C-contiguous and
// little-endian, under their names, in order (an F4 tensor's last dimension doubled,
// as safetensors counts 4-bit values); a tensor of a dtype outside DTypes is an error
// wrapping a *DTypeError, before anything is written; the non-tensor leaves as typed JSON under
// __metadata__["ptport.values"]; and each entry of meta as __metadata__["ptport.KEY"],
// which ReadMetadata gives back. A key of meta must not be empty or "values". Two
// leaves that share a name (see leaf.Unique) are an error wrapping a *leaf.ClashError (convert.ClashError),
// before anything is written; a tensor named "__metadata__", or a value nested deeper than
// pickle.MaxDepth, are an error wrapping a *leaf.NameError, before anything is written;
// so is a header (the tensors' names, dtypes, shapes and offsets, the values and meta)
// longer than MaxHeader, a *leaf.TooLargeError.
// When w is the writer of an atomic output file (convert.WriteFile), contiguous tensors
// stored in a file are copied within the kernel where the system can.
func Write(w io.Writer, leaves []pickle.Leaf, meta map[string]string) error {
	if err := leaf.Unique(leaves); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := leaf.Nested(leaves); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	tensors, values := leaf.Split(leaves)
	for _, l := range tensors {
		if l.Name == "__metadata__" {
			return fmt.Errorf("safetensors: %w", &leaf.NameError{Name: l.Name, Reason: "safetensors keeps its metadata under this name"})
		}
	}
	hdr := []byte(`{"__metadata__":{"format":"pt"`)
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if k == "" || ownPrefix+k == valuesKey {
			return fmt.Errorf("safetensors: metadata key %q is reserved", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		hdr = append(hdr, ',')
		hdr = jsonvalue.AppendString(hdr, ownPrefix+k)
		hdr = append(hdr, ':')
		hdr = jsonvalue.AppendString(hdr, meta[k])
	}
	valueBytes := len(hdr)
	if v := jsonvalue.Object(values); v != nil {
		hdr = append(hdr, ',')
		hdr = jsonvalue.AppendString(hdr, valuesKey)
		hdr = append(hdr, ':')
		hdr = jsonvalue.AppendString(hdr, string(v))
	}
	valueBytes = len(hdr) - valueBytes
	hdr = append(hdr, '}')
	var off int64
	for _, l := range tensors {
		t := l.Value.(*pickle.Tensor)
		if !DTypes[t.DType] {
			return fmt.Errorf("safetensors: tensor %s: %w", l.Name, &DTypeError{DType: t.DType})
		}
		shape := t.Shape
		if t.DType == pickle.F4 {
			// Two 4-bit values a byte: safetensors counts the values.
			shape = append([]int(nil), t.Shape...)
			if len(shape) == 0 {
				shape = []int{1}
			}
			shape[len(shape)-1] *= 2
		}
		hdr = append(hdr, ',')
		hdr = jsonvalue.AppendString(hdr, l.Name)
		hdr = append(hdr, `:{"dtype":"`...)
		hdr = append(hdr, t.DType...)
		hdr = append(hdr, `","shape":`...)
		hdr = jsonvalue.AppendInts(hdr, shape)
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
	if int64(len(hdr)) > maxHeader {
		e := &leaf.TooLargeError{Format: "safetensors", Size: int64(len(hdr)), Limit: maxHeader,
			What:    fmt.Sprintf("the header (the names, dtypes, shapes and offsets of the tensors, %d in all, and %d bytes of non-tensor values)", len(tensors), valueBytes),
			Instead: "npz and .pt have no such header, and keep this many tensors"}
		if 2*valueBytes > len(hdr) {
			e.Instead = ".pt keeps values this large, and JSON does up to its own limit"
		}
		return e
	}
	var size [8]byte
	binary.LittleEndian.PutUint64(size[:], uint64(len(hdr)))
	if _, err := w.Write(size[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	out, _ := w.(atomicfile.RangeCopier)
	for _, l := range tensors {
		t := l.Value.(*pickle.Tensor)
		// Span counts as a read of the tensor: it is asked only where its bytes can be
		// copied, and bytes the kernel does not copy are written from the span (checked
		// and little-endian, as Span gives them), not read again.
		if out != nil {
			if src, off, n, ok := t.Span(); ok {
				copied, err := out.CopyRange(src, off, n)
				if err == nil && !copied {
					_, err = io.Copy(w, io.NewSectionReader(src, off, n))
				}
				if err != nil {
					return fmt.Errorf("tensor %s: %w", l.Name, err)
				}
				continue
			}
		}
		if _, err := t.WriteTo(w); err != nil {
			return fmt.Errorf("tensor %s: %w", l.Name, err)
		}
	}
	return nil
}
