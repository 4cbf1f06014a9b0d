package convert

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
	"sort"
	"strconv"
	"strings"

	"github.com/ptport/ptport/convert/internal/atomicfile"
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

// index is the JSON of a sharded checkpoint's index.
type index struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// maxIndex bounds the size of an index file: the largest models' indexes are a few MB.
const maxIndex = 64 << 20

// IsIndex reports whether path names the index of a sharded checkpoint
// (NAME.index.json).
func IsIndex(path string) bool { return strings.HasSuffix(path, indexSuffix) }

// shardNameRE matches the name of a shard: STEM-0000K-of-0000N.EXT.
var shardNameRE = regexp.MustCompile(`^(.+)-(\d{5})-of-(\d{5})(\.[A-Za-z0-9]+)$`)

// ShardError reports a file that is one shard of a sharded checkpoint opened on its own:
// it holds part of the model, and must never pass for all of it.
type ShardError struct {
	File          string
	Shard, Shards int
	Index         string // the index's path, by Hugging Face's naming
	IndexFound    bool   // the index is beside the file
}

func (e *ShardError) Error() string {
	s := fmt.Sprintf("%s is shard %d of %d of a sharded checkpoint, not a whole one; ", e.File, e.Shard, e.Shards)
	if e.IndexFound {
		return s + "open its index " + e.Index + ", which names every shard"
	}
	return s + "its index " + e.Index + " is not beside it (a whole checkpoint named like a shard: rename it)"
}

// shardOf returns the ShardError of path if its name is a shard's of several.
func shardOf(path string) *ShardError {
	m := shardNameRE.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return nil
	}
	k, _ := strconv.Atoi(m[2])
	n, _ := strconv.Atoi(m[3])
	if n < 2 || k < 1 || k > n {
		return nil
	}
	idx := filepath.Join(filepath.Dir(path), m[1]+m[4]+indexSuffix)
	_, err := os.Stat(idx)
	return &ShardError{File: path, Shard: k, Shards: n, Index: idx, IndexFound: err == nil}
}

// openIndex opens the sharded checkpoint whose index is at path: every shard it names,
// as one checkpoint whose leaves are the shards', in the order of the shards' names
// and, within each, of the shard. Every tensor must be in the shard the index says, and
// every tensor the index names in a shard that holds it; a shard name must be a plain
// file name (the shards lie beside the index).
func openIndex(path string, opts *pickle.Options) (_ *Checkpoint, err error) {
	bad := func(format string, args ...any) error {
		return &pickle.FormatError{File: path, Where: "index", Msg: fmt.Sprintf(format, args...)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxIndex+1))
	f.Close()
	if err != nil {
		return nil, err
	}
	if len(raw) > maxIndex {
		return nil, bad("larger than %d bytes", maxIndex)
	}
	var idx index
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&idx); err != nil {
		return nil, bad("not a sharded checkpoint's index: %v", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, bad("no weight_map")
	}
	var names []string
	seen := map[string]bool{}
	for tensor, shard := range idx.WeightMap {
		if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`+"\x00") {
			return nil, bad("tensor %s: shard %s is not a file name beside the index", quote(tensor), quote(shard))
		}
		if !seen[shard] {
			seen[shard] = true
			names = append(names, shard)
		}
	}
	sort.Strings(names)
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
		s, err := openFile(filepath.Join(dir, name), opts)
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

// splitShards splits leaves as Hugging Face's split_state_dict_into_shards_factory does:
// tensors in order, a new shard when the next tensor would take the current one past
// limit bytes, a tensor larger than limit alone in a shard, and tensors sharing a
// storage in the shard of the first of them. Non-tensor leaves go in the first shard.
func splitShards(leaves []pickle.Leaf, limit int64) [][]pickle.Leaf {
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

// shardNames are the files of n shards of the output path, beside it.
func shardNames(path string, n int) []string {
	ext := filepath.Ext(path)
	stem := strings.TrimSuffix(path, ext)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf(shardPattern, stem, i+1, n, ext)
	}
	return names
}

// writeShards writes the shards and the index of a sharded output at path, as
// ExportFiles says.
func writeShards(ctx context.Context, path string, shards [][]pickle.Leaf, progress func(int64)) (files []string, err error) {
	names := shardNames(path, len(shards))
	idx := index{Metadata: map[string]any{}, WeightMap: map[string]string{}}
	var total, before int64
	var temps []*atomicfile.Temp
	defer func() {
		if err != nil {
			for _, t := range temps {
				t.Discard()
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
		opts := atomicfile.Options{Ctx: ctx}
		if progress != nil {
			offset := before
			opts.Progress = func(n int64) { progress(offset + n) }
		}
		t, err := atomicfile.Write(names[i], opts, func(w io.Writer) error {
			return export.Write(w, string(Safetensors), names[i], nil, shard, nil)
		})
		if err != nil {
			return nil, err
		}
		temps = append(temps, t)
		before = total
	}
	idx.Metadata["total_size"] = total
	body, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	for len(temps) > 0 {
		if err := temps[0].Commit(); err != nil {
			return nil, err
		}
		temps = temps[1:]
	}
	indexPath := path + indexSuffix
	if err := atomicfile.WriteFile(indexPath, atomicfile.Options{}, func(w io.Writer) error {
		_, err := w.Write(append(body, '\n'))
		return err
	}); err != nil {
		return nil, err
	}
	removeOldShards(path, names)
	os.Remove(path)
	return append(names, indexPath), nil
}

// removeOldShards removes the shards of an earlier sharded export to path that are not
// among keep, and, when keep is empty, that export's index.
func removeOldShards(path string, keep []string) {
	ext := filepath.Ext(path)
	stem := filepath.Base(strings.TrimSuffix(path, ext))
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		m := shardNameRE.FindStringSubmatch(e.Name())
		full := filepath.Join(dir, e.Name())
		if m == nil || m[1] != stem || m[4] != ext || !e.Type().IsRegular() || slices.ContainsFunc(keep, func(k string) bool { return filepath.Base(k) == e.Name() }) {
			continue
		}
		os.Remove(full)
	}
	if len(keep) == 0 {
		os.Remove(path + indexSuffix)
	}
}
