package batch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"strings"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/ctxio"
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
	Input string `json:"input,omitempty"`
	// Place identifies where the input lies from the output (see placeOf), which Input
	// alone does not: the inputs m.pt of two trees converted into one folder have one
	// Input. Outputs of older versions record none.
	Place  string       `json:"input_place,omitempty"`
	Shards []fileSource `json:"shards,omitempty"`
}

// placeOf is the Place of the input at path in the record of the output at out: the
// first 16 hex digits of the sha256 of the input's path relative to the output's
// folder (slash-separated, from their folders with symbolic links resolved), so that
// an output's record tells the input it was made from among those of one name in
// other folders, without recording a path of the machine; it stays the same when the
// input and its output move together (a tree converted in place, copied to another
// mount point). It is "" when no relative path joins them (another volume).
func placeOf(path, out string) string {
	rel, err := filepath.Rel(realDir(filepath.Dir(out)), filepath.Join(realDir(filepath.Dir(path)), filepath.Base(path)))
	if err != nil {
		return ""
	}
	h := sha256.Sum256([]byte(filepath.ToSlash(rel)))
	return hex.EncodeToString(h[:8])
}

// realDir is the folder dir made absolute, with its symbolic links resolved when it
// exists.
func realDir(dir string) string {
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return filepath.Clean(dir)
	}
	return abs
}

func sourceOf(ctx context.Context, in batchInput) (*source, error) {
	s := &source{Input: in.rel}
	var err error
	if s.fileSource, err = fileSourceOf(ctx, in.inputFile); err != nil {
		return nil, err
	}
	for _, f := range in.shards {
		fs, err := fileSourceOf(ctx, f)
		if err != nil {
			return nil, err
		}
		fs.File = filepath.Base(f.path)
		s.Shards = append(s.Shards, fs)
	}
	return s, nil
}

// fileSourceOf hashes the file in, stopping with ctx's error once ctx is done.
func fileSourceOf(ctx context.Context, in inputFile) (fileSource, error) {
	f, _, err := ctxio.Open(ctx, in.path)
	if err != nil {
		return fileSource{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxio.Reader(ctx, f)); err != nil {
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
// path, the index of an output written in shards. It stops once ctx is done, with an
// error that wraps ctx's.
func readSource(ctx context.Context, path string, f convert.Format, sharded bool) (*source, string, error) {
	meta, err := export.ReadMetadata(ctx, path, string(f))
	if sharded && errors.Is(err, fs.ErrNotExist) {
		path += export.IndexSuffix
		meta, err = export.ReadIndexMetadata(ctx, path)
	}
	if err != nil {
		return nil, path, err
	}
	s, err := parseSource(meta)
	return s, path, err
}

// recordedSource returns the source that the file at path records, reading it in the
// format its name says (a sharded checkpoint's index; .safetensors, .npz, .json;
// anything else as a .pt file), or errNoSource; once ctx is done, an error that wraps
// ctx's.
func recordedSource(ctx context.Context, path string) (*source, error) {
	var meta map[string]string
	var err error
	if convert.IsIndex(path) {
		meta, err = export.ReadIndexMetadata(ctx, path)
	} else {
		f, ferr := convert.FormatOf(path)
		if ferr != nil {
			f = convert.PT
		}
		meta, err = export.ReadMetadata(ctx, path, string(f))
	}
	if err != nil {
		if stop := ctxio.Stopped(ctx, path); stop != nil {
			return nil, stop
		}
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

// isOf reports whether s, recorded by the output file, is the source of in, so that
// in's conversion may replace that output: it names in (names), or describes in's
// current content (an output of an older version, which names no input, or of a tree
// moved away from its outputs, that is up to date; or of a copy of in elsewhere). It
// returns ctx's error when ctx stops the hashing of in.
func (s *source) isOf(ctx context.Context, in batchInput, file string) (bool, error) {
	if s.names(in.path, in.rel, file) {
		return true, nil
	}
	return s.matches(ctx, in)
}

// replaceable reports whether in's conversion may replace the output file, ptport's,
// recording s: s is of in (isOf), or, with force, s names in's path relative to its
// root at another place (sameName): the same tree seen from another mount point (a
// cluster's node, a container), whose paths from the output differ, which a caller
// forcing the conversion asserts. An output of an input of another name is never
// replaceable by force.
func (s *source) replaceable(ctx context.Context, in batchInput, file string, force bool) (bool, error) {
	if force && s.sameName(in) {
		return true, nil
	}
	return s.isOf(ctx, in, file)
}

// sameName reports whether s names in's path relative to its root, at a place of its
// own (an output of an older version, which records none, is named by name alone).
func (s *source) sameName(in batchInput) bool {
	return s.Place != "" && s.Input != "" && s.Input == in.rel
}

// names reports whether s, recorded by the output file, names the input at path whose
// path relative to its root is rel: by its place from file when s records one (an
// input of that name in another folder is another input), and otherwise, as older
// versions recorded it, by the name alone: one with rel, or one of which the other is
// the end, as a list's path zoo/m.pt and a walk's m.pt into zoo name zoo/m.pt.
func (s *source) names(path, rel, file string) bool {
	if s.Place != "" {
		return s.Place == placeOf(path, file)
	}
	a, b := s.Input, rel
	return a != "" && (a == b || strings.HasSuffix(a, "/"+b) || strings.HasSuffix(b, "/"+a))
}

// inputBeside reports whether the input that s, recorded by the output file, names is
// a file beside it, where an in-place conversion found it; true when s names none.
func (s *source) inputBeside(file string) bool {
	if s.Input == "" {
		return true
	}
	in := filepath.Join(filepath.Dir(file), pathpkg.Base(s.Input))
	if s.Place != "" && s.Place != placeOf(in, file) {
		return false
	}
	_, err := os.Stat(in)
	return err == nil
}

// matches reports whether s describes in's current content: each of its files the
// same, by size and modification time, or, when the time differs (a copy, a touch), by
// size and hash. It returns ctx's error when ctx stops a hashing.
func (s *source) matches(ctx context.Context, in batchInput) (bool, error) {
	if len(s.Shards) != len(in.shards) {
		return false, nil
	}
	if ok, err := s.fileSource.matches(ctx, in.inputFile); !ok || err != nil {
		return false, err
	}
	for i, f := range in.shards {
		if s.Shards[i].File != filepath.Base(f.path) {
			return false, nil
		}
		if ok, err := s.Shards[i].matches(ctx, f); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// matches reports whether s describes the file in, hashing it when its time differs;
// a file that cannot be read is not the one s describes.
func (s *fileSource) matches(ctx context.Context, in inputFile) (bool, error) {
	if s.Size != in.size {
		return false, nil
	}
	if s.ModTime == in.mod.UnixNano() {
		return true, nil
	}
	cur, err := fileSourceOf(ctx, in)
	if err != nil {
		return false, ctx.Err()
	}
	return cur.SHA256 == s.SHA256, nil
}
