package pickle

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/big"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// WriteOptions configure Write. The zero value (or nil) writes what
// torch.save writes.
type WriteOptions struct {
	// Archive is the records' folder inside the zip; "" means "archive",
	// the name torch.save gives when it writes to a stream.
	Archive string
	// Records are extra records written under the folder, in name order
	// after the storages (for example ".ptport_source"); torch.load ignores
	// them. A name must not be one of the records Write writes itself,
	// start or end with '/', or hold '\\' or ':'.
	Records map[string][]byte
}

// Write writes root as the zip format of torch.save (torch >= 1.6) to w.
//
// The records are those torch.save writes: data.pkl, a pickle of protocol
// 2 (the default of torch.save), byteorder ("little", as torch >= 2.1
// writes it), the storages as data/<key> and version ("3"), each stored
// uncompressed with its data aligned to 64 bytes, as PyTorchStreamWriter
// lays them out. Storage bytes are streamed from Storage.ReadAt through a
// 1 MiB buffer, so a storage never needs to fit in memory.
//
// root may hold nil, bool, int64 (and the other Go integer types),
// *big.Int, float64, complex128, string, []byte, List, Tuple, *Dict,
// *Tensor, *SparseTensor, *NestedTensor, *Storage, *Object and Global
// values. A *Dict is written as a dict, or as a collections.OrderedDict
// with its Attrs when Ordered. What torch.load(weights_only=True) cannot
// load is written as plain data in its place, so that the file loads with
// it and nothing is lost:
//
//   - an *Object that is an nn.Module (or a TorchScript module) as an
//     OrderedDict of its state_dict, the leaves Leaves names (a quantized,
//     sparse or nested tensor staying one value);
//   - any other *Object (an instance of a class, or with
//     Options.AllowObjects the record of a call) as a plain dict: first
//     ClassKey ("__class__"; CallKey, "__call__", for a call) with the
//     string "module.Name", then its parts under the keys by which Leaves
//     names them, so that every leaf keeps its name: its Args and List by
//     index (int keys), its Kwargs, Attrs and Items by key, a dict State's
//     entries by key and a list or tuple State's items by index, another
//     State under "__state__"; two parts under one key are an error;
//   - a Global that weights_only=True refuses as the string "module.name";
//     one it accepts (torch dtypes, storage and tensor classes, layouts and
//     memory formats, torch.Size, collections.OrderedDict, ...) stays a
//     global; one refused in every mode (code) is an error.
//
// numpy scalars are written as numpy scalars, as torch.save writes them
// (weights_only=True of torch 2.6 loads them only once they are allowed
// with torch.serialization.add_safe_globals). Containers referenced more
// than once are written once and referenced through the pickle memo.
//
// Tensors are written as torch.save of torch 2.x writes them, at location
// "cpu" (torch/_tensor.py, Tensor._reduce_ex_internal):
//
//   - a strided tensor of a dtype with a typed storage class (F64, F32, F16,
//     BF16, I64, I32, I16, I8, U8, BOOL, C64, C128) as
//     torch._utils._rebuild_tensor_v2 over its torch.<Dtype>Storage, which
//     every torch since 1.0 reads; one of the other dtypes (the 8-bit and
//     4-bit floats, U16, U32, U64, C32, the BITS types) as
//     _rebuild_tensor_v3 over a torch.storage.UntypedStorage with the dtype
//     after the backward hooks, which torch 2.x reads. Lazy conjugate and
//     negative bits are applied to the written storage, which the tensors
//     with the same bits share;
//   - a quantized tensor as _rebuild_qtensor over its torch.QInt8Storage
//     (QUInt8Storage, QInt32Storage) with its quantizer parameters;
//   - a tensor of the meta device as _rebuild_meta_tensor_no_storage
//     (dtype, size, stride, requires_grad);
//   - a *SparseTensor as _rebuild_sparse_tensor(layout, data): data is
//     (indices, values, size) for sparse_coo, every torch reading these
//     three items (torch 2.x as is_coalesced False), with is_coalesced True
//     after them when Coalesced, as torch 2.x writes a coalesced tensor; and
//     (compressed_indices, plain_indices, values, size) for the compressed
//     layouts, as torch 2.x writes and reads them;
//   - a *NestedTensor as _rebuild_nested_tensor(buffer, sizes, strides,
//     storage_offsets), as torch 2.x writes it.
//
// Tensors sharing a *Storage share it in the file, with their own offsets
// and strides; several of the dtypes without a storage class may view one
// storage, as an UntypedStorage, beside U8 views.
//
// A cycle, a tree nested deeper than MaxDepth (which Open would not read
// back), a value of any other type, an unhashable dict key, a string
// that is not UTF-8, a view outside its storage, one storage viewed with
// two dtypes that torch.save would refuse to write together, or
// requires_grad on a tensor that is neither floating point nor complex is
// an error naming its path in the tree; nothing is written to w then. An
// error while streaming storages (reading a storage, writing to w) leaves
// a partial file in w: write to a temporary file and rename it.
func Write(w io.Writer, root any, opts *WriteOptions) error {
	var o WriteOptions
	if opts != nil {
		o = *opts
	}
	if o.Archive == "" {
		o.Archive = "archive"
	}
	if err := checkRecordName(o.Archive); err != nil || strings.Contains(o.Archive, "/") {
		return fmt.Errorf("pickle: write: invalid archive name %q", o.Archive)
	}
	extra := make([]string, 0, len(o.Records))
	for name := range o.Records {
		if err := checkRecordName(name); err != nil {
			return fmt.Errorf("pickle: write: record %q: %v", name, err)
		}
		if name == "data.pkl" || name == "byteorder" || name == "version" || strings.HasPrefix(name, "data/") {
			return fmt.Errorf("pickle: write: record %q would replace one of torch.save's records", name)
		}
		extra = append(extra, name)
	}
	sort.Strings(extra)

	p := newPickler()
	if err := p.dump(root); err != nil {
		return err
	}
	keys := make([]string, len(p.storages))
	for i, s := range p.storages {
		keys[i] = s.key
	}
	// torch.save writes the storages in the order of sorted(keys): "10"
	// before "2".
	sort.Strings(keys)

	z := newZipWriter(w)
	prefix := o.Archive + "/"
	z.bytes(prefix+"data.pkl", p.buf)
	z.bytes(prefix+"byteorder", []byte("little"))
	for _, k := range keys {
		s := p.byKey[k]
		z.record(prefix+"data/"+k, s.nbytes, func(w io.Writer) error {
			if err := copyStorageTo(w, s.s, s.nbytes); err != nil {
				return fmt.Errorf("pickle: write: storage data/%s: %w", k, err)
			}
			return nil
		})
	}
	for _, name := range extra {
		z.bytes(prefix+name, o.Records[name])
	}
	z.bytes(prefix+"version", []byte("3\n"))
	return z.close()
}

// checkRecordName applies the checks miniz makes on a record name.
func checkRecordName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > 0xfff0:
		return errors.New("name too long")
	case strings.HasPrefix(name, "/"), strings.HasSuffix(name, "/"):
		return errors.New("name starts or ends with '/'")
	case strings.ContainsAny(name, "\\:\x00"):
		return errors.New(`name contains '\', ':' or NUL`)
	}
	return nil
}

// copyStorageTo writes the n bytes of s to w through a buffer of at most
// 1 MiB.
func copyStorageTo(w io.Writer, s *Storage, n int64) error {
	if err := s.expand(n, n); err != nil {
		return err
	}
	buf := make([]byte, min(n, chunkSize))
	for off := int64(0); off < n; {
		m := int(min(n-off, int64(len(buf))))
		k, err := s.ReadAt(buf[:m], off)
		if k < m {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading byte %d of %d: %w", off+int64(k), n, err)
		}
		if _, err := w.Write(buf[:m]); err != nil {
			return err
		}
		off += int64(m)
	}
	return nil
}

// ---------------------------------------------------------------------
// The pickler: protocol 2, opcode for opcode as Python's pickle.Pickler
// writes it for torch.save, memo puts included, so that torch.save of what
// torch.load reads from the result writes the same pickle. Python memoizes
// by object identity, which a file does not record for strings: strings
// of the tree are memoized by value, those torch.save adds itself (in
// persistent ids) apart from them.

// pickleBatchSize is the number of items per APPENDS/SETITEMS, as in Python.
const pickleBatchSize = 1000

// writeStorage is a storage to write, under its key.
type writeStorage struct {
	key    string
	s      *Storage
	dtype  string // the storage's dtype as torch.save compares it (that of its first reference)
	what   string
	nbytes int64
}

// writeSeqID identifies a List or Tuple by its backing array and length,
// a string or []byte by its bytes and length.
type writeSeqID struct {
	first *any
	n     int
	tuple bool
	str   *byte
	bytes bool
}

type pickler struct {
	buf      []byte
	nmemo    int
	strs     map[string]int // strings of the tree, memoized by value
	own      map[string]int // strings the pickler adds (persistent ids, "latin1"), apart as in torch.save
	globals  map[string]int
	objs     map[any]int // *Dict, *Tensor, *Object, writeSeqID -> memo index
	active   map[any]bool
	storages []*writeStorage
	byPtr    map[*Storage]*writeStorage
	byKey    map[string]*writeStorage
	lazy     map[lazyKey]*Storage // storages with lazy bits applied
	// hashables records which tuples can be dict keys.
	hashables map[*any]bool
	layouts   map[string]int // torch.layout values written, by name
}

func newPickler() *pickler {
	return &pickler{
		strs:    make(map[string]int),
		own:     make(map[string]int),
		globals: make(map[string]int),
		objs:    make(map[any]int),
		active:  make(map[any]bool),
		byPtr:   make(map[*Storage]*writeStorage),
		byKey:   make(map[string]*writeStorage),
		lazy:    make(map[lazyKey]*Storage),
		layouts: make(map[string]int),
	}
}

// writePos is a place in the tree being written: its parent and its key
// there. The path is rendered only for an error message.
type writePos struct {
	parent *writePos
	key    any
	depth  int
}

// at returns the place of the child at key.
func (w *writePos) at(key any) *writePos {
	d := 1
	if w != nil {
		d = w.depth + 1
	}
	return &writePos{parent: w, key: key, depth: d}
}

// String renders the path, cut after about 256 bytes.
func (w *writePos) String() string {
	const most = 256
	var keys []any
	for ; w != nil; w = w.parent {
		keys = append(keys, w.key)
	}
	if len(keys) == 0 {
		return "<root>"
	}
	var b []byte
	for i := len(keys) - 1; i >= 0; i-- {
		if i < len(keys)-1 {
			b = append(b, '.')
		}
		b = appendKeyLimit(b, keys[i], most+1, nil)
		if len(b) > most {
			return string(b[:most]) + "..."
		}
	}
	return string(b)
}

// writeError is an error at a place of the tree.
func writeError(path *writePos, format string, args ...any) error {
	return fmt.Errorf("pickle: write: %s: %s", path, fmt.Sprintf(format, args...))
}

// writePath is a path for messages: the parent's, then the key, cut after 256 bytes.
func writePath(parent string, key any) string {
	return join(parent, string(appendKeyLimit(nil, key, 256, nil)))
}

func (p *pickler) dump(root any) error {
	p.buf = append(p.buf, opPROTO, 2)
	if err := p.value(root, nil); err != nil {
		return err
	}
	p.buf = append(p.buf, opSTOP)
	return nil
}

func (p *pickler) op(b ...byte) { p.buf = append(p.buf, b...) }

// put memoizes the value on top of the stack, as Pickler.memoize does.
func (p *pickler) put() int {
	i := p.nmemo
	p.nmemo++
	if i < 256 {
		p.op(opBINPUT, byte(i))
	} else {
		p.op(opLONGBINPUT)
		p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(i))
	}
	return i
}

func (p *pickler) get(i int) {
	if i < 256 {
		p.op(opBINGET, byte(i))
	} else {
		p.op(opLONGBINGET)
		p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(i))
	}
}

func (p *pickler) str(s string) int { return p.memoStr(p.strs, s) }

// memoStr writes s, or a reference to it when memo has it, and returns its
// memo index.
func (p *pickler) memoStr(memo map[string]int, s string) int {
	if i, ok := memo[s]; ok {
		p.get(i)
		return i
	}
	p.op(opBINUNICODE)
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(s)))
	p.buf = append(p.buf, s...)
	i := p.put()
	memo[s] = i
	return i
}

// global writes GLOBAL module name, memoized.
func (p *pickler) global(module, name string) {
	k := module + "\n" + name
	if i, ok := p.globals[k]; ok {
		p.get(i)
		return
	}
	p.op(opGLOBAL)
	p.buf = append(p.buf, k...)
	p.op('\n')
	p.globals[k] = p.put()
}

func (p *pickler) int(v int64) {
	switch {
	case v >= 0 && v <= 0xff:
		p.op(opBININT1, byte(v))
	case v >= 0 && v <= 0xffff:
		p.op(opBININT2)
		p.buf = binary.LittleEndian.AppendUint16(p.buf, uint16(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		p.op(opBININT)
		p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(int32(v)))
	default:
		p.long(big.NewInt(v))
	}
}

// long writes an integer beyond int32 as LONG1 (or LONG4), encoded as
// Python's encode_long encodes it: little-endian two's complement in the
// fewest bytes.
func (p *pickler) long(v *big.Int) {
	if v.IsInt64() {
		if x := v.Int64(); x >= math.MinInt32 && x <= math.MaxInt32 {
			p.int(x)
			return
		}
	}
	var enc []byte
	if v.Sign() != 0 {
		n := v.BitLen()/8 + 1
		enc = make([]byte, n)
		u := new(big.Int).Set(v)
		if v.Sign() < 0 {
			u.Add(u, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
		}
		u.FillBytes(enc) // big-endian
		for i, j := 0, len(enc)-1; i < j; i, j = i+1, j-1 {
			enc[i], enc[j] = enc[j], enc[i]
		}
		if v.Sign() < 0 && n > 1 && enc[n-1] == 0xff && enc[n-2]&0x80 != 0 {
			enc = enc[:n-1]
		}
	}
	if len(enc) < 256 {
		p.op(opLONG1, byte(len(enc)))
	} else {
		p.op(opLONG4)
		p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(enc)))
	}
	p.buf = append(p.buf, enc...)
}

func (p *pickler) float(f float64) {
	p.op(opBINFLOAT)
	p.buf = binary.BigEndian.AppendUint64(p.buf, math.Float64bits(f))
}

func (p *pickler) bool(b bool) {
	if b {
		p.op(opNEWTRUE)
	} else {
		p.op(opNEWFALSE)
	}
}

// tupleEnd closes a tuple of n items opened by MARK (n > 3), or built from
// the last n items (n <= 3), and memoizes it.
func (p *pickler) tupleEnd(n int) int {
	switch n {
	case 1:
		p.op(opTUPLE1)
	case 2:
		p.op(opTUPLE2)
	case 3:
		p.op(opTUPLE3)
	default:
		p.op(opTUPLE)
	}
	return p.put()
}

// ints writes a tuple of ints (a size or a stride).
func (p *pickler) ints(v []int) {
	if len(v) == 0 {
		p.op(opEMPTYTUPLE)
		return
	}
	if len(v) > 3 {
		p.op(opMARK)
	}
	for _, x := range v {
		p.int(int64(x))
	}
	p.tupleEnd(len(v))
}

// value writes v, at path in the tree.
func (p *pickler) value(v any, path *writePos) error {
	if path != nil && path.depth > MaxDepth {
		return writeError(path, "the tree is nested deeper than %d levels, the most that ptport reads back (torch.save writes no tree that deep)", MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		p.op(opNONE)
	case bool:
		p.bool(x)
	case int64:
		p.int(x)
	case int, int32, int16, int8, uint8, uint16, uint32:
		n, _ := toInt64(x)
		p.int(n)
	case uint:
		p.long(new(big.Int).SetUint64(uint64(x)))
	case uint64:
		p.long(new(big.Int).SetUint64(x))
	case *big.Int:
		if x == nil {
			return writeError(path, "nil *big.Int")
		}
		p.long(x)
	case float64:
		p.float(x)
	case float32:
		p.float(float64(x))
	case complex128:
		p.global("__builtin__", "complex")
		p.float(real(x))
		p.float(imag(x))
		p.tupleEnd(2)
		p.op(opREDUCE)
		p.put()
	case string:
		// A string shared by many places of the tree is checked and
		// hashed once, not once per place.
		id := writeSeqID{n: len(x), str: unsafe.StringData(x)}
		if i, ok := p.objs[id]; ok {
			p.get(i)
			return nil
		}
		if !pythonUTF8(x) {
			return writeError(path, "string %.64q is not UTF-8; Python cannot load it", x)
		}
		p.objs[id] = p.str(x)
	case []byte:
		// Python memoizes a bytes object; the pickle refers to it again.
		id := writeSeqID{n: len(x), str: unsafe.SliceData(x), bytes: true}
		if i, ok := p.objs[id]; ok && len(x) > 0 {
			p.get(i)
			return nil
		}
		p.objs[id] = p.bytes(x)
	case Global:
		if !writableGlobal(x) {
			if v := judge(x.Module, x.Name); v.refused != nil {
				return writeError(path, "global %s is refused in every mode (%s), and is not written", x, v.refused.Reason)
			}
			// torch.load(weights_only=True) would refuse it: its name stands for it.
			return p.value(x.Module+"."+x.Name, path)
		}
		p.global(x.Module, x.Name)
	case List:
		return p.list(x, path)
	case Tuple:
		return p.tuple(x, path)
	case *Dict:
		if x == nil {
			p.op(opNONE)
			return nil
		}
		return p.dict(x, path)
	case *Tensor:
		if x == nil {
			p.op(opNONE)
			return nil
		}
		return p.tensor(x, path)
	case *Storage:
		if x == nil {
			p.op(opNONE)
			return nil
		}
		u, v3, err := typedUse(x.DType)
		if class, ok := qstorageClass[x.qdtype]; ok {
			u = storageUse{Global{"torch", class}, int64(x.DType.Size()), x.qdtype, x.qdtype}
		} else if err == nil && v3 {
			err = fmt.Errorf("torch.save writes no typed storage of %s", x.DType)
		}
		if err != nil {
			return writeError(path, "%v", err)
		}
		s, err := p.storage(x, u, path)
		if err != nil {
			return err
		}
		if err := p.persid(s, u, path); err != nil {
			return err
		}
	case *SparseTensor:
		if x == nil {
			p.op(opNONE)
			return nil
		}
		return p.sparse(x, path)
	case *NestedTensor:
		if x == nil {
			p.op(opNONE)
			return nil
		}
		return p.nested(x, path)
	case *Object:
		if x == nil {
			p.op(opNONE)
			return nil
		}
		return p.object(x, path)
	case Scalar:
		return p.scalar(x, path)
	default:
		return writeError(path, "cannot write a value of type %T", v)
	}
	return nil
}

// bytes writes b as protocol 2 does: _codecs.encode(latin-1 text,
// "latin1"), or bytes() when empty.
// bytes writes b and returns its memo index.
func (p *pickler) bytes(b []byte) int {
	if len(b) == 0 {
		p.global("__builtin__", "bytes")
		p.op(opEMPTYTUPLE, opREDUCE)
		return p.put()
	}
	p.global("_codecs", "encode")
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	p.str(string(r))
	p.memoStr(p.own, "latin1")
	p.tupleEnd(2)
	p.op(opREDUCE)
	return p.put()
}

// pythonUTF8 reports whether s is UTF-8 as Python's "surrogatepass"
// decoding accepts it: valid UTF-8, or the 3-byte encodings of surrogates.
func pythonUTF8(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			if i+2 < len(s) && s[i] == 0xed && s[i+1] >= 0xa0 && s[i+1] <= 0xbf && s[i+2]&0xc0 == 0x80 {
				i += 3
				continue
			}
			return false
		}
		i += n
	}
	return true
}

// writableGlobal reports whether g may be written as a value: torch
// dtypes, storage and tensor classes, layouts and memory formats,
// torch.Size and collections.OrderedDict, and the other globals of the
// allowlist, when torch.load(weights_only=True) accepts them; nothing that
// runs code.
func writableGlobal(g Global) bool {
	if v := judge(g.Module, g.Name); !v.weightsOnly() {
		return false
	}
	if _, ok := lookupAllowed(g.String()); ok && validDotted(g.Module) && isIdentifier(g.Name) {
		return true
	}
	switch g.Module {
	case "torch":
		if _, ok := torchDTypes[g.Name]; ok {
			return true
		}
		if _, ok := storageDTypes[g.Name]; ok {
			return true
		}
		return otherDTypes[g.Name] || tensorClasses[g.Name] || torchConstants[g.Name] || g.Name == "Size"
	case "collections":
		return g.Name == "OrderedDict"
	}
	return false
}

// enter marks a container as being written, refusing cycles; it returns
// the memo index when the container was written before.
func (p *pickler) enter(id any, path *writePos) (memo int, done bool, err error) {
	if i, ok := p.objs[id]; ok {
		return i, true, nil
	}
	if p.active[id] {
		return 0, false, writeError(path, "the tree contains a cycle")
	}
	p.active[id] = true
	return 0, false, nil
}

func (p *pickler) leave(id any, memo int) {
	delete(p.active, id)
	p.objs[id] = memo
}

func (p *pickler) list(l List, path *writePos) error {
	if len(l) == 0 {
		p.op(opEMPTYLIST)
		p.put()
		return nil
	}
	id := writeSeqID{first: &l[0], n: len(l)}
	if i, done, err := p.enter(id, path); err != nil {
		return err
	} else if done {
		p.get(i)
		return nil
	}
	p.op(opEMPTYLIST)
	m := p.put()
	for start := 0; start < len(l); start += pickleBatchSize {
		end := min(start+pickleBatchSize, len(l))
		if end-start > 1 {
			p.op(opMARK)
		}
		for i := start; i < end; i++ {
			if err := p.value(l[i], path.at(i)); err != nil {
				return err
			}
		}
		if end-start > 1 {
			p.op(opAPPENDS)
		} else {
			p.op(opAPPEND)
		}
	}
	p.leave(id, m)
	return nil
}

func (p *pickler) tuple(t Tuple, path *writePos) error {
	if len(t) == 0 {
		p.op(opEMPTYTUPLE)
		return nil
	}
	id := writeSeqID{first: &t[0], n: len(t), tuple: true}
	if i, done, err := p.enter(id, path); err != nil {
		return err
	} else if done {
		p.get(i)
		return nil
	}
	if len(t) > 3 {
		p.op(opMARK)
	}
	for i, e := range t {
		if err := p.value(e, path.at(i)); err != nil {
			return err
		}
	}
	p.leave(id, p.tupleEnd(len(t)))
	return nil
}

func (p *pickler) dict(d *Dict, path *writePos) error {
	if i, done, err := p.enter(d, path); err != nil {
		return err
	} else if done {
		p.get(i)
		return nil
	}
	if d.Ordered {
		p.global("collections", "OrderedDict")
		p.op(opEMPTYTUPLE, opREDUCE)
	} else {
		p.op(opEMPTYDICT)
	}
	m := p.put()
	if err := p.setItems(d.Entries, path); err != nil {
		return err
	}
	if d.Ordered && d.Attrs.Len() > 0 {
		// OrderedDict.__reduce__ returns its __dict__ as the state.
		p.op(opEMPTYDICT)
		p.put()
		if err := p.setItems(d.Attrs.Entries, path); err != nil {
			return err
		}
		p.op(opBUILD)
	}
	p.leave(d, m)
	return nil
}

func (p *pickler) setItems(entries []DictEntry, path *writePos) error {
	for start := 0; start < len(entries); start += pickleBatchSize {
		end := min(start+pickleBatchSize, len(entries))
		if end-start > 1 {
			p.op(opMARK)
		}
		for _, e := range entries[start:end] {
			if !p.hashable(e.Key, 0) {
				return writeError(path, "dict key of type %T cannot be a Python dict key", e.Key)
			}
			if err := p.value(e.Key, path); err != nil {
				return err
			}
			if err := p.value(e.Value, path.at(e.Key)); err != nil {
				return err
			}
		}
		if end-start > 1 {
			p.op(opSETITEMS)
		} else {
			p.op(opSETITEM)
		}
	}
	return nil
}

// hashable reports whether k can be a Python dict key. Tuples are judged
// once each, so that a key sharing its parts costs its distinct parts.
func (p *pickler) hashable(k any, depth int) bool {
	switch x := k.(type) {
	case nil, bool, int64, int, int32, int16, int8, uint8, uint16, uint32, uint, uint64,
		float64, float32, complex128, string, []byte, Global, Scalar:
		return true
	case *Tensor:
		return x != nil // hashed by identity, as torch hashes tensors
	case *big.Int:
		return x != nil
	case Tuple:
		if len(x) == 0 {
			return true
		}
		if ok, seen := p.hashables[&x[0]]; seen {
			return ok
		}
		ok := depth <= MaxDepth
		for _, e := range x {
			if !ok {
				break
			}
			ok = p.hashable(e, depth+1)
		}
		if p.hashables == nil {
			p.hashables = make(map[*any]bool)
		}
		p.hashables[&x[0]] = ok
		return ok
	}
	return false
}

// object writes a pickled nn.Module as the OrderedDict its state_dict() would
// return (without its _metadata), and another object as the dict of its parts
// (see inertDict).
func (p *pickler) object(o *Object, path *writePos) error {
	if i, done, err := p.enter(o, path); err != nil {
		return err
	} else if done {
		p.get(i)
		return nil
	}
	if !isModule(o) && !isScriptObject(o) {
		d, err := inertDict(o, path)
		if err != nil {
			return err
		}
		delete(p.active, o)
		if err := p.dict(d, path); err != nil {
			return err
		}
		p.leave(o, p.objs[d])
		return nil
	}
	state, err := leaves(o, true, &poller{})
	if err != nil {
		return writeError(path, "object %s.%s: %v", o.Module, o.Name, err)
	}
	d := &Dict{Ordered: true, Entries: make([]DictEntry, len(state))}
	for k, l := range state {
		v := l.Value
		switch x := v.(type) {
		case *Object:
			return writeError(path.at(l.Name), "object %s.%s has no state to write", x.Module, x.Name)
		case *Tensor:
			// state_dict() holds detached tensors: new tensor objects on
			// the same storages, without requires_grad.
			c := *x
			c.RequiresGrad = false
			v = &c
		}
		d.Entries[k] = DictEntry{Key: l.Name, Value: v}
	}
	if err := p.dict(d, path); err != nil {
		return err
	}
	p.leave(o, p.objs[d])
	return nil
}

// inertDict is the plain dict that stands for an object that is not a module, which
// torch.load(weights_only=True) would refuse: first ClassKey (CallKey for the record
// of a call) with "module.Name", then its parts under the keys by which Leaves names
// them, so that the names of everything in it stay the same: its Args and its List by
// index, its Kwargs, Attrs and Items by key, and the entries of a dict State by key,
// the items of a list or tuple State by index; another State is under "__state__".
// Two parts under one key are an error.
func inertDict(o *Object, path *writePos) (*Dict, error) {
	d := &Dict{}
	seen := map[any]bool{}
	add := func(k, v any) error {
		id := inertKeyID(k)
		if seen[id] {
			return writeError(path, "object %s.%s: two of its parts have the key %s, which one dict cannot hold", o.Module, o.Name, appendKeyLimit(nil, k, 256, nil))
		}
		seen[id] = true
		d.Entries = append(d.Entries, DictEntry{Key: k, Value: v})
		return nil
	}
	marker := ClassKey
	if o.Called {
		marker = CallKey
	}
	add(marker, o.Module+"."+o.Name)
	var parts []DictEntry
	for i, a := range o.Args {
		parts = append(parts, DictEntry{Key: int64(i), Value: a})
	}
	for _, x := range []*Dict{o.Kwargs, o.Attrs, o.Items} {
		parts = append(parts, x.entries()...)
	}
	for i, e := range o.List {
		parts = append(parts, DictEntry{Key: int64(i), Value: e})
	}
	switch st := o.State.(type) {
	case nil:
	case *Dict:
		parts = append(parts, st.entries()...)
	case List:
		for i, e := range st {
			parts = append(parts, DictEntry{Key: int64(i), Value: e})
		}
	case Tuple:
		for i, e := range st {
			parts = append(parts, DictEntry{Key: int64(i), Value: e})
		}
	default:
		parts = append(parts, DictEntry{Key: "__state__", Value: st})
	}
	for _, e := range parts {
		if err := add(e.Key, e.Value); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// inertKeyID is what tells keys apart as Python's dict does, for inertDict: a key
// hashed by identity is itself; a string, bytes and other keys by their kind and
// text (its first 4 KiB), integers, bools and integral floats as the same number
// (1 == 1.0 == True).
func inertKeyID(k any) any {
	switch x := k.(type) {
	case *Tensor, *Object, *Storage:
		return k
	case string:
		return "s" + x
	case []byte:
		return "b" + string(x)
	case bool:
		if x {
			return "k1"
		}
		return "k0"
	}
	// The text is cut at 4 KiB: two keys alike that far are taken as one.
	return "k" + string(appendKeyLimit(nil, k, 4<<10, nil))
}

// storageUse is how a reference to a storage names it in its persistent id: the
// storage class, the size of its elements, and the storage's dtype as torch.save
// compares them when several references meet one storage.
type storageUse struct {
	class Global
	elem  int64
	dtype string
	what  string // the reference's dtype, for messages
}

// The classes of storages the writer names.
var (
	untypedStorage = Global{"torch.storage", "UntypedStorage"}
	qstorageClass  = map[string]string{"qint8": "QInt8Storage", "quint8": "QUInt8Storage", "qint32": "QInt32Storage"}
	qstoredDType   = map[string]DType{"qint8": I8, "quint8": U8, "qint32": I32}
)

// typedUse returns the use of a storage by a strided tensor of dtype d: its typed
// storage (torch.FloatStorage, ...) for the dtypes torch has one for, else an
// UntypedStorage, which _rebuild_tensor_v3 pairs with the dtype (v3 is true).
func typedUse(d DType) (u storageUse, v3 bool, err error) {
	if c, ok := storageClassOf[d]; ok {
		dt := string(d)
		if d == U8 {
			dt = "uint8" // a ByteStorage and an UntypedStorage are both uint8 to torch
		}
		return storageUse{Global{"torch", c}, int64(d.Size()), dt, string(d)}, false, nil
	}
	if _, ok := dtypeNames[d]; !ok || d.Size() == 0 {
		return storageUse{}, false, fmt.Errorf("unknown dtype %q", d)
	}
	return storageUse{untypedStorage, 1, "uint8", string(d) + " (an UntypedStorage)"}, true, nil
}

// storage returns the record of s for a reference of use u.
func (p *pickler) storage(s *Storage, u storageUse, path *writePos) (*writeStorage, error) {
	if out, ok := p.byPtr[s]; ok {
		if out.dtype != u.dtype {
			return nil, writeError(path, "storage is viewed both as %s and as %s; torch.save cannot write that", out.what, u.what)
		}
		return out, nil
	}
	ss := int64(s.DType.Size())
	if ss == 0 {
		return nil, writeError(path, "storage has unknown dtype %q", s.DType)
	}
	hi, nb := bits.Mul64(uint64(max(s.Len, 0)), uint64(ss))
	if s.Len < 0 || hi != 0 || nb > 1<<62 {
		return nil, writeError(path, "storage has invalid length %d", s.Len)
	}
	out := &writeStorage{
		key:    strconv.Itoa(len(p.storages)),
		s:      s,
		dtype:  u.dtype,
		what:   u.what,
		nbytes: int64(nb),
	}
	p.storages = append(p.storages, out)
	p.byPtr[s] = out
	p.byKey[out.key] = out
	return out, nil
}

// storageClassOf names the torch storage class of each dtype that has one.
var storageClassOf = map[DType]string{
	F64: "DoubleStorage", F32: "FloatStorage", F16: "HalfStorage", BF16: "BFloat16Storage",
	I64: "LongStorage", I32: "IntStorage", I16: "ShortStorage", I8: "CharStorage",
	U8: "ByteStorage", BOOL: "BoolStorage", C64: "ComplexFloatStorage", C128: "ComplexDoubleStorage",
}

// persid writes the persistent id torch.save gives a storage: ('storage', class, key,
// 'cpu', numel), numel counting elements of the class (bytes for an UntypedStorage),
// then BINPERSID.
func (p *pickler) persid(s *writeStorage, u storageUse, path *writePos) error {
	if s.nbytes%u.elem != 0 {
		return writeError(path, "storage of %d bytes is not a whole number of %s elements", s.nbytes, u.what)
	}
	p.op(opMARK)
	p.memoStr(p.own, "storage")
	p.global(u.class.Module, u.class.Name)
	p.memoStr(p.own, s.key)
	p.memoStr(p.own, "cpu")
	p.int(s.nbytes / u.elem)
	p.tupleEnd(5)
	p.op(opBINPERSID)
	return nil
}

// tensor writes t as torch.save writes a tensor (torch/_tensor.py,
// Tensor._reduce_ex_internal): _rebuild_tensor_v2(storage, offset, size, stride,
// requires_grad, OrderedDict()) over its typed storage, or for the dtypes without
// one _rebuild_tensor_v3(UntypedStorage, ..., OrderedDict(), dtype); a quantized
// tensor as _rebuild_qtensor, a meta tensor as _rebuild_meta_tensor_no_storage.
func (p *pickler) tensor(t *Tensor, path *writePos) error {
	if i, ok := p.objs[t]; ok {
		p.get(i)
		return nil
	}
	if t.Storage == nil {
		return writeError(path, "tensor has no storage")
	}
	if t.RequiresGrad && !isFloating(t.DType) && !t.DType.IsComplex() {
		return writeError(path, "a %s tensor cannot require grad in torch", t.DType)
	}
	if t.Storage.src == nil && t.Storage.Device == "meta" {
		return p.metaTensor(t, path)
	}
	if t.Quantization != nil {
		return p.qtensor(t, path)
	}
	st, err := p.storageOf(t)
	if err != nil {
		return writeError(path, "%v", err)
	}
	u, v3, err := typedUse(t.DType)
	if err != nil {
		return writeError(path, "%v", err)
	}
	s, err := p.storage(st, u, path)
	if err != nil {
		return err
	}
	if err := p.checkView(t, s, path); err != nil {
		return err
	}
	if v3 {
		p.global("torch._utils", "_rebuild_tensor_v3")
	} else {
		p.global("torch._utils", "_rebuild_tensor_v2")
	}
	p.op(opMARK)
	if err := p.persid(s, u, path); err != nil {
		return err
	}
	p.view(t)
	p.bool(t.RequiresGrad)
	p.hooks()
	n := 6
	if v3 {
		p.global("torch", dtypeNames[t.DType])
		n = 7
	}
	p.tupleEnd(n)
	p.op(opREDUCE)
	p.objs[t] = p.put()
	return nil
}

// view writes a tensor's storage offset, size and stride.
func (p *pickler) view(t *Tensor) {
	strides := t.Strides
	if strides == nil {
		strides = contiguousStrides(t.Shape)
	}
	p.int(int64(t.Offset))
	p.ints(t.Shape)
	p.ints(strides)
}

// hooks writes the empty backward hooks, OrderedDict().
func (p *pickler) hooks() {
	p.global("collections", "OrderedDict")
	p.op(opEMPTYTUPLE, opREDUCE)
	p.put()
}

// checkView checks t's view against the bytes of its storage's record.
func (p *pickler) checkView(t *Tensor, s *writeStorage, path *writePos) error {
	strides := t.Strides
	if strides == nil {
		strides = contiguousStrides(t.Shape)
	}
	if err := checkWriteView(t.Shape, strides, t.Offset, int64(t.DType.Size()), s.nbytes); err != nil {
		return writeError(path, "%v", err)
	}
	return nil
}

// metaTensor writes a tensor of the meta device as
// _rebuild_meta_tensor_no_storage(dtype, size, stride, requires_grad).
func (p *pickler) metaTensor(t *Tensor, path *writePos) error {
	name, ok := dtypeNames[t.DType]
	if !ok {
		return writeError(path, "unknown dtype %q", t.DType)
	}
	strides := t.Strides
	if strides == nil {
		strides = contiguousStrides(t.Shape)
	}
	if err := checkWriteView(t.Shape, strides, 0, 1, 1<<62); err != nil {
		return writeError(path, "%v", err)
	}
	p.global("torch._utils", "_rebuild_meta_tensor_no_storage")
	p.op(opMARK)
	p.global("torch", name)
	p.ints(t.Shape)
	p.ints(strides)
	p.bool(t.RequiresGrad)
	p.tupleEnd(4)
	p.op(opREDUCE)
	p.objs[t] = p.put()
	return nil
}

// qtensor writes a quantized tensor as torch.save does: _rebuild_qtensor(storage,
// offset, size, stride, quantizer_params, requires_grad, OrderedDict()) over its
// torch.QInt8Storage (QUInt8Storage, QInt32Storage), quantizer_params being
// (per_tensor_affine, scale, zero_point) or (per_channel_affine, scales, zero_points,
// axis), per_channel_affine also for per_channel_affine_float_qparams, as torch
// writes it.
func (p *pickler) qtensor(t *Tensor, path *writePos) error {
	q := t.Quantization
	class, ok := qstorageClass[q.DType]
	if !ok || qstoredDType[q.DType] != t.DType {
		return writeError(path, "a quantized tensor of torch.%s holds %s integers", q.DType, t.DType)
	}
	if t.Conj || t.Neg {
		return writeError(path, "a quantized tensor has a lazy conjugate or negative bit")
	}
	if t.Storage.src == nil {
		return writeError(path, "storage %q has no data", t.Storage.key)
	}
	u := storageUse{Global{"torch", class}, int64(t.DType.Size()), q.DType, q.DType}
	s, err := p.storage(t.Storage, u, path)
	if err != nil {
		return err
	}
	if err := p.checkView(t, s, path); err != nil {
		return err
	}
	switch q.Scheme {
	case "per_tensor_affine":
		if q.PerChannel() {
			return writeError(path, "per_tensor_affine with per-channel parameters")
		}
	case "per_channel_affine", "per_channel_affine_float_qparams":
		if !q.PerChannel() || q.ZeroPoints == nil || q.Axis < 0 || q.Axis >= len(t.Shape) {
			return writeError(path, "%s without per-channel parameters along a dimension of %v", q.Scheme, t.Shape)
		}
	default:
		return writeError(path, "unsupported quantization scheme %q", q.Scheme)
	}
	p.global("torch._utils", "_rebuild_qtensor")
	p.op(opMARK)
	if err := p.persid(s, u, path); err != nil {
		return err
	}
	p.view(t)
	if q.PerChannel() {
		p.op(opMARK)
		p.global("torch", "per_channel_affine")
		if err := p.tensor(q.Scales, path.at("scale")); err != nil {
			return err
		}
		if err := p.tensor(q.ZeroPoints, path.at("zero_point")); err != nil {
			return err
		}
		p.int(int64(q.Axis))
		p.tupleEnd(4)
	} else {
		p.global("torch", "per_tensor_affine")
		p.float(q.Scale)
		p.int(q.ZeroPoint)
		p.tupleEnd(3)
	}
	p.bool(t.RequiresGrad)
	p.hooks()
	p.tupleEnd(7)
	p.op(opREDUCE)
	p.objs[t] = p.put()
	return nil
}

// sparse writes a sparse tensor as Write documents: _rebuild_sparse_tensor(layout,
// data), the size a torch.Size, the layout
// torch.serialization._get_layout("torch.<layout>").
func (p *pickler) sparse(x *SparseTensor, path *writePos) error {
	if i, ok := p.objs[x]; ok {
		p.get(i)
		return nil
	}
	var parts []*Tensor
	var names []string
	switch x.Layout {
	case "sparse_coo":
		parts, names = []*Tensor{x.Indices, x.Values}, []string{"indices", "values"}
	case "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc":
		c, pl := compressedNames(x.Layout)
		parts, names = []*Tensor{x.CompressedIndices, x.PlainIndices, x.Values}, []string{c, pl, "values"}
	default:
		return writeError(path, "unsupported sparse layout %q", x.Layout)
	}
	for i, t := range parts {
		if t == nil {
			return writeError(path.at(names[i]), "a %s tensor without its %s", x.Layout, names[i])
		}
	}
	p.global("torch._utils", "_rebuild_sparse_tensor")
	p.layout(x.Layout)
	n := len(parts) + 1
	if x.Layout == "sparse_coo" && x.Coalesced {
		n++
	}
	if n > 3 {
		p.op(opMARK)
	}
	for i, t := range parts {
		if err := p.tensor(t, path.at(names[i])); err != nil {
			return err
		}
	}
	p.size(x.Shape)
	if n == 4 && x.Layout == "sparse_coo" {
		p.bool(true)
	}
	p.tupleEnd(n)
	p.tupleEnd(2)
	p.op(opREDUCE)
	p.objs[x] = p.put()
	return nil
}

// layout writes torch.<name>, a torch.layout, as torch pickles one:
// torch.serialization._get_layout("torch.<name>"), memoized.
func (p *pickler) layout(name string) {
	if i, ok := p.layouts[name]; ok {
		p.get(i)
		return
	}
	p.global("torch.serialization", "_get_layout")
	s := "torch." + name
	p.op(opBINUNICODE)
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(s)))
	p.buf = append(p.buf, s...)
	p.put()
	p.tupleEnd(1)
	p.op(opREDUCE)
	p.layouts[name] = p.put()
}

// size writes a torch.Size: torch.Size((d0, d1, ...)).
func (p *pickler) size(shape []int) {
	p.global("torch", "Size")
	p.ints(shape)
	p.tupleEnd(1)
	p.op(opREDUCE)
	p.put()
}

// nested writes a nested tensor as torch.save does: _rebuild_nested_tensor(buffer,
// sizes, strides, storage_offsets).
func (p *pickler) nested(x *NestedTensor, path *writePos) error {
	if i, ok := p.objs[x]; ok {
		p.get(i)
		return nil
	}
	p.global("torch._utils", "_rebuild_nested_tensor")
	p.op(opMARK)
	for _, part := range x.parts() {
		t, _ := part.Value.(*Tensor)
		if t == nil {
			return writeError(path.at(part.Name), "a nested tensor without its %s", part.Name)
		}
		if err := p.tensor(t, path.at(part.Name)); err != nil {
			return err
		}
	}
	p.tupleEnd(4)
	p.op(opREDUCE)
	p.objs[x] = p.put()
	return nil
}

// checkWriteView checks that a view of elements of e bytes lies within a storage of
// nb bytes.
func checkWriteView(shape, strides []int, offset int, e, nb int64) error {
	return checkView(shape, strides, offset, e, nb, fmt.Sprintf("a storage of %d bytes", nb))
}

// ---------------------------------------------------------------------
// The zip container, laid out byte for byte as PyTorchStreamWriter (miniz
// with MZ_ZIP_FLAG_WRITE_ZIP64) lays it out: entries stored, no times,
// sizes and CRC in a data descriptor after the data, a "FB" extra field
// padding each record's data to 64 bytes, and a zip64 end of central
// directory.

// zip64Limit is the size or offset from which zip64 fields are used
// (miniz's MZ_UINT32_MAX); tests lower it.
var zip64Limit int64 = math.MaxUint32

const (
	zipAlign          = 64
	zipFlagDescriptor = 0x0008 // sizes and CRC in a data descriptor
	zipFlagUTF8       = 0x0800
	zip64ExtraID      = 0x0001
)

// zipCountWriter counts the bytes written to w.
type zipCountWriter struct {
	w io.Writer
	n int64
}

func (c *zipCountWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type zipWriter struct {
	cw    *zipCountWriter
	bw    *bufio.Writer
	dir   []byte
	count int
	err   error
}

func newZipWriter(w io.Writer) *zipWriter {
	cw := &zipCountWriter{w: w}
	return &zipWriter{cw: cw, bw: bufio.NewWriterSize(cw, 64<<10)}
}

// offset returns the number of bytes written so far.
func (z *zipWriter) offset() int64 { return z.cw.n + int64(z.bw.Buffered()) }

func (z *zipWriter) write(b []byte) {
	if z.err == nil {
		_, z.err = z.bw.Write(b)
	}
}

func (z *zipWriter) bytes(name string, data []byte) {
	z.record(name, int64(len(data)), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// zipCRCWriter passes writes to w, summing their CRC-32 and size.
type zipCRCWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

func (c *zipCRCWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, crc32.IEEETable, p[:n])
	c.n += int64(n)
	return n, err
}

// zip64Field returns the zip64 extended information field holding the
// given values.
func zip64Field(vals ...uint64) []byte {
	b := binary.LittleEndian.AppendUint16(nil, zip64ExtraID)
	b = binary.LittleEndian.AppendUint16(b, uint16(8*len(vals)))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// record writes one stored entry of size bytes, which fill writes.
func (z *zipWriter) record(name string, size int64, fill func(io.Writer) error) {
	if z.err != nil {
		return
	}
	le := binary.LittleEndian
	off := z.offset()
	bigSize, bigOff := size >= zip64Limit, off >= zip64Limit
	flags := uint16(zipFlagUTF8)
	if size > 0 {
		flags |= zipFlagDescriptor
	}

	// The local header's zip64 field holds what miniz puts there: the
	// size, a compressed size of 0 (unknown when the header is written)
	// and the offset, each only when it needs 64 bits.
	var local64 []byte
	switch {
	case bigSize && bigOff:
		local64 = zip64Field(uint64(size), 0, uint64(off))
	case bigSize:
		local64 = zip64Field(uint64(size), 0)
	case bigOff:
		local64 = zip64Field(uint64(off))
	}
	start := off + 30 + int64(len(name)) + int64(len(local64)) + 4
	pad := (zipAlign - start%zipAlign) % zipAlign
	fb := make([]byte, 4+pad)
	fb[0], fb[1] = 'F', 'B'
	le.PutUint16(fb[2:], uint16(pad))
	for i := 4; i < len(fb); i++ {
		fb[i] = 'Z'
	}

	h := make([]byte, 30, 30+len(name))
	le.PutUint32(h[0:], 0x04034b50)
	le.PutUint16(h[6:], flags)
	le.PutUint16(h[26:], uint16(len(name)))
	le.PutUint16(h[28:], uint16(len(local64)+len(fb)))
	h = append(h, name...)
	z.write(h)
	z.write(local64)
	z.write(fb)
	if z.err != nil {
		return
	}

	cw := &zipCRCWriter{w: z.bw}
	if err := fill(cw); err != nil {
		z.err = err
		return
	}
	if cw.n != size {
		z.err = fmt.Errorf("pickle: write: record %s: wrote %d bytes, expected %d", name, cw.n, size)
		return
	}
	if size > 0 {
		d := le.AppendUint32(nil, 0x08074b50)
		d = le.AppendUint32(d, cw.crc)
		if local64 != nil {
			d = le.AppendUint64(d, uint64(size))
			d = le.AppendUint64(d, uint64(size))
		} else {
			d = le.AppendUint32(d, uint32(size))
			d = le.AppendUint32(d, uint32(size))
		}
		z.write(d)
	}

	var central64 []byte
	switch {
	case bigSize && bigOff:
		central64 = zip64Field(uint64(size), uint64(size), uint64(off))
	case bigSize:
		central64 = zip64Field(uint64(size), uint64(size))
	case bigOff:
		central64 = zip64Field(uint64(off))
	}
	c := make([]byte, 46)
	le.PutUint32(c[0:], 0x02014b50)
	le.PutUint16(c[8:], flags)
	le.PutUint32(c[16:], cw.crc)
	le.PutUint32(c[20:], zipClamp32(size))
	le.PutUint32(c[24:], zipClamp32(size))
	le.PutUint16(c[28:], uint16(len(name)))
	le.PutUint16(c[30:], uint16(len(central64)))
	le.PutUint32(c[42:], zipClamp32(off))
	z.dir = append(z.dir, c...)
	z.dir = append(z.dir, name...)
	z.dir = append(z.dir, central64...)
	z.count++
}

// zipClamp32 returns v, or 0xFFFFFFFF when v is given in a zip64 field.
func zipClamp32(v int64) uint32 {
	if v >= zip64Limit {
		return math.MaxUint32
	}
	return uint32(v)
}

// close writes the central directory, the zip64 end of central directory
// record and locator, and the end of central directory record.
func (z *zipWriter) close() error {
	if z.err != nil {
		return z.err
	}
	le := binary.LittleEndian
	dirOff := z.offset()
	z.write(z.dir)
	end64 := z.offset()

	e := le.AppendUint32(nil, 0x06064b50)
	e = le.AppendUint64(e, 44)
	e = le.AppendUint16(e, 0x031e)
	e = le.AppendUint16(e, 0x002d)
	e = le.AppendUint32(e, 0)
	e = le.AppendUint32(e, 0)
	e = le.AppendUint64(e, uint64(z.count))
	e = le.AppendUint64(e, uint64(z.count))
	e = le.AppendUint64(e, uint64(len(z.dir)))
	e = le.AppendUint64(e, uint64(dirOff))

	e = le.AppendUint32(e, 0x07064b50)
	e = le.AppendUint32(e, 0)
	e = le.AppendUint64(e, uint64(end64))
	e = le.AppendUint32(e, 1)

	e = le.AppendUint32(e, 0x06054b50)
	e = le.AppendUint16(e, 0)
	e = le.AppendUint16(e, 0)
	e = le.AppendUint16(e, uint16(min(z.count, math.MaxUint16)))
	e = le.AppendUint16(e, uint16(min(z.count, math.MaxUint16)))
	e = le.AppendUint32(e, uint32(min(int64(len(z.dir)), math.MaxUint32)))
	e = le.AppendUint32(e, uint32(min(dirOff, math.MaxUint32)))
	e = le.AppendUint16(e, 0)
	z.write(e)
	if z.err != nil {
		return z.err
	}
	return z.bw.Flush()
}

// numpyTypes are the numpy type strings of the dtypes a Scalar can hold.
var numpyTypes = map[DType]string{
	F64: "f8", F32: "f4", F16: "f2", I64: "i8", I32: "i4", I16: "i2", I8: "i1",
	U8: "u1", U16: "u2", U32: "u4", U64: "u8", BOOL: "b1", C64: "c8", C128: "c16",
}

// scalar writes a numpy scalar as numpy pickles it:
// numpy.core.multiarray.scalar(numpy.dtype(type, False, True) with the
// state (3, "<", None, None, None, -1, -1, 0), bytes).
func (p *pickler) scalar(s Scalar, path *writePos) error {
	t, ok := numpyTypes[s.DType]
	if !ok || len(s.Data) != s.DType.Size() {
		return writeError(path, "numpy scalar of %s with %d bytes", s.DType, len(s.Data))
	}
	p.global("numpy.core.multiarray", "scalar")
	p.global("numpy", "dtype")
	p.memoStr(p.own, t)
	p.op(opNEWFALSE, opNEWTRUE)
	p.tupleEnd(3)
	p.op(opREDUCE)
	p.put()
	p.op(opMARK)
	p.int(3)
	order := "<"
	if s.DType.Size() == 1 {
		order = "|"
	}
	p.memoStr(p.own, order)
	p.op(opNONE, opNONE, opNONE)
	p.int(-1)
	p.int(-1)
	p.int(0)
	p.tupleEnd(8)
	p.op(opBUILD)
	p.bytes(s.Data)
	p.tupleEnd(2)
	p.op(opREDUCE)
	p.put()
	return nil
}
