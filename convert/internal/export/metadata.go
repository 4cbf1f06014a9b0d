package export

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/npz"
	"github.com/ptport/ptport/convert/ptjson"
	"github.com/ptport/ptport/convert/safetensors"
)

// ReadMetadata returns the metadata recorded in the output at path of the given format,
// reading only what holds it: the safetensors header, the npz members, the start of the
// JSON document, the .pt file's extra records. It stops once ctx is done, with an error
// that wraps ctx's (see ctxio.Stopped), and reads a regular file only (ctxio.Open).
func ReadMetadata(ctx context.Context, path, format string) (map[string]string, error) {
	f, size, err := ctxio.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ctxio.Read(ctx, path, func() (map[string]string, error) {
		return ReadMetadataFrom(ctx, path, format, ctxio.ReaderAt(ctx, f), size)
	})
}

// ReadMetadataFrom returns the metadata recorded in an output of size bytes in r, of the
// given format, as ReadMetadata does; name is how errors call it. ctx stops the reading
// of a safetensors header, which may hold a million tensors.
func ReadMetadataFrom(ctx context.Context, name, format string, r io.ReaderAt, size int64) (map[string]string, error) {
	switch format {
	case Safetensors:
		return safetensors.ReadMetadataContext(ctx, name, r, size)
	case NPZ:
		return npz.ReadMetadata(name, r, size)
	case JSON:
		return ptjson.ReadMetadata(name, r, size)
	case PT:
		return readPTMetadata(r, size)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// maxRecord bounds a metadata record of a .pt file.
const maxRecord = 1 << 16

// readPTMetadata returns the metadata records of a .pt file, each at most maxRecord
// bytes (larger ones are not ptport's and are left out).
func readPTMetadata(r io.ReaderAt, size int64) (map[string]string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{}
	for _, f := range zr.File {
		key, ok := strings.CutPrefix(path.Base(f.Name), ptRecordPrefix)
		if !ok || key == "" || f.UncompressedSize64 > maxRecord {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxRecord))
		rc.Close()
		if err != nil {
			return nil, err
		}
		meta[key] = string(b)
	}
	return meta, nil
}
