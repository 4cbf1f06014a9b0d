package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/export"
)

// sourceKey is the metadata key under which an output records its source: in
// safetensors' __metadata__ as "ptport.source", in an npz as the string array
// "__source__", in JSON as the document's first key "source", in a .pt file as the
// record ".ptport_source".
const sourceKey = "source"

// fileSource identifies a file an output was made from.
type fileSource struct {
	File    string `json:"file,omitempty"` // a shard's base name
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
}

// source identifies the input an output was made from, its file and, for a sharded
// checkpoint (whose file is the index), each of its shards; the outputs of Run record
// it, so that a rerun skips inputs whose output is up to date, and replaces an output
// only for the input it was made from.
type source struct {
	fileSource
	// Input is the input's path relative to its root (its path for a listed input),
	// slash-separated: the path that names the output below the output folder. Outputs
	// of older versions record none.
	Input  string       `json:"input,omitempty"`
	Shards []fileSource `json:"shards,omitempty"`
}

func sourceOf(in batchInput) (*source, error) {
	s := &source{Input: in.rel}
	var err error
	if s.fileSource, err = fileSourceOf(in.inputFile); err != nil {
		return nil, err
	}
	for _, f := range in.shards {
		fs, err := fileSourceOf(f)
		if err != nil {
			return nil, err
		}
		fs.File = filepath.Base(f.path)
		s.Shards = append(s.Shards, fs)
	}
	return s, nil
}

func fileSourceOf(in inputFile) (fileSource, error) {
	f, err := os.Open(in.path)
	if err != nil {
		return fileSource{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fileSource{}, err
	}
	return fileSource{Size: in.size, ModTime: in.mod.UnixNano(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// metadata is the output metadata that records s.
func (s *source) metadata() (map[string]string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return map[string]string{sourceKey: string(b)}, nil
}

// errNoSource is returned by readSource for an output that records no source.
var errNoSource = errors.New("no source recorded")

// readSource returns the source recorded in the output at path of format f, reading only
// what holds it, and the file it read: path, or, with sharded, when there is no file at
// path, the index of an output written in shards.
func readSource(path string, f convert.Format, sharded bool) (*source, string, error) {
	meta, err := export.ReadMetadata(path, string(f))
	if sharded && errors.Is(err, fs.ErrNotExist) {
		path += export.IndexSuffix
		meta, err = export.ReadIndexMetadata(path)
	}
	if err != nil {
		return nil, path, err
	}
	s, err := parseSource(meta)
	return s, path, err
}

// recordedSource returns the source that the file at path records, reading it in the
// format its name says (a sharded checkpoint's index; .safetensors, .npz, .json;
// anything else as a .pt file), or errNoSource.
func recordedSource(path string) (*source, error) {
	var meta map[string]string
	var err error
	if convert.IsIndex(path) {
		meta, err = export.ReadIndexMetadata(path)
	} else {
		f, ferr := convert.FormatOf(path)
		if ferr != nil {
			f = convert.PT
		}
		meta, err = export.ReadMetadata(path, string(f))
	}
	if err != nil {
		return nil, errNoSource
	}
	return parseSource(meta)
}

// parseSource returns the source that an output's metadata record, or errNoSource.
func parseSource(meta map[string]string) (*source, error) {
	raw, ok := meta[sourceKey]
	if !ok || raw == "" {
		return nil, errNoSource
	}
	var s source
	if err := json.Unmarshal([]byte(raw), &s); err != nil || !validHash(s.SHA256) {
		return nil, errNoSource // not ptport's record: a key of the same name
	}
	return &s, nil
}

// validHash reports whether h is a sha256 in hex, as a source records it.
func validHash(h string) bool {
	_, err := hex.DecodeString(h)
	return len(h) == 2*sha256.Size && err == nil
}

// isOf reports whether s, recorded by an output, is the source of in, so that in's
// conversion may replace that output: it names in (by the path relative to its root
// that names the output, or by one of which the other is the end, as a list's path
// zoo/m.pt and a walk's m.pt into zoo name zoo/m.pt), or describes in's current
// content (an output of an older version, which names no input, or of a tree that was
// moved, that is up to date).
func (s *source) isOf(in batchInput) bool {
	return sameInputName(s.Input, in.rel) || s.matches(in)
}

// sameInputName reports whether the input path a that an output records names the
// input whose path relative to its root is b: they are one, or one is the end of the
// other.
func sameInputName(a, b string) bool {
	return a != "" && (a == b || strings.HasSuffix(a, "/"+b) || strings.HasSuffix(b, "/"+a))
}

// matches reports whether s describes in's current content: each of its files the
// same, by size and modification time, or, when the time differs (a copy, a touch), by
// size and hash.
func (s *source) matches(in batchInput) bool {
	if !s.fileSource.matches(in.inputFile) || len(s.Shards) != len(in.shards) {
		return false
	}
	for i, f := range in.shards {
		if s.Shards[i].File != filepath.Base(f.path) || !s.Shards[i].matches(f) {
			return false
		}
	}
	return true
}

func (s *fileSource) matches(in inputFile) bool {
	if s.Size != in.size {
		return false
	}
	if s.ModTime == in.mod.UnixNano() {
		return true
	}
	cur, err := fileSourceOf(in)
	return err == nil && cur.SHA256 == s.SHA256
}
