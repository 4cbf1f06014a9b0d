package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ptport/ptport/convert/internal/atomicfile"
	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/pickle"
)

// A sharded output is laid out as Hugging Face lays one out: shards
// STEM-0000K-of-0000N.EXT beside the output path STEM.EXT, and the index
// STEM.EXT.index.json: {"metadata": {"total_size": bytes, ...}, "weight_map": {name: shard}}.
// A sharded output that replaces one whose index names those shard names is written
// as STEM-0000K-of-0000N.G.EXT, G = 1, 2, ... the first generation whose names the
// current index does not name, so that the index is the one file whose rename commits
// the new output.
const (
	ShardPattern    = "%s-%05d-of-%05d%s"    // stem, shard (from 1), shards, extension
	GenShardPattern = "%s-%05d-of-%05d.%d%s" // stem, shard, shards, generation, extension
	IndexSuffix     = ".index.json"
)

// ShardName matches the base name of a shard: STEM-0000K-of-0000N.EXT or
// STEM-0000K-of-0000N.G.EXT. Its groups are the stem, K, N, G (or "") and .EXT.
var ShardName = regexp.MustCompile(`^(.+)-(\d{5})-of-(\d{5})(?:\.(\d{1,4}))?(\.[A-Za-z0-9]+)$`)

// commitHook, when set (by tests), is called after each step of a sharded write that
// changes a final name: a shard renamed into place, the index, a file removed. An
// error stops the write there, as a crash would.
var commitHook func(path string) error

func afterStep(path string) error {
	if commitHook != nil {
		return commitHook(path)
	}
	return nil
}

// Index is the JSON of a sharded checkpoint's index.
type Index struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// metaPrefix starts the keys of ptport's metadata in an index's "metadata".
const metaPrefix = "ptport."

// WriteFiles writes a checkpoint to path in format, each file atomically with the
// temporary options o, and returns the files written. meta is recorded as Write records
// it. With a positive maxShard, a safetensors output whose tensors take more is split
// (see SplitShards) into shards beside path and the index PATH.index.json, written
// last, whose metadata holds meta's entries as "ptport.KEY" (a JSON value as it is,
// other text as a string) beside total_size; shards and an index of an earlier export
// to path that the new one does not have are then removed, and so is the single file
// path. When everything fits one shard, path alone is written, and an earlier sharded
// export to path is removed. A sharded write that o.Ctx stops before its index is in
// place removes the shards it put in place, which no index names: the earlier export
// stays as it was, with no file of the stopped one beside it. Leaves that share a name
// are an error before any file is written, as they are for Write: the index maps each
// name to one shard.
func WriteFiles(path, format string, root any, leaves []pickle.Leaf, meta map[string]string, maxShard int64, o atomicfile.Options) ([]string, error) {
	var shards [][]pickle.Leaf
	if maxShard > 0 {
		shards = SplitShards(leaves, maxShard)
	}
	if len(shards) > 1 {
		// Each shard's writer sees its own leaves only.
		if err := leaf.Unique(leaves); err != nil {
			return nil, fmt.Errorf("safetensors: %w", err)
		}
	}
	if len(shards) <= 1 {
		err := atomicfile.WriteFile(path, o, func(w io.Writer) error {
			return Write(w, format, path, root, leaves, meta)
		})
		if err != nil {
			return nil, err
		}
		if maxShard > 0 {
			if _, err := os.Stat(path + IndexSuffix); err == nil {
				if err := RemoveShards(path, nil); err != nil {
					return nil, err
				}
			}
		}
		return []string{path}, nil
	}
	return writeShards(path, shards, meta, o)
}

// SplitShards splits leaves as Hugging Face's split_state_dict_into_shards_factory does:
// tensors in order, a new shard when the next tensor would take the current one past
// limit bytes, a tensor larger than limit alone in a shard, and tensors sharing a
// storage in the shard of the first of them. Non-tensor leaves go in the first shard.
func SplitShards(leaves []pickle.Leaf, limit int64) [][]pickle.Leaf {
	var shards [][]pickle.Leaf
	var cur []pickle.Leaf
	var size int64
	first := map[*pickle.Storage]int{} // storage -> shard of its first tensor, -1 while in cur
	var later []pickle.Leaf            // tensors of a storage seen before, placed last
	var values []pickle.Leaf
	for _, l := range leaves {
		t, ok := l.Value.(*pickle.Tensor)
		if !ok {
			values = append(values, l)
			continue
		}
		if t.Storage != nil {
			if _, seen := first[t.Storage]; seen {
				later = append(later, l)
				continue
			}
		}
		n := t.NumBytes()
		if n > limit {
			if t.Storage != nil {
				first[t.Storage] = len(shards)
			}
			shards = append(shards, []pickle.Leaf{l})
			continue
		}
		if size+n > limit && len(cur) > 0 {
			shards = append(shards, cur)
			cur, size = nil, 0
			for s, i := range first {
				if i == -1 {
					first[s] = len(shards) - 1
				}
			}
		}
		if t.Storage != nil {
			first[t.Storage] = -1
		}
		cur = append(cur, l)
		size += n
	}
	if len(cur) > 0 {
		shards = append(shards, cur)
		for s, i := range first {
			if i == -1 {
				first[s] = len(shards) - 1
			}
		}
	}
	for _, l := range later {
		i := first[l.Value.(*pickle.Tensor).Storage]
		shards[i] = append(shards[i], l)
	}
	if len(values) > 0 {
		if len(shards) == 0 {
			shards = append(shards, nil)
		}
		shards[0] = append(shards[0], values...)
	}
	return shards
}

// shardNames are the files of n shards of the output path, beside it: named as
// Hugging Face names them, or, when the index of the output now at path names any of
// those, by the first generation whose names it does not.
func shardNames(ctx context.Context, path string, n int) []string {
	ext := filepath.Ext(path)
	stem := strings.TrimSuffix(path, ext)
	current := map[string]bool{}
	if idx, err := readIndexNames(ctx, path+IndexSuffix); err == nil {
		for _, name := range idx {
			current[name] = true
		}
	}
	names := make([]string, n)
	for gen := 0; ; gen++ {
		taken := false
		for i := range names {
			if gen == 0 {
				names[i] = fmt.Sprintf(ShardPattern, stem, i+1, n, ext)
			} else {
				names[i] = fmt.Sprintf(GenShardPattern, stem, i+1, n, gen, ext)
			}
			taken = taken || current[filepath.Base(names[i])]
		}
		if !taken {
			return names
		}
	}
}

// readIndexFile returns the bytes of the index at path, refusing one larger than
// MaxIndex bytes without reading past that, and stopping once ctx is done.
func readIndexFile(ctx context.Context, path string) ([]byte, error) {
	f, _, err := ctxio.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := ctxio.Read(ctx, path, func() ([]byte, error) { return io.ReadAll(io.LimitReader(ctxio.Reader(ctx, f), maxIndex+1)) })
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > maxIndex {
		return nil, fmt.Errorf("%s: an index larger than %d bytes", path, maxIndex)
	}
	return raw, nil
}

// readIndexNames returns the shard names that the index at path names, reading at
// most MaxIndex bytes of it.
func readIndexNames(ctx context.Context, path string) ([]string, error) {
	raw, err := readIndexFile(ctx, path)
	if err != nil {
		return nil, err
	}
	var idx Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var names []string
	for _, n := range idx.WeightMap {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// writeShards writes the shards and the index of a sharded output at path, as
// WriteFiles says: every shard, under a name that the index of the output it replaces
// does not name, then the index, whose rename commits the new output; then the files
// of the old output. A crash at any point leaves the old output or the new one whole,
// and at most files that no index names. Each shard records meta too.
func writeShards(path string, shards [][]pickle.Leaf, meta map[string]string, o atomicfile.Options) (files []string, err error) {
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	names := shardNames(ctx, path, len(shards))
	idx := Index{Metadata: map[string]any{}, WeightMap: map[string]string{}}
	for k, v := range meta {
		if (strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[")) && json.Valid([]byte(v)) {
			idx.Metadata[metaPrefix+k] = json.RawMessage(v)
		} else {
			idx.Metadata[metaPrefix+k] = v
		}
	}
	progress := o.Progress
	var total, before int64
	var temps []*atomicfile.Temp
	// placed are the shards renamed into place that no index names yet: a write that
	// its context stops before its index removes them, so that the output it was to
	// replace, which does not name them, is left alone (a crash leaves them, for the
	// next write to replace or remove).
	var placed []string
	defer func() {
		if err != nil {
			for _, t := range temps {
				t.Discard()
			}
			if o.Ctx != nil && o.Ctx.Err() != nil {
				for _, p := range placed {
					os.Remove(p)
				}
			}
		}
	}()
	for i, shard := range shards {
		base := filepath.Base(names[i])
		for _, l := range shard {
			if t, ok := l.Value.(*pickle.Tensor); ok {
				idx.WeightMap[l.Name] = base
				total += t.NumBytes()
			}
		}
	}
	idx.Metadata["total_size"] = total
	body, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	body = append(body, '\n')
	if int64(len(body)) > maxIndex {
		return nil, &leaf.TooLargeError{Format: "safetensors", Size: int64(len(body)), Limit: maxIndex,
			What:    fmt.Sprintf("the index %s (the names of the tensors, %d in all, and of their %d shards)", filepath.Base(path)+IndexSuffix, len(idx.WeightMap), len(shards)),
			Instead: "npz and .pt have no index, and keep this many tensors"}
	}
	total = 0
	for i, shard := range shards {
		for _, l := range shard {
			if t, ok := l.Value.(*pickle.Tensor); ok {
				total += t.NumBytes()
			}
		}
		opts := o
		if progress != nil {
			offset := before
			opts.Progress = func(n int64) { progress(offset + n) }
		}
		t, err := atomicfile.Write(names[i], opts, func(w io.Writer) error {
			return Write(w, Safetensors, names[i], nil, shard, meta)
		})
		if err != nil {
			return nil, err
		}
		temps = append(temps, t)
		before = total
	}
	for i := 0; len(temps) > 0; i++ {
		if o.Ctx != nil && o.Ctx.Err() != nil {
			return nil, o.Ctx.Err()
		}
		if err := temps[0].Commit(); err != nil {
			return nil, err
		}
		temps = temps[1:]
		placed = append(placed, names[i])
		if err := afterStep(names[i]); err != nil {
			return nil, err
		}
	}
	indexPath := path + IndexSuffix
	o.Progress = nil
	if err := atomicfile.WriteFile(indexPath, o, func(w io.Writer) error {
		_, err := w.Write(body)
		return err
	}); err != nil {
		return nil, err
	}
	placed = nil // the index names them
	if err := afterStep(indexPath); err != nil {
		return nil, err
	}
	if err := RemoveShards(path, names); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err == nil {
		if err := afterStep(path); err != nil {
			return nil, err
		}
	}
	return append(names, indexPath), nil
}

// RemoveShards removes the shards of an earlier sharded export to path (files beside
// it named as its shards) that are not among keep, and, when keep is empty, first that
// export's index, so that no index is left naming a shard that is gone.
func RemoveShards(path string, keep []string) error {
	if len(keep) == 0 {
		if err := os.Remove(path + IndexSuffix); err == nil {
			if err := afterStep(path + IndexSuffix); err != nil {
				return err
			}
		}
	}
	ext := filepath.Ext(path)
	stem := filepath.Base(strings.TrimSuffix(path, ext))
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		m := ShardName.FindStringSubmatch(e.Name())
		full := filepath.Join(dir, e.Name())
		if m == nil || m[1] != stem || m[5] != ext || !e.Type().IsRegular() || slices.ContainsFunc(keep, func(k string) bool { return filepath.Base(k) == e.Name() }) {
			continue
		}
		if err := os.Remove(full); err == nil {
			if err := afterStep(full); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadIndexMetadata returns ptport's metadata recorded in the index at path (see
// WriteFiles), reading at most MaxIndex bytes of it, and stopping once ctx is done.
func ReadIndexMetadata(ctx context.Context, path string) (map[string]string, error) {
	raw, err := readIndexFile(ctx, path)
	if err != nil {
		return nil, err
	}
	var idx struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
	}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&idx); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	meta := map[string]string{}
	for k, v := range idx.Metadata {
		key, ok := strings.CutPrefix(k, metaPrefix)
		if !ok {
			continue
		}
		var s string
		if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
			meta[key] = s
		} else {
			meta[key] = string(v)
		}
	}
	return meta, nil
}

// MaxIndex bounds the size of an index file that is read, and of one that is written:
// the largest models' indexes are a few MB.
const MaxIndex = 64 << 20

// maxIndex is the bound in force, MaxIndex; tests lower it.
var maxIndex int64 = MaxIndex
