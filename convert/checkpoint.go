package convert

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/ptport/ptport/convert/internal/atomicfile"
	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/internal/export"
	"github.com/ptport/ptport/convert/internal/fileerr"
	"github.com/ptport/ptport/convert/npz"
	"github.com/ptport/ptport/convert/ptjson"
	"github.com/ptport/ptport/convert/safetensors"
	"github.com/ptport/ptport/internal/regfile"
	"github.com/ptport/ptport/pickle"
)

// Checkpoint is an opened input file: its object tree and its named leaves, in order.
// Tensor data is read lazily, so a Checkpoint must stay open while its tensors are used.
type Checkpoint struct {
	Path string
	// Format is "zip", "legacy" or "tar" for the files torch.save writes,
	// "safetensors", "npz", or "json" for ptport's JSON export.
	Format string
	// Root is the unpickled object; for safetensors and npz files, an ordered dict of
	// the leaves.
	Root    any
	Leaves  []pickle.Leaf
	Globals []string // the globals the pickle referenced, "module.name"
	// GlobalInfo and WeightsOnlyRefusal are pickle.File's, for the files
	// torch.save writes (nil for the other formats).
	GlobalInfo         []pickle.GlobalInfo
	WeightsOnlyRefusal error
	// Shared lists the groups of tensors that shared a storage in the file this one was
	// converted from, as its metadata records them (tensors sharing a storage in this
	// file are found from their storages: see Inventory.Shared).
	Shared [][]string
	// Shards counts the shard files of a sharded checkpoint; 0 for a single file.
	Shards int
	// Constants are a TorchScript archive's constants (pickle.File.Constants).
	Constants any

	close func() error
}

// Open reads the checkpoint at path: a file torch.save wrote, a safetensors file, an npz
// file or ptport's JSON export, told apart by their content; or a sharded checkpoint, by
// its index (NAME.index.json: model.safetensors.index.json, pytorch_model.bin.index.json)
// and the shards it names, as one checkpoint. A shard opened on its own is refused with
// a *ShardError that names its index: it is part of a model, never a whole one (open
// the index for the whole, OpenShard for the part). A shard is a file that an index
// beside it (any NAME.index.json in its folder) names, whatever the file's name
// (model-00001-of-00001.safetensors, or the names a hand-written index gives), or a
// file named as one of several shards, STEM-0000K-of-0000N.EXT (see ShardOf; one whose
// index beside it does not name it is refused too, as Stray). To tell,
// Open reads the names in the file's folder and the indexes among them, each as it
// reads an index (at most 64 MiB), up to the first by name that names the file; it
// opens no other file. A path that is not a regular file (a named pipe, a device) is a
// *pickle.FormatError, returned at once, without waiting for a pipe's writer. opts may
// be nil.
func Open(path string, opts *pickle.Options) (*Checkpoint, error) {
	return OpenContext(context.Background(), path, opts)
}

// OpenContext is Open, stopping once ctx is done: reading a file takes time as the
// objects, values and tensors it lists (not as its tensors' bytes, which are read
// lazily), and OpenContext looks at ctx every few thousand of them, or every few
// kilobytes of a JSON document, and then returns an error that wraps ctx.Err()
// (errors.Is(err, context.Canceled)). ctx governs the reading only: the Checkpoint's
// tensors read their bytes whatever becomes of it.
func OpenContext(ctx context.Context, path string, opts *pickle.Options) (*Checkpoint, error) {
	if IsIndex(path) {
		return openIndex(ctx, path, opts)
	}
	e, others, err := indexNaming(ctx, path)
	if err != nil {
		return nil, err
	} else if e != nil {
		return nil, e
	}
	if e := ShardOf(path); e != nil {
		// No index names the file: its own, read, is another save's.
		e.Stray = e.IndexFound && slices.Contains(others, e.Index)
		return nil, e
	}
	return openFile(ctx, path, opts)
}

// OpenShard opens the file at path on its own, as Open opens a single file, without
// looking for an index that names it: a shard of a sharded checkpoint, whose tensors
// are part of a model, or a file its caller has told is no shard already (as package
// batch does, which reads each folder's indexes once, not once a file).
func OpenShard(path string, opts *pickle.Options) (*Checkpoint, error) {
	return OpenShardContext(context.Background(), path, opts)
}

// OpenShardContext is OpenShard, stopping once ctx is done, as OpenContext does.
func OpenShardContext(ctx context.Context, path string, opts *pickle.Options) (*Checkpoint, error) {
	return openFile(ctx, path, opts)
}

// openFile opens the single checkpoint file at path.
func openFile(ctx context.Context, path string, opts *pickle.Options) (*Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, fileerr.Wrap(path, err)
	}
	f, fi, err := regfile.Open(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fileerr.Wrap(path, ErrFolder)
	}
	if f == nil {
		return nil, &pickle.FormatError{File: path, Msg: atomicfile.Kind(fi.Mode()) + ", not a regular file: a checkpoint is read at any offset, which it does not allow; copy it to a regular file first"}
	}
	// Read through the file, not a memory map, so that tensor data can be copied within
	// the kernel and converting a large file does not map it all into memory.
	cp, err := NewCheckpointContext(ctx, path, f, fi.Size(), opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	cp.close = f.Close
	return cp, nil
}

// ErrFolder is the error, after the folder's path, of Open given a folder.
var ErrFolder = errors.New("a folder, not a checkpoint file")

// NewCheckpoint reads a checkpoint of size bytes from r, as Open does; name is how
// errors call it.
func NewCheckpoint(name string, r io.ReaderAt, size int64, opts *pickle.Options) (*Checkpoint, error) {
	return NewCheckpointContext(context.Background(), name, r, size, opts)
}

// NewCheckpointContext is NewCheckpoint, stopping once ctx is done, as OpenContext does.
func NewCheckpointContext(ctx context.Context, name string, r io.ReaderAt, size int64, opts *pickle.Options) (*Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, fileerr.Wrap(name, err)
	}
	if kind := sniff(r, size); kind != "pickle" {
		return readOther(ctx, name, kind, r, size)
	}
	pf, err := pickle.NewReaderContext(ctx, r, size, opts)
	if err != nil {
		return nil, fileerr.Wrap(name, err)
	}
	return fromPickle(ctx, name, pf)
}

func fromPickle(ctx context.Context, name string, pf *pickle.File) (*Checkpoint, error) {
	leaves, err := pickle.LeavesContext(ctx, pf.Root)
	if err != nil {
		pf.Close()
		return nil, fileerr.Wrap(name, err)
	}
	return &Checkpoint{Path: name, Format: string(pf.Format), Root: pf.Root, Leaves: leaves, Globals: pf.Globals,
		GlobalInfo: pf.GlobalInfo, WeightsOnlyRefusal: pf.WeightsOnlyRefusal, Constants: pf.Constants, close: pf.Close}, nil
}

func readOther(ctx context.Context, name, kind string, r io.ReaderAt, size int64) (*Checkpoint, error) {
	var leaves []pickle.Leaf
	var meta map[string]string
	var err error
	switch kind {
	case "safetensors":
		if leaves, meta, err = safetensors.ReadWithMetadata(ctx, name, r, size); err != nil {
			return nil, err
		}
	case "npz":
		leaves, err = npz.ReadContext(ctx, name, r, size)
	default:
		leaves, err = ptjson.ReadContext(ctx, name, r, size)
	}
	if err != nil {
		return nil, err
	}
	if meta == nil {
		meta, err = export.ReadMetadataFrom(ctx, name, kind, r, size)
		if stop := ctxio.Stopped(ctx, name); stop != nil {
			return nil, stop
		}
	}
	cp := FromLeaves(name, leaves)
	cp.Format = kind
	if err == nil {
		if raw, ok := meta[export.SharedKey]; ok {
			json.Unmarshal([]byte(raw), &cp.Shared)
		}
	}
	return cp, nil
}

// FromLeaves makes a checkpoint of leaves: an ordered dict of them by name, as a
// state_dict is.
func FromLeaves(name string, leaves []pickle.Leaf) *Checkpoint {
	root := &pickle.Dict{Ordered: true}
	for _, l := range leaves {
		root.Entries = append(root.Entries, pickle.DictEntry{Key: l.Name, Value: l.Value})
	}
	return &Checkpoint{Path: name, Root: root, Leaves: leaves, Globals: []string{}}
}

// sniff tells a safetensors file ("safetensors"), an npz file ("npz") and a JSON export
// of ptport ("json") from anything else ("pickle", which package pickle reads or
// rejects, naming what the file is when it can tell). It reads at most jsonPrefix bytes.
func sniff(r io.ReaderAt, size int64) string {
	head := make([]byte, min(size, jsonPrefix))
	if n, err := r.ReadAt(head, 0); n < len(head) && err != nil {
		return "pickle"
	}
	if len(head) >= 9 {
		// Whether or not the header fits the file: a safetensors file cut short is
		// reported as one.
		if n := binary.LittleEndian.Uint64(head[:8]); head[8] == '{' && n >= 2 && n < 1<<32 {
			return "safetensors"
		}
	}
	if isJSONObject(head) && !isTar(head) {
		return "json"
	}
	if !bytes.HasPrefix(head, []byte("PK")) {
		return "pickle"
	}
	zr, err := zip.NewReader(r, size)
	if err != nil || len(zr.File) == 0 {
		return "pickle"
	}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".npy") {
			return "pickle"
		}
	}
	return "npz"
}

// jsonPrefix bounds the JSON whitespace that sniff skips before a document's object
// and its first key (an indented document, as jq and json.dump(indent=...) write it,
// has a few bytes of it).
const jsonPrefix = 4096

// isJSONObject reports whether head, the start of a file, starts a JSON object: JSON
// whitespace, '{', whitespace, then '"' (a key) or '}'. No other format ptport reads
// starts so: a pickle starts with an opcode, and neither JSON whitespace nor '{' is one;
// a zip starts with "PK"; a tar starts with its first member's name, and sniff
// looks for its header.
func isJSONObject(head []byte) bool {
	rest := bytes.TrimLeft(head, jsonSpace)
	if len(rest) == 0 || rest[0] != '{' {
		return false
	}
	rest = bytes.TrimLeft(rest[1:], jsonSpace)
	return len(rest) > 0 && (rest[0] == '"' || rest[0] == '}')
}

// isTar reports whether head starts a tar archive (a ustar header).
func isTar(head []byte) bool {
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// jsonSpace is JSON's whitespace (RFC 8259, section 2).
const jsonSpace = " \t\n\r"

// Close releases the file.
func (c *Checkpoint) Close() error {
	if c.close == nil {
		return nil
	}
	return c.close()
}

// Tensor returns the tensor leaf named name (see the package documentation for how
// leaves are named); ok is false when the checkpoint has no such leaf or the leaf is not
// a tensor.
func (c *Checkpoint) Tensor(name string) (t *pickle.Tensor, ok bool) {
	for _, l := range c.Leaves {
		if l.Name == name {
			t, ok = l.Value.(*pickle.Tensor)
			return t, ok
		}
	}
	return nil, false
}
