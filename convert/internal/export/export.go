package export

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

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

// Write writes a checkpoint to w in format, as the output file at path: its leaves for
// safetensors, npz and JSON; its object tree root for .pt, under the archive folder
// named like the file, as torch.save names it. meta is recorded as each format keeps
// metadata; ReadMetadata gives it back.
func Write(w io.Writer, format, path string, root any, leaves []pickle.Leaf, meta map[string]string) error {
	switch format {
	case Safetensors:
		return safetensors.Write(w, leaves, meta)
	case NPZ:
		return npz.Write(w, leaves, meta)
	case JSON:
		return ptjson.Write(w, leaves, meta)
	case PT:
		archive := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		opts := &pickle.WriteOptions{Archive: archive}
		if len(meta) > 0 {
			opts.Records = map[string][]byte{}
			for k, v := range meta {
				opts.Records[ptRecordPrefix+k] = []byte(v)
			}
		}
		return pickle.Write(w, root, opts)
	}
	return fmt.Errorf("unknown output format %q", format)
}
