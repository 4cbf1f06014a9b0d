package convert

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ptport/ptport/convert/internal/atomicfile"
	"github.com/ptport/ptport/convert/internal/export"
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

// Export writes the checkpoint to path in format f, atomically (see WriteFile). Tensors
// are written C-contiguous and little-endian under their names; non-tensor leaves are
// kept as typed JSON: in safetensors' __metadata__ under "ptport.values", in an npz as
// the 0-d string array "__metadata__", in JSON under "values" (see packages safetensors,
// npz and ptjson). NumPy has no bfloat16, so an npz holds BF16 tensors widened exactly
// to float32. A .pt output keeps cp's structure (nesting, dict kinds, key order, shared
// storages); a pickled module in it becomes its state_dict. When ctx is done, the
// export stops and no output is left.
func Export(ctx context.Context, path string, f Format, cp *Checkpoint) error {
	if !slices.Contains(Formats, f) {
		return fmt.Errorf("unknown output format %q", f)
	}
	return atomicfile.WriteFile(path, atomicfile.Options{Ctx: ctx}, func(w io.Writer) error {
		return export.Write(w, string(f), path, cp.Root, cp.Leaves, nil)
	})
}
