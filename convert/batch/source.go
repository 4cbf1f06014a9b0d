package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/export"
)

// sourceKey is the metadata key under which an output records its source: in
// safetensors' __metadata__ as "ptport.source", in an npz as the string array
// "__source__", in JSON as the document's first key "source", in a .pt file as the
// record ".ptport_source".
const sourceKey = "source"

// source identifies the input an output was made from; the outputs of Run record it, so
// that a rerun skips inputs whose output is up to date.
type source struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
}

func sourceOf(in batchInput) (*source, error) {
	f, err := os.Open(in.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return &source{Size: in.size, ModTime: in.mod.UnixNano(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
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
// what holds it.
func readSource(path string, f convert.Format) (*source, error) {
	meta, err := export.ReadMetadata(path, string(f))
	if err != nil {
		return nil, err
	}
	raw, ok := meta[sourceKey]
	if !ok || raw == "" {
		return nil, errNoSource
	}
	var s source
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// matches reports whether s describes in's current content: same size and modification
// time, or same size and, when the time differs (a copy, a touch), the same hash.
func (s *source) matches(in batchInput) bool {
	if s.Size != in.size {
		return false
	}
	if s.ModTime == in.mod.UnixNano() {
		return true
	}
	cur, err := sourceOf(in)
	return err == nil && cur.SHA256 == s.SHA256
}
