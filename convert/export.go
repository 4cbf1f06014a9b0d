package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ptport/ptport/convert/internal/atomicfile"
	"github.com/ptport/ptport/convert/internal/export"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/convert/npz"
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

// TooLargeError reports an export refused, before its output was written, because
// ptport would not read that output back: a part of it passes a limit its reader
// enforces (a safetensors header over 100 MiB, an npz string member over 64 MiB, a JSON
// document over 1 GiB). Its message names the limit and the formats that hold the part.
type TooLargeError = leaf.TooLargeError

// ClashError reports an export refused, before any byte of its output was written,
// because two of its leaves share a name, which no output can keep apart: its Kind says
// how (SameName, DottedKey). Open refuses the files that would give such leaves (two npz
// members, two JSON entries or safetensors keys of one name; the keys of a .pt that print
// alike or name one path), so it comes from leaves made or renamed by the caller.
type ClashError = leaf.ClashError

// Clash says how two leaves came to share a name: see ClashError.
type Clash = leaf.Clash

// The kinds of Clash.
const (
	SameName  = leaf.SameName  // two leaves of one name
	DottedKey = leaf.DottedKey // a name holding a dot is also the path of a value nested in another leaf
)

// Export writes the checkpoint to path in format f, atomically (see WriteFile). Tensors
// are written C-contiguous and little-endian under their names; non-tensor leaves are
// kept as typed JSON: in safetensors' __metadata__ under "ptport.values", in an npz as
// the 0-d string array "__metadata__", in JSON under "values" (see packages safetensors,
// npz and ptjson). NumPy has no bfloat16, so an npz holds BF16 tensors widened exactly
// to float32 (see Widened), with their dtype recorded, so that Open reads them back as
// BF16. A .pt output keeps cp's structure (nesting, dict kinds, key order, shared
// storages); a pickled module in it becomes its state_dict. Tensors that share a
// storage, such as tied weights, are written once in a .pt output; the other formats
// cannot alias one tensor's data to another's, so there they are copies, and the groups
// of names that shared a storage are recorded as JSON lists in the metadata
// "ptport.shared" (see Inventory.Shared). When ctx is done, the export stops and no
// output is left. Stale temporaries of earlier exports into path's folder, whose
// process has ended, are removed.
func Export(ctx context.Context, path string, f Format, cp *Checkpoint) error {
	_, err := ExportFiles(ctx, path, f, cp, ExportOptions{})
	return err
}

// ExportOptions are the settings of ExportFiles.
type ExportOptions struct {
	// MaxShardSize, when positive, splits a safetensors output into shards of at most
	// this many bytes of tensor data, as Hugging Face lays them out: see ExportFiles.
	MaxShardSize int64
	// Progress, when not nil, is called as the export proceeds with the bytes written
	// so far, of about TotalBytes(cp) in all.
	Progress func(written int64)
}

// ExportFiles writes the checkpoint to path in format f as Export does, and returns the
// files it wrote.
//
// With o.MaxShardSize, a safetensors output whose tensors take more than that is split
// as Hugging Face's save_pretrained splits it: the tensors in order, a new shard when
// the next one would pass the limit (a tensor larger than the limit has a shard of its
// own; tensors that share a storage go in the shard of the first of them), in
// STEM-0000K-of-0000N.safetensors beside path, and the index PATH.index.json
// ({"metadata": {"total_size": bytes}, "weight_map": {name: shard}}), which Open reads
// back as one checkpoint. Non-tensor values go in the first shard. Each file is written
// atomically, the index last; shards and an index of an earlier export to path that
// the new one does not have are then removed, and so is the single file path (which
// readers would otherwise take before the index). When everything fits one shard, path
// alone is written, and an index of an earlier sharded export is removed.
func ExportFiles(ctx context.Context, path string, f Format, cp *Checkpoint, o ExportOptions) ([]string, error) {
	if cp == nil {
		return nil, errors.New("convert: Export of a nil Checkpoint")
	}
	if !slices.Contains(Formats, f) {
		return nil, fmt.Errorf("unknown output format %q", f)
	}
	if o.MaxShardSize > 0 && f != Safetensors {
		return nil, fmt.Errorf("%s: shards are written as safetensors only, not %s", path, f)
	}
	if o.MaxShardSize < 0 {
		return nil, fmt.Errorf("%s: negative shard size %d", path, o.MaxShardSize)
	}
	dir := filepath.Dir(path)
	if _, err := atomicfile.RemoveStale(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return export.WriteFiles(path, string(f), cp.Root, cp.Leaves, nil, o.MaxShardSize, atomicfile.Options{Ctx: ctx, Progress: o.Progress})
}

// Encode writes the checkpoint to w in format f, as Export writes a file, for outputs
// that are not files of their own (standard output, a pipe, a network stream): nothing
// makes it atomic, and when ctx is done or an error occurs, w holds part of it.
func Encode(ctx context.Context, w io.Writer, f Format, cp *Checkpoint) error {
	if cp == nil {
		return errors.New("convert: Encode of a nil Checkpoint")
	}
	if !slices.Contains(Formats, f) {
		return fmt.Errorf("unknown output format %q", f)
	}
	return export.Write(ctxWriter{ctx, w}, string(f), "archive.pt", cp.Root, cp.Leaves, nil)
}

// ctxWriter fails its writes once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Widened returns the names of the tensors of cp that an export in format f stores in a
// wider dtype than theirs, because the format lacks it: an npz's BF16 tensors, which it
// holds as float32 (NumPy has no bfloat16) and Open reads back as BF16, bit for bit.
func Widened(f Format, cp *Checkpoint) []string {
	if f != NPZ {
		return nil
	}
	var names []string
	for _, l := range cp.Leaves {
		if t, ok := l.Value.(*pickle.Tensor); ok {
			if _, wider := npz.Widened(t.DType); wider {
				names = append(names, l.Name)
			}
		}
	}
	return names
}

// DataBytes is the size of the tensor data that an export of cp in format f writes: each
// tensor's elements at the size of the dtype f stores them in (see Widened), and
// nothing for a tensor that has no data (a meta tensor).
func DataBytes(f Format, cp *Checkpoint) int64 {
	var n int64
	for _, l := range cp.Leaves {
		t, ok := l.Value.(*pickle.Tensor)
		if !ok {
			continue
		}
		if _, err := t.Storage.ReadAt(nil, 0); errors.Is(err, pickle.ErrNoData) {
			continue
		}
		size := t.NumBytes()
		if wide, wider := npz.Widened(t.DType); wider && f == NPZ {
			size = size / int64(t.DType.Size()) * int64(wide.Size())
		}
		n += size
	}
	return n
}

// TotalBytes is the size of cp's tensors' data: about what an export writes (see
// DataBytes).
func TotalBytes(cp *Checkpoint) int64 {
	var n int64
	for _, l := range cp.Leaves {
		if t, ok := l.Value.(*pickle.Tensor); ok {
			n += t.NumBytes()
		}
	}
	return n
}
