package pickle

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/nlpodyssey/gopickle/types"
	"github.com/ptport/ptport/internal/regfile"
)

// Format is a checkpoint's container format.
type Format string

// The container formats torch.save has written.
const (
	FormatZip    Format = "zip"    // torch >= 1.6
	FormatLegacy Format = "legacy" // consecutive pickles and raw storages
	FormatTar    Format = "tar"    // torch <= 0.1.10
	// FormatTorchScript is a TorchScript archive (torch.jit.save): a zip whose
	// data.pkl holds the module's objects and tensors, beside the code that is
	// never read.
	FormatTorchScript Format = "torchscript"
)

// File is an opened checkpoint. Tensors in Root read their bytes from the
// file until Close.
type File struct {
	Format Format
	// Root is the unpickled object: a *Dict for a state_dict or checkpoint,
	// a *Tensor, an *Object for a whole pickled nn.Module, ...
	Root any
	// Globals lists, sorted, "module.name" of every global the pickles
	// name (as spelled in the file).
	Globals []string
	// Constants holds, for a TorchScript archive, the constants its code uses
	// (constants.pkl, a Tuple of tensors and values). They are not part of Root.
	Constants any
	// GlobalInfo describes each of Globals, in the same order.
	GlobalInfo []GlobalInfo
	// WeightsOnlyRefusal is nil when torch.load(weights_only=True) of
	// torch 2.6 and later would load the file, and otherwise the first of
	// its rules the file breaks (a global it refuses, an opcode it does not
	// run, ...). With Options.Strict that is an error of Open instead.
	WeightsOnlyRefusal error

	closeOnce sync.Once
	closer    func() error
	closeErr  error
}

// Close releases the file. Tensors of the file cannot be read afterwards.
func (f *File) Close() error {
	f.closeOnce.Do(func() {
		if f.closer != nil {
			f.closeErr = f.closer()
		}
	})
	return f.closeErr
}

// legacyMagic is the magic number of the legacy format.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

const legacyProtocol = 1001

// Open opens and reads the checkpoint in the named file. The file is
// memory-mapped read-only when possible; otherwise it is read through
// os.File.ReadAt. Only the pickle and the container's directory are read. A
// name that is not a regular file (a folder, a named pipe, a device) is a
// *FormatError, returned at once: a named pipe is not waited on for a writer.
func Open(name string, opts *Options) (*File, error) {
	return OpenContext(context.Background(), name, opts)
}

// OpenContext is Open, stopping once ctx is done: it looks at ctx every few thousand
// steps of reading the pickle and walking what it built, and returns an error that wraps
// ctx.Err() (errors.Is(err, context.Canceled)). ctx governs the reading only: the
// tensors of the File read their bytes whatever becomes of it.
func OpenContext(ctx context.Context, name string, opts *Options) (*File, error) {
	if err := stopped(ctx, name); err != nil {
		return nil, err
	}
	f, fi, err := regfile.Open(name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, &FormatError{File: name, Msg: "is a directory"}
	}
	if f == nil {
		return nil, &FormatError{File: name, Msg: "not a regular file (a pipe, device or socket): a checkpoint is read at any offset; copy it to a file, or give its bytes to NewReader"}
	}
	size := fi.Size()
	var ra io.ReaderAt = f
	closer := f.Close
	if m, _ := mapFile(f, size); m != nil {
		f.Close()
		ra, closer = m, m.close
	}
	file, err := newReader(ctx, ra, size, opts, name)
	if err != nil {
		closer()
		return nil, err
	}
	file.closer = closer
	return file, nil
}

// NewReader reads the checkpoint of size bytes in r. Tensors read from r
// on demand, so r must stay readable while they are used.
func NewReader(r io.ReaderAt, size int64, opts *Options) (*File, error) {
	return newReader(context.Background(), r, size, opts, "")
}

// NewReaderContext is NewReader, stopping once ctx is done, as OpenContext does.
func NewReaderContext(ctx context.Context, r io.ReaderAt, size int64, opts *Options) (*File, error) {
	return newReader(ctx, r, size, opts, "")
}

// reader holds the state of reading one checkpoint.
type reader struct {
	name      string
	ra        io.ReaderAt
	size      int64
	opts      Options
	globals   map[string]bool
	classes   map[string]*pyClass
	spent     int64 // cost of the pickles read so far (see allocFloor)
	expansion *expandBudget
	poll      poller // of the reading's context
	policyState

	// zip
	prefix    string
	records   map[string]*zip.File
	bigEndian bool
	storages  map[string]*Storage
	script    bool // a TorchScript archive
	constants any  // its constants.pkl

	// legacy
	rootOrder []*Storage
	views     []*Storage
	viewByKey map[string]*Storage

	// tar
	tarObjs map[string]any
}

func newReader(ctx context.Context, ra io.ReaderAt, size int64, opts *Options, name string) (*File, error) {
	if err := stopped(ctx, name); err != nil {
		return nil, err
	}
	r := &reader{
		poll:      poller{ctx: ctx},
		name:      name,
		ra:        ra,
		size:      size,
		globals:   make(map[string]bool),
		classes:   make(map[string]*pyClass),
		storages:  make(map[string]*Storage),
		viewByKey: make(map[string]*Storage),
		tarObjs:   make(map[string]any),
	}
	if opts != nil {
		r.opts = *opts
	}
	r.expansion = newExpandBudget(name, size, r.opts)
	if r.opts.Strict && r.opts.AllowObjects {
		return nil, errors.New("pickle: Options.Strict and Options.AllowObjects are exclusive")
	}
	if size <= 0 {
		return nil, r.errf("", "empty file: not a PyTorch checkpoint")
	}
	head := make([]byte, min(size, 512))
	if err := readFull(ra, head, 0); err != nil {
		return nil, r.errf("", "%v", err)
	}
	f := &File{}
	var err error
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		f.Format = FormatZip
		f.Root, err = r.readZip()
		if r.script {
			f.Format, f.Constants = FormatTorchScript, r.constants
		}
	case len(head) >= 512 && string(head[257:262]) == "ustar":
		f.Format = FormatTar
		f.Root, err = r.readTar()
	default:
		f.Format = FormatLegacy
		f.Root, err = r.readLegacy(head)
	}
	if err != nil {
		if stop := stopped(ctx, name); stop != nil {
			return nil, stop
		}
		return nil, err
	}
	for g := range r.globals {
		f.Globals = append(f.Globals, g)
	}
	sort.Strings(f.Globals)
	r.report(f)
	return f, nil
}

func (r *reader) errf(where, format string, args ...any) *FormatError {
	return &FormatError{File: r.name, Where: where, Msg: fmt.Sprintf(format, args...)}
}

// readPickle scans and decodes the pickle starting at start in src, which
// may extend to limit. It returns the decoded value (as the unpickler
// produced it) and the offset just past the pickle.
func (r *reader) readPickle(src io.ReaderAt, start, limit int64, label string, persistent func(any) (any, error)) (any, int64, error) {
	return r.readPickleIn(src, start, limit, limit-start, label, persistent)
}

// readPickleIn is readPickle for a pickle that takes inFile bytes of the
// file (fewer than limit-start when it was inflated): its cost is bounded
// by allocFloor + allocFactor × inFile, and by what is left of the file's
// budget for all its pickles.
func (r *reader) readPickleIn(src io.ReaderAt, start, limit, inFile int64, label string, persistent func(any) (any, error)) (any, int64, error) {
	where := func(off int) string { return fmt.Sprintf("%s offset %d", label, start+int64(off)) }
	avail := limit - start
	if avail <= 0 {
		return nil, start, r.errf(where(0), "missing pickle (truncated file?)")
	}
	budget := allocFloor + allocFactor*inFile
	limitFor := fmt.Sprintf("%d bytes of pickle", inFile)
	if inFile < avail {
		limitFor = fmt.Sprintf("%d compressed bytes of pickle", inFile)
	}
	if left := allocFloor + allocFactor*r.size - r.spent; left < budget {
		budget = left
		limitFor = fmt.Sprintf("the pickles of a file of %d bytes", r.size)
	}
	var buf []byte
	if m, ok := src.(memSource); ok && start == 0 && int64(len(m)) == limit {
		buf = m // already in memory
	} else {
		// Small first: a file may hold many small pickles (the storage
		// headers of a tar checkpoint); the buffer doubles as needed.
		buf = make([]byte, min(avail, 256))
		if err := readFull(src, buf, start); err != nil {
			return nil, start, r.errf(where(0), "%v", err)
		}
	}
	grow := func(n int64) ([]byte, error) {
		size, err := sliceLen(min(avail, max(n, 2*int64(len(buf)))), 1)
		if err != nil {
			return nil, r.errf(where(len(buf)), "%v", err)
		}
		nb := make([]byte, size)
		copy(nb, buf)
		if err := readFull(src, nb[len(buf):], start+int64(len(buf))); err != nil {
			return nil, r.errf(where(len(buf)), "%v", err)
		}
		buf = nb
		return nb, nil
	}
	sr, buf, err := scanPickle(buf, avail, budget, limitFor, grow, r.checkGlobal(where), where, &r.poll)
	if err != nil {
		return nil, start, r.wrap(err, where(0))
	}
	r.spent += sr.cost
	v, work, err := r.unpickle(buf, sr, where, persistent)
	r.spent += work
	return v, start + int64(sr.end), err
}

// ---- zip ----

// recordSource returns where a zip record's bytes can be read in place.
func (r *reader) recordSource(f *zip.File) (io.ReaderAt, int64, int64, error) {
	return zipSource(r.name, f, r.ra, r.size)
}

// readRecord reads a whole record into memory, checking its CRC.
func (r *reader) readRecord(f *zip.File) ([]byte, error) {
	src, off, size, err := r.recordSource(f)
	if err != nil {
		return nil, err
	}
	if _, ok := src.(*inflateSource); ok {
		return r.inflateRecord(f, size)
	}
	n, err := sliceLen(size, 1)
	if err != nil {
		return nil, r.errf(f.Name, "%v", err)
	}
	b := make([]byte, n)
	if err := readFull(src, b, off); err != nil {
		return nil, r.errf(f.Name, "%v", err)
	}
	// torch.save with serialization.set_crc32_options(False) writes 0 for every
	// record's CRC-32, and torch's reader never checks CRCs; 0 is therefore
	// "not computed", and any other value is checked.
	if f.CRC32 != 0 && crc32.ChecksumIEEE(b) != f.CRC32 {
		return nil, r.errf(f.Name, "CRC-32 mismatch: the record is corrupt")
	}
	return b, nil
}

func (r *reader) readZip() (any, error) {
	zr, err := zip.NewReader(r.ra, r.size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, r.errf("zip directory", "%s", zipDamage(r.ra, r.size, err))
	}
	all := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		if _, dup := all[f.Name]; !dup {
			all[f.Name] = f
		}
	}
	// torch names records <archive>/...; the archive name is the top
	// directory of the first record.
	prefix := ""
	found := false
	if len(zr.File) > 0 {
		if i := strings.IndexByte(zr.File[0].Name, '/'); i >= 0 {
			prefix = zr.File[0].Name[:i+1]
		}
		_, found = all[prefix+"data.pkl"]
	}
	if !found {
		for _, f := range zr.File {
			if dir, ok := strings.CutSuffix(f.Name, "data.pkl"); ok && (dir == "" || strings.IndexByte(dir, '/') == len(dir)-1) {
				prefix, found = dir, true
				break
			}
		}
	}
	if !found {
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, "model.json") {
				return nil, r.errf(f.Name, "this is a TorchScript archive of torch 1.0 to 1.3 (model.json), which is not supported; load it in Python and save model.state_dict() with torch.save instead")
			}
		}
		return nil, r.errf("zip directory", "%s", describeZip(zr.File))
	}
	for name := range all {
		rest, ok := strings.CutPrefix(name, prefix)
		if ok && (rest == "constants.pkl" || strings.HasPrefix(rest, "code/")) {
			r.script = true
		}
	}
	r.prefix = prefix
	r.records = make(map[string]*zip.File)
	for name, f := range all {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			r.records[rest] = f
		}
	}
	recs := make([]*zip.File, 0, len(r.records))
	for _, f := range r.records {
		recs = append(recs, f)
	}
	if err := checkZipRecords(r.name, recs, r.size); err != nil {
		return nil, err
	}
	if r.script {
		if err := r.checkScriptCode(); err != nil {
			return nil, err
		}
		if err := r.woContainer("TorchScript archives (torch.jit.save)"); err != nil {
			return nil, err
		}
	}
	if f, ok := r.records["byteorder"]; ok {
		if f.UncompressedSize64 > 16 {
			return nil, r.errf(f.Name, "invalid byteorder record of %d bytes", f.UncompressedSize64)
		}
		b, err := r.readRecord(f)
		if err != nil {
			return nil, err
		}
		switch string(b) {
		case "little":
		case "big":
			r.bigEndian = true
		default:
			return nil, r.errf(f.Name, "unknown byte order %q", b)
		}
	}
	pf := r.records["data.pkl"]
	v, err := r.recordPickle(pf, r.zipPersistent("data/"))
	if err != nil {
		return nil, err
	}
	root, err := r.convert(v, pf.Name)
	if err != nil || !r.script {
		return root, err
	}
	if err := r.checkScript(root, pf.Name); err != nil {
		return nil, err
	}
	if cf, ok := r.records["constants.pkl"]; ok {
		v, err := r.recordPickle(cf, r.zipPersistent("constants/"))
		if err != nil {
			return nil, err
		}
		if r.constants, err = r.convert(v, cf.Name); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// keyString normalises a storage key (a str, bytes or int) to a string.
func keyString(v any) (string, bool) {
	if s, ok := asString(v); ok {
		return s, true
	}
	if i, ok := toInt64(v); ok {
		return strconv.FormatInt(i, 10), true
	}
	if b, ok := v.(*big.Int); ok {
		return b.String(), true
	}
	return "", false
}

// storageDType returns the dtype of a storage type in a persistent id, and
// for the storage of a quantized tensor its torch dtype ("qint8", ...).
func storageDType(v any) (DType, string, error) {
	c, ok := v.(*pyClass)
	if !ok {
		return "", "", fmt.Errorf("storage type is %s", typeName(v))
	}
	switch c.kind {
	case gStorageClass:
		return c.dtype, quantizedStorages[c.name], nil
	case gDType:
		if c.dtype != "" {
			return c.dtype, "", nil
		}
		return "", "", fmt.Errorf("unsupported storage dtype %s", c)
	case gTypedStorage:
		return "", "", fmt.Errorf("storage type %s carries no dtype", c)
	}
	return "", "", fmt.Errorf("storage type is %s, not a storage class", c)
}

func pidTuple(pid any) ([]any, string, error) {
	t, ok := pid.(*types.Tuple)
	if !ok || len(*t) == 0 {
		return nil, "", fmt.Errorf("unsupported persistent id (%s)", typeName(pid))
	}
	name, ok := asString((*t)[0])
	if !ok {
		return nil, "", fmt.Errorf("unsupported persistent id: type is %s", typeName((*t)[0]))
	}
	return *t, name, nil
}

// zipPersistent returns the resolver of ('storage', storage_type, key, location,
// numel) to the records of folder dir ("data/"; TorchScript's constants.pkl
// uses "constants/").
func (r *reader) zipPersistent(dir string) func(pid any) (any, error) {
	return func(pid any) (any, error) { return r.zipStorage(dir, pid) }
}

func (r *reader) zipStorage(dir string, pid any) (any, error) {
	t, name, err := pidTuple(pid)
	if err != nil {
		return nil, err
	}
	if name != "storage" || len(t) != 5 {
		return nil, fmt.Errorf("unsupported persistent id %q with %d fields", name, len(t))
	}
	dt, qdt, err := storageDType(t[1])
	if err != nil {
		return nil, err
	}
	key, ok := keyString(t[2])
	if !ok {
		return nil, fmt.Errorf("storage key is %s", typeName(t[2]))
	}
	loc, _ := asString(t[3])
	numel, ok := toInt64(t[4])
	if !ok || numel < 0 {
		return nil, fmt.Errorf("storage %q: invalid element count %v", key, t[4])
	}
	if s, ok := r.storages[dir+key]; ok {
		return s, nil
	}
	f, ok := r.records[dir+key]
	if !ok {
		return nil, r.errf(r.prefix+dir+key, "storage record is missing")
	}
	src, off, size, err := r.recordSource(f)
	if err != nil {
		return nil, err
	}
	e := int64(dt.Size())
	if numel > size/e {
		return nil, r.errf(f.Name, "storage of %d %s elements (%d bytes) exceeds the record's %d bytes", numel, dt, numel*e, size)
	}
	s := &Storage{DType: dt, Len: numel, Device: loc, key: key, src: src, off: off, swap: r.bigEndian, qdtype: qdt, expansion: r.expansion}
	if _, inflated := src.(*inflateSource); !inflated && f.CRC32 != 0 {
		// A deflated record checks its CRC-32 as it is inflated to its end.
		s.sum = &recordSum{file: r.name, record: f.Name, want: f.CRC32, src: src, base: off, size: size}
	}
	r.storages[dir+key] = s
	return s, nil
}

// ---- legacy ----

// readLegacy reads a file of the legacy format, whose first bytes are head; a file that
// does not start with the format's magic number is refused as of an unknown format,
// saying what it is when identify can tell.
func (r *reader) readLegacy(head []byte) (any, error) {
	if what := cutShort(head, r.size); what != "" {
		return nil, r.errf("", "%s", what)
	}
	magic, off, err := r.readPickle(r.ra, 0, r.size, "pickle", nil)
	if m, ok := magic.(*big.Int); err != nil || !ok || m.Cmp(legacyMagic) != 0 {
		if what := identify(head); what != "" {
			return nil, r.errf("", "%s", what)
		}
	}
	if err != nil {
		const unknown = "unknown format: not a zip, tar or legacy-format PyTorch checkpoint; read as a plain pickle: "
		var fe *FormatError
		var ue *UnsafeGlobalError
		switch {
		case errors.As(err, &fe):
			c := *fe
			c.Msg = unknown + c.Msg
			return nil, &c
		case errors.As(err, &ue) && ue.Reason == ReasonMalformed:
			// Text read as a pickle (a Python source's "import torch" is INST of
			// module "mport torch"): no unpickler could import such a name, so this
			// is no pickle, let alone a checkpoint.
			return nil, r.errf(ue.Where, "%sit names a global that no unpickler could import (module %s, name %s)", unknown, quoteName(ue.Module), quoteName(ue.Name))
		}
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, r.errf("offset 0", "unknown format: not a zip or tar file, and no legacy-format magic number")
	}
	proto, off, err := r.readPickle(r.ra, off, r.size, "protocol version pickle", nil)
	if err != nil {
		return nil, err
	}
	if p, ok := toInt64(proto); !ok || p != legacyProtocol {
		return nil, r.errf("protocol version pickle", "unsupported legacy protocol version %v", proto)
	}
	if _, off, err = r.readPickle(r.ra, off, r.size, "sys_info pickle", nil); err != nil {
		return nil, err
	}
	objStart := off
	obj, off, err := r.readPickle(r.ra, off, r.size, "object pickle", r.legacyPersistent)
	if err != nil {
		return nil, err
	}
	keysV, off, err := r.readPickle(r.ra, off, r.size, "storage keys pickle", nil)
	if err != nil {
		return nil, err
	}
	keys, ok := iterItems(keysV)
	if !ok {
		return nil, r.errf("storage keys pickle", "storage keys are %s, not a list", typeName(keysV))
	}
	roots := make(map[string]*Storage, len(r.rootOrder))
	for _, s := range r.rootOrder {
		roots[s.key] = s
	}
	for _, k := range keys {
		if err := r.poll.step(); err != nil {
			return nil, err
		}
		key, ok := keyString(k)
		if !ok {
			return nil, r.errf("storage keys pickle", "storage key is %s", typeName(k))
		}
		s, ok := roots[key]
		if !ok {
			return nil, r.errf("storage "+key, "storage data at offset %d belongs to no storage of the object pickle", off)
		}
		if s.src != nil {
			return nil, r.errf("storage "+key, "storage data appears twice")
		}
		var hdr [8]byte
		if off > r.size-8 {
			return nil, r.errf("storage "+key, "missing storage data at offset %d (truncated file?)", off)
		}
		if err := readFull(r.ra, hdr[:], off); err != nil {
			return nil, r.errf("storage "+key, "%v", err)
		}
		n := int64(binary.LittleEndian.Uint64(hdr[:]))
		if n != s.Len {
			return nil, r.errf("storage "+key, "data at offset %d holds %d elements; the object pickle says %d", off, n, s.Len)
		}
		nb := n * int64(s.DType.Size())
		if nb > r.size-off-8 {
			return nil, r.errf("storage "+key, "storage of %d bytes at offset %d runs past the end of the file (truncated?)", nb, off+8)
		}
		s.src, s.off = r.ra, off+8
		off += 8 + nb
	}
	for _, s := range r.rootOrder {
		if s.src == nil {
			return nil, r.errf("storage "+s.key, "storage has no data in the file")
		}
	}
	for _, v := range r.views {
		v.src, v.off, v.swap = v.root.src, v.root.off+v.rootOff, v.root.swap
		v.root = nil
	}
	return r.convert(obj, fmt.Sprintf("object pickle offset %d", objStart))
}

// legacyPersistent resolves ('module', cls, source_file, source) and
// ('storage', storage_type, root_key, location, numel, view_metadata).
func (r *reader) legacyPersistent(pid any) (any, error) {
	t, name, err := pidTuple(pid)
	if err != nil {
		return nil, err
	}
	switch name {
	case "module":
		if len(t) < 2 {
			return nil, errors.New("persistent id 'module' without a class")
		}
		return t[1], nil
	case "storage":
	default:
		return nil, fmt.Errorf("unsupported persistent id %q", name)
	}
	if len(t) != 6 {
		return nil, fmt.Errorf("storage persistent id with %d fields, want 6", len(t))
	}
	dt, qdt, err := storageDType(t[1])
	if err != nil {
		return nil, err
	}
	key, ok := keyString(t[2])
	if !ok {
		return nil, fmt.Errorf("storage key is %s", typeName(t[2]))
	}
	loc, _ := asString(t[3])
	numel, ok := toInt64(t[4])
	e := int64(dt.Size())
	if !ok || numel < 0 || numel > r.size/e {
		return nil, fmt.Errorf("storage %q: element count %v exceeds what the file can hold", key, t[4])
	}
	root := r.storages[key]
	if root == nil {
		root = &Storage{DType: dt, Len: numel, Device: loc, key: key, qdtype: qdt, expansion: r.expansion}
		r.rootOrder = append(r.rootOrder, root)
		r.storages[key] = root
	}
	if t[5] == nil {
		return root, nil
	}
	vm, ok := iterItems(t[5])
	if !ok || len(vm) != 3 {
		return nil, fmt.Errorf("storage %q: invalid view metadata %s", key, typeName(t[5]))
	}
	vkey, ok := keyString(vm[0])
	if !ok {
		return nil, fmt.Errorf("storage %q: view key is %s", key, typeName(vm[0]))
	}
	if v, ok := r.viewByKey[vkey]; ok {
		return v, nil
	}
	voff, ok1 := toInt64(vm[1])
	vlen, ok2 := toInt64(vm[2])
	rootBytes := root.Len * int64(root.DType.Size())
	if !ok1 || !ok2 || voff < 0 || vlen < 0 || voff > rootBytes/e || vlen > rootBytes/e-voff {
		return nil, fmt.Errorf("storage view %q (offset %v, size %v) lies outside storage %q of %d bytes", vkey, vm[1], vm[2], key, rootBytes)
	}
	v := &Storage{DType: dt, Len: vlen, Device: loc, key: vkey, root: root, rootOff: voff * e, qdtype: qdt, expansion: r.expansion}
	r.viewByKey[vkey] = v
	r.views = append(r.views, v)
	return v, nil
}

// ---- tar ----

func (r *reader) readTar() (any, error) {
	if err := r.woContainer("tar checkpoints (torch <= 0.1.10)"); err != nil {
		return nil, err
	}
	sr := io.NewSectionReader(r.ra, 0, r.size)
	tr := tar.NewReader(sr)
	type member struct{ off, size int64 }
	members := make(map[string]member)
	last, lastEnd := "", int64(0) // the last member, and the end of its 512-byte blocks
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, r.errf("tar", "%v", err)
		}
		pos, err := sr.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, r.errf("tar", "%v", err)
		}
		if hdr.Size < 0 || hdr.Size > r.size-pos {
			return nil, r.errf("tar member "+hdr.Name, "member of %d bytes at offset %d runs past the end of the file", hdr.Size, pos)
		}
		if _, dup := members[hdr.Name]; !dup && (hdr.Typeflag == tar.TypeReg || hdr.Typeflag == 0) {
			members[hdr.Name] = member{pos, hdr.Size}
		}
		last, lastEnd = hdr.Name, pos+(hdr.Size+511)/512*512
	}
	for _, n := range []string{"storages", "tensors", "pickle"} {
		if _, ok := members[n]; !ok {
			if last != "" && r.size-lastEnd < 1024 {
				// No end-of-archive marker (two zero blocks) after the last member.
				return nil, r.errf("tar", "the archive ends at offset %d, after its member %s, with no %q member, which a PyTorch tar checkpoint holds, and without the two zero blocks that end a tar archive: the file is truncated (a download that never finished?)", r.size, quoteName(last), n)
			}
			return nil, r.errf("tar", "no %q member: not a PyTorch tar checkpoint", n)
		}
	}
	// storages: count, then (key, location, storage_type) + int64 count +
	// bytes for each, then the list of views.
	m := members["storages"]
	off, end := m.off, m.off+m.size
	label := "tar member storages"
	numV, off, err := r.readPickle(r.ra, off, end, label, nil)
	if err != nil {
		return nil, err
	}
	num, ok := toInt64(numV)
	if !ok || num < 0 || num > m.size/8 {
		return nil, r.errf(label, "invalid storage count %v", numV)
	}
	for i := int64(0); i < num; i++ {
		argsV, next, err := r.readPickle(r.ra, off, end, label, nil)
		if err != nil {
			return nil, err
		}
		off = next
		args, ok := iterItems(argsV)
		if !ok || len(args) != 3 {
			return nil, r.errf(label, "invalid storage header %s", typeName(argsV))
		}
		key, ok := keyString(args[0])
		if !ok {
			return nil, r.errf(label, "storage key is %s", typeName(args[0]))
		}
		loc, _ := asString(args[1])
		dt, _, err := storageDType(args[2])
		if err != nil {
			return nil, r.errf(label+" storage "+key, "%v", err)
		}
		var hdr [8]byte
		if off > end-8 {
			return nil, r.errf(label+" storage "+key, "missing storage size (truncated?)")
		}
		if err := readFull(r.ra, hdr[:], off); err != nil {
			return nil, r.errf(label, "%v", err)
		}
		n := int64(binary.LittleEndian.Uint64(hdr[:]))
		e := int64(dt.Size())
		if n < 0 || n > (end-off-8)/e {
			return nil, r.errf(label+" storage "+key, "storage of %d elements at offset %d runs past the member's end", n, off)
		}
		r.tarObjs[key] = &Storage{DType: dt, Len: n, Device: loc, key: key, src: r.ra, off: off + 8, expansion: r.expansion}
		off += 8 + n*e
	}
	viewsV, _, err := r.readPickle(r.ra, off, end, label, nil)
	if err != nil {
		return nil, err
	}
	views, ok := iterItems(viewsV)
	if !ok {
		return nil, r.errf(label, "storage views are %s, not a list", typeName(viewsV))
	}
	for _, vv := range views {
		v, ok := iterItems(vv)
		if !ok || len(v) != 4 {
			return nil, r.errf(label, "invalid storage view %s", typeName(vv))
		}
		target, ok1 := keyString(v[0])
		rootKey, ok2 := keyString(v[1])
		voff, ok3 := toInt64(v[2])
		vlen, ok4 := toInt64(v[3])
		root, ok5 := r.tarObjs[rootKey].(*Storage)
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || voff < 0 || vlen < 0 || voff > root.Len || vlen > root.Len-voff {
			return nil, r.errf(label, "invalid storage view %v of storage %v", v[0], v[1])
		}
		e := int64(root.DType.Size())
		r.tarObjs[target] = &Storage{DType: root.DType, Len: vlen, Device: root.Device, key: target, src: root.src, off: root.off + voff*e, expansion: r.expansion}
	}
	// tensors: count, then (key, storage_id, tensor_type) + int32 ndim,
	// 4 bytes, sizes, strides, storage offset for each.
	m = members["tensors"]
	off, end = m.off, m.off+m.size
	label = "tar member tensors"
	numV, off, err = r.readPickle(r.ra, off, end, label, nil)
	if err != nil {
		return nil, err
	}
	num, ok = toInt64(numV)
	if !ok || num < 0 || num > m.size/16 {
		return nil, r.errf(label, "invalid tensor count %v", numV)
	}
	for i := int64(0); i < num; i++ {
		argsV, next, err := r.readPickle(r.ra, off, end, label, nil)
		if err != nil {
			return nil, err
		}
		off = next
		args, ok := iterItems(argsV)
		if !ok || len(args) != 3 {
			return nil, r.errf(label, "invalid tensor header %s", typeName(argsV))
		}
		key, ok1 := keyString(args[0])
		sid, ok2 := keyString(args[1])
		s, ok3 := r.tarObjs[sid].(*Storage)
		if !ok1 || !ok2 || !ok3 {
			return nil, r.errf(label, "tensor %v refers to unknown storage %v", args[0], args[1])
		}
		var nd [8]byte
		if off > end-8 {
			return nil, r.errf(label+" tensor "+key, "truncated tensor header")
		}
		if err := readFull(r.ra, nd[:], off); err != nil {
			return nil, r.errf(label, "%v", err)
		}
		ndim := int64(int32(binary.LittleEndian.Uint32(nd[:4])))
		if ndim < 0 || ndim > (end-off-16)/16 {
			return nil, r.errf(label+" tensor "+key, "invalid dimension count %d", ndim)
		}
		n, err := sliceLen(16*ndim+8, 1)
		if err != nil {
			return nil, r.errf(label+" tensor "+key, "%v", err)
		}
		b := make([]byte, n)
		if err := readFull(r.ra, b, off+8); err != nil {
			return nil, r.errf(label, "%v", err)
		}
		off += 8 + int64(len(b))
		t := &Tensor{DType: s.DType, Shape: make([]int, ndim), Strides: make([]int, ndim), Storage: s}
		field := func(i int64, what string) (int, error) {
			v := int64(binary.LittleEndian.Uint64(b[8*i:]))
			x, ok := asInt(v)
			if !ok {
				return 0, r.errf(label+" tensor "+key, "%s %d is out of the range of a %d-bit int", what, v, strconv.IntSize)
			}
			return x, nil
		}
		for j := int64(0); j < ndim; j++ {
			if t.Shape[j], err = field(j, "size"); err != nil {
				return nil, err
			}
			if t.Strides[j], err = field(ndim+j, "stride"); err != nil {
				return nil, err
			}
		}
		if t.Offset, err = field(2*ndim, "storage offset"); err != nil {
			return nil, err
		}
		if err := t.checkBounds(); err != nil {
			return nil, r.errf(label+" tensor "+key, "%v", err)
		}
		r.tarObjs[key] = &tensorVal{t: t}
	}
	m = members["pickle"]
	v, _, err := r.readPickle(r.ra, m.off, m.off+m.size, "tar member pickle", r.tarPersistent)
	if err != nil {
		return nil, err
	}
	return r.convert(v, "tar member pickle")
}

// tarPersistent resolves a tensor or storage key, or a module class.
func (r *reader) tarPersistent(pid any) (any, error) {
	if t, ok := pid.(*types.Tuple); ok {
		if len(*t) == 0 {
			return nil, errors.New("empty persistent id")
		}
		return (*t)[0], nil
	}
	key, ok := keyString(pid)
	if !ok {
		return nil, fmt.Errorf("unsupported persistent id (%s)", typeName(pid))
	}
	key = strings.TrimSpace(key)
	v, ok := r.tarObjs[key]
	if !ok {
		return nil, fmt.Errorf("persistent id %q names no tensor or storage", key)
	}
	return v, nil
}
