package convert

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// errNoSource is returned by readSource for an output that records no source.
var errNoSource = errors.New("no source recorded")

// readSource returns the Source recorded in an output of format f, reading only what
// holds it: the safetensors header, the npz member, the start of the JSON document.
func readSource(path string, f Format) (*Source, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, err
	}
	var raw string
	switch f {
	case Safetensors:
		leaves, err := readSafetensorsMeta(path, file, fi.Size())
		if err != nil {
			return nil, err
		}
		raw = leaves[sourceKey]
	case NPZ:
		zr, err := zip.NewReader(file, fi.Size())
		if err != nil {
			return nil, err
		}
		for _, m := range zr.File {
			if m.Name != npzSourceMember+".npy" || m.Method != zip.Store {
				continue
			}
			off, err := m.DataOffset()
			if err != nil {
				return nil, err
			}
			_, dataOff, descr, err := readNPY(io.NewSectionReader(file, off, int64(m.UncompressedSize64)), int64(m.UncompressedSize64))
			if err != nil || !strings.HasPrefix(descr, "<U") {
				return nil, errNoSource
			}
			raw, err = readUnicode(file, off+dataOff, int64(m.UncompressedSize64)-dataOff)
			if err != nil {
				return nil, err
			}
		}
	case JSON:
		dec := json.NewDecoder(file)
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return nil, errNoSource
		}
		if tok, err := dec.Token(); err != nil || tok != "source" {
			return nil, errNoSource
		}
		var s Source
		if err := dec.Decode(&s); err != nil {
			return nil, err
		}
		return &s, nil
	case PT:
		raw, err = readPTSource(file, fi.Size())
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown format %q", f)
	}
	if raw == "" {
		return nil, errNoSource
	}
	var s Source
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// readPTSource returns the Source a .pt output records, or "".
func readPTSource(r io.ReaderAt, size int64) (string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return "", err
	}
	for _, f := range zr.File {
		if path.Base(f.Name) != ptSourceRecord || f.UncompressedSize64 > 1<<16 {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, 1<<16))
		return string(b), err
	}
	return "", errNoSource
}
