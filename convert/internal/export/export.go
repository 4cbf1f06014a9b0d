package export

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/convert/npz"
	"github.com/ptport/ptport/convert/ptjson"
	"github.com/ptport/ptport/convert/safetensors"
	"github.com/ptport/ptport/pickle"
)

// The output formats, as convert.Format names them (convert.Formats lists the same).
const (
	Safetensors = "safetensors"
	NPZ         = "npz"
	JSON        = "json"
	PT          = "pt"
)

// ptRecordPrefix starts the name of a .pt file's record holding metadata: ".ptport_KEY",
// beside data.pkl; torch.load ignores it.
const ptRecordPrefix = ".ptport_"

// SharedKey is the metadata key of the groups of tensors that share a storage, in the
// formats that hold copies of them.
const SharedKey = "shared"

// Write writes a checkpoint to w in format, as the output file at path: its leaves for
// safetensors, npz and JSON; its object tree root for .pt, under the archive folder
// named like the file, as torch.save names it. meta is recorded as each format keeps
// metadata; ReadMetadata gives it back. In the formats that cannot alias one tensor's
// data to another's (all but .pt, which keeps storages shared), the groups of tensors
// that share a storage are recorded too, as the JSON list of lists of their names under
// SharedKey. Leaves that share a name (see leaf.Unique) are an error in every format,
// before anything is written: a file keeps one entry of each name, and a .pt file of
// flat leaves, a dict of them by name, would load with one.
func Write(w io.Writer, format, path string, root any, leaves []pickle.Leaf, meta map[string]string) error {
	if format != PT {
		if g := SharedGroups(leaves); len(g) > 0 {
			b, err := json.Marshal(g)
			if err != nil {
				return err
			}
			m := make(map[string]string, len(meta)+1)
			for k, v := range meta {
				m[k] = v
			}
			m[SharedKey] = string(b)
			meta = m
		}
	}
	switch format {
	case Safetensors:
		return safetensors.Write(w, leaves, meta)
	case NPZ:
		return npz.Write(w, leaves, meta)
	case JSON:
		return ptjson.Write(w, leaves, meta)
	case PT:
		if err := leaf.Unique(leaves); err != nil {
			return fmt.Errorf("pt: %w", err)
		}
		archive := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		opts := &pickle.WriteOptions{Archive: archive}
		if len(meta) > 0 {
			opts.Records = map[string][]byte{}
			for k, v := range meta {
				if len(v) > maxRecord {
					return &leaf.TooLargeError{Format: "pt", Size: int64(len(v)), Limit: maxRecord,
						What:    fmt.Sprintf("the metadata record %s%s", ptRecordPrefix, k),
						Instead: "the other formats keep metadata this large"}
				}
				opts.Records[ptRecordPrefix+k] = []byte(v)
			}
		}
		return pickle.Write(w, root, opts)
	}
	return fmt.Errorf("unknown output format %q", format)
}

// Check returns the error that Write would return for leaves in format before writing
// anything, as far as the sizes known up front show it (a JSON document sure to pass
// ptjson.MaxSize), so that a caller refuses such an output before the work that comes
// before writing it; nil for what only writing tells.
func Check(format string, leaves []pickle.Leaf) error {
	if format == JSON {
		return ptjson.Check(leaves, nil)
	}
	return nil
}

// SharedGroups returns the names of the tensors among leaves that share a storage, a
// group for each storage that several view, in the order of their first tensor.
func SharedGroups(leaves []pickle.Leaf) [][]string {
	index := map[*pickle.Storage]int{}
	var groups [][]string
	for _, l := range leaves {
		t, ok := l.Value.(*pickle.Tensor)
		if !ok || t.Storage == nil {
			continue
		}
		i, seen := index[t.Storage]
		if !seen {
			i = len(groups)
			index[t.Storage] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], l.Name)
	}
	shared := groups[:0]
	for _, g := range groups {
		if len(g) > 1 {
			shared = append(shared, g)
		}
	}
	return shared
}
