package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/internal/export"
	"github.com/ptport/ptport/pickle"
)

// A sharded checkpoint, as Hugging Face writes one (save_pretrained, or
// huggingface_hub's save_torch_state_dict), is a set of shard files, each a checkpoint
// of its own (safetensors, or torch.save's zip), and an index,
// model.safetensors.index.json or pytorch_model.bin.index.json:
//
//	{"metadata": {"total_size": 93844}, "weight_map": {"lstm.weight_ih_l0": "model-00002-of-00003.safetensors", ...}}
//
// weight_map says which shard holds each tensor; shards lie beside the index.

// IsIndex reports whether path names the index of a sharded checkpoint
// (NAME.index.json).
func IsIndex(path string) bool { return strings.HasSuffix(path, export.IndexSuffix) }

// ShardError reports a file that is one shard of a sharded checkpoint opened on its own:
// it holds part of the model, and must never pass for all of it.
type ShardError struct {
	File string
	// Shard and Shards place the file among the shards: K and N of its name
	// STEM-0000K-of-0000N.EXT, or, for a file that an index names, its place among the
	// shards the index names, by name, and their count.
	Shard, Shards int
	// Index is the index's path: the index beside the file that names it, or, for a
	// file named like a shard that no index beside it names, the one Hugging Face
	// names for it (STEM.EXT.index.json).
	Index      string
	IndexFound bool // the index is beside the file
	// Stray reports that the index beside a file named like a shard, read, does not
	// name it: a shard of another save left in its folder, or a whole checkpoint named
	// like a shard. Open reads the index to tell; ShardOf reads none and leaves it
	// false.
	Stray bool
}

func (e *ShardError) Error() string {
	if e.Stray {
		return fmt.Sprintf("%s is named like shard %d of %d of a sharded checkpoint, but its index beside it, %s, does not name it: a shard of another save left in this folder (move it out), or a whole checkpoint named like a shard (rename it)", e.File, e.Shard, e.Shards, e.Index)
	}
	s := fmt.Sprintf("%s is shard %d of %d of a sharded checkpoint, not a whole one; ", e.File, e.Shard, e.Shards)
	if e.IndexFound {
		return s + "open its index " + e.Index + ", which names every shard"
	}
	return s + "its index " + e.Index + " is not beside it (a whole checkpoint named like a shard: rename it)"
}

// ShardOf returns the *ShardError that Open gives for path, when no index beside it
// names it, if its base name is a shard's, STEM-0000K-of-0000N.EXT (or ptport's
// STEM-0000K-of-0000N.G.EXT) with 1 <= K <= N and N >= 2, and nil for any other name.
// It reads no file: it looks for the index Hugging Face names for the shard,
// STEM.EXT.index.json, beside it (IndexFound), without reading the index, and so
// cannot tell whether the index names the file (Stray).
func ShardOf(path string) *ShardError {
	m := export.ShardName.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return nil
	}
	k, _ := strconv.Atoi(m[2])
	n, _ := strconv.Atoi(m[3])
	if n < 2 || k < 1 || k > n {
		return nil
	}
	idx := filepath.Join(filepath.Dir(path), m[1]+m[5]+export.IndexSuffix)
	_, err := os.Stat(idx)
	return &ShardError{File: path, Shard: k, Shards: n, Index: idx, IndexFound: err == nil}
}

// indexNaming returns the *ShardError that Open gives for the file at path when an
// index beside it (NAME.index.json in its folder) names it as one of its shards,
// whatever its name, and nil when none does, with the paths of the indexes it read
// that do not name it. Of several, it is the first by name. It reads the folder's names
// a chunk at a time, keeping those of indexes only, then the indexes, one at a time and
// each as Open reads one (a regular file, at most export.MaxIndex bytes), up to the
// first that names the file; it opens no shard. An index that cannot be read names no
// shard here (opened, it fails). Once ctx is done it returns an error that wraps
// ctx.Err(). A path that is no file, or a folder, is no shard.
func indexNaming(ctx context.Context, path string) (e *ShardError, others []string, err error) {
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		return nil, nil, nil
	}
	dir, base := filepath.Dir(path), filepath.Base(path)
	f, err := os.Open(dir)
	if err != nil {
		return nil, nil, nil
	}
	var indexes []string
	for {
		if err := ctxio.Stopped(ctx, path); err != nil {
			f.Close()
			return nil, nil, err
		}
		names, err := f.Readdirnames(256)
		for _, n := range names {
			if IsIndex(n) && n != base {
				indexes = append(indexes, n)
			}
		}
		if err != nil || len(names) == 0 {
			break
		}
	}
	f.Close()
	slices.Sort(indexes)
	for _, n := range indexes {
		index := filepath.Join(dir, n)
		_, shards, err := readIndex(ctx, index)
		if stop := ctxio.Stopped(ctx, path); stop != nil {
			return nil, nil, stop
		}
		if err != nil {
			continue
		}
		if k, ok := slices.BinarySearch(shards, base); ok {
			return &ShardError{File: path, Shard: k + 1, Shards: len(shards), Index: index, IndexFound: true}, nil, nil
		}
		others = append(others, index)
	}
	return nil, others, nil
}

// readIndex reads the index at path and returns it with the names of the shards it
// names, sorted, each once; a shard name must be a plain file name (the shards lie
// beside the index). It stops once ctx is done.
func readIndex(ctx context.Context, path string) (*export.Index, []string, error) {
	bad := func(format string, args ...any) error {
		return &pickle.FormatError{File: path, Where: "index", Msg: fmt.Sprintf(format, args...)}
	}
	f, _, err := ctxio.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	raw, err := ctxio.Read(ctx, path, func() ([]byte, error) { return io.ReadAll(io.LimitReader(ctxio.Reader(ctx, f), export.MaxIndex+1)) })
	f.Close()
	if err != nil {
		return nil, nil, err
	}
	if len(raw) > export.MaxIndex {
		return nil, nil, bad("larger than %d bytes", export.MaxIndex)
	}
	var idx export.Index
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&idx); err != nil {
		return nil, nil, bad("not a sharded checkpoint's index: %v", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, nil, bad("no weight_map")
	}
	var names []string
	seen := map[string]bool{}
	for tensor, shard := range idx.WeightMap {
		if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`+"\x00") {
			return nil, nil, bad("tensor %s: shard %s is not a file name beside the index", quote(tensor), quote(shard))
		}
		if !seen[shard] {
			seen[shard] = true
			names = append(names, shard)
		}
	}
	sort.Strings(names)
	return &idx, names, nil
}

// ShardFiles returns the paths of the shard files that the index at path names, beside
// it, sorted, each once: with the index, the files that make the checkpoint. It reads
// the index only (at most 64 MiB of it), not the shards, which need not exist.
func ShardFiles(path string) ([]string, error) {
	return ShardFilesContext(context.Background(), path)
}

// ShardFilesContext is ShardFiles, stopping once ctx is done, with an error that wraps
// ctx.Err().
func ShardFilesContext(ctx context.Context, path string) ([]string, error) {
	_, names, err := readIndex(ctx, path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	for i, n := range names {
		names[i] = filepath.Join(dir, n)
	}
	return names, nil
}

// openIndex opens the sharded checkpoint whose index is at path: every shard it names,
// as one checkpoint whose leaves are the shards', in the order of the shards' names
// and, within each, of the shard. Every tensor must be in the shard the index says, and
// every tensor the index names in a shard that holds it; a shard name must be a plain
// file name (the shards lie beside the index).
func openIndex(ctx context.Context, path string, opts *pickle.Options) (_ *Checkpoint, err error) {
	bad := func(format string, args ...any) error {
		return &pickle.FormatError{File: path, Where: "index", Msg: fmt.Sprintf(format, args...)}
	}
	idx, names, err := readIndex(ctx, path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	var shards []*Checkpoint
	defer func() {
		if err != nil {
			for _, s := range shards {
				s.Close()
			}
		}
	}()
	cp := &Checkpoint{Path: path, Globals: []string{}}
	found := map[string]bool{}
	var formats []string
	for _, name := range names {
		s, err := openFile(ctx, filepath.Join(dir, name), opts)
		if err != nil {
			return nil, err
		}
		shards = append(shards, s)
		if !slices.Contains(formats, s.Format) {
			formats = append(formats, s.Format)
		}
		for _, g := range s.Globals {
			if !slices.Contains(cp.Globals, g) {
				cp.Globals = append(cp.Globals, g)
			}
		}
		for _, l := range s.Leaves {
			if found[l.Name] {
				return nil, bad("%s is in two shards", quote(l.Name))
			}
			found[l.Name] = true
			if _, isTensor := l.Value.(*pickle.Tensor); isTensor {
				if want, ok := idx.WeightMap[l.Name]; !ok {
					return nil, bad("shard %s holds %s, which the index does not list", name, quote(l.Name))
				} else if want != name {
					return nil, bad("shard %s holds %s, which the index puts in %s", name, quote(l.Name), want)
				}
			}
			cp.Leaves = append(cp.Leaves, l)
		}
	}
	var missing []string
	for tensor, shard := range idx.WeightMap {
		if !found[tensor] {
			missing = append(missing, quote(tensor)+" (in "+shard+")")
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		if len(missing) > 5 {
			missing = append(missing[:5], fmt.Sprintf("and %d more", len(missing)-5))
		}
		return nil, bad("the index lists tensors no shard holds: %s", strings.Join(missing, ", "))
	}
	root := FromLeaves(path, cp.Leaves)
	cp.Root = root.Root
	cp.Format = "sharded " + strings.Join(formats, "+")
	cp.Shards = len(shards)
	cp.close = func() error {
		var first error
		for _, s := range shards {
			if err := s.Close(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	return cp, nil
}
