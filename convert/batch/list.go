package batch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// maxListPath bounds a path of Options.List, far above any file system's.
const maxListPath = 64 << 10

// ListError reports a malformed Options.List.
type ListError struct {
	Line int // from 1: the line, or with ListNUL the path
	Msg  string
}

func (e *ListError) Error() string { return fmt.Sprintf("input list, path %d: %s", e.Line, e.Msg) }

// readList calls fn with each path of the list r, read from its start: one a line
// (without the CR of a line ended by CR LF), or with nul each ended by a NUL byte; empty
// ones are skipped.
func readList(r io.ReadSeeker, nul bool, fn func(path string) error) error {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("input list: %w", err)
	}
	delim := byte('\n')
	if nul {
		delim = 0
	}
	br := bufio.NewReaderSize(r, maxListPath)
	for n := 1; ; n++ {
		line, err := br.ReadSlice(delim)
		if errors.Is(err, bufio.ErrBufferFull) {
			return &ListError{Line: n, Msg: fmt.Sprintf("longer than %d bytes", maxListPath)}
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("input list: %w", err)
		}
		line = bytes.TrimSuffix(line, []byte{delim})
		if !nul {
			line = bytes.TrimSuffix(line, []byte{'\r'}) // a CRLF list's
		}
		path := string(line)
		if !nul && strings.IndexByte(path, 0) >= 0 {
			return &ListError{Line: n, Msg: "a NUL byte in a line: are the paths NUL-ended?"}
		}
		if path != "" {
			if ferr := fn(path); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// listRel is where the output of a listed input goes below the output folder: its path,
// cleaned; an absolute path, and a relative one outside the working directory (made
// absolute), without the leading separator; "" for the working directory itself.
func listRel(path string) string {
	c := filepath.Clean(path)
	if !filepath.IsAbs(c) && (c == ".." || strings.HasPrefix(c, ".."+string(filepath.Separator))) {
		if abs, err := filepath.Abs(c); err == nil {
			c = abs
		}
	}
	if filepath.IsAbs(c) {
		c = strings.TrimLeft(c[len(filepath.VolumeName(c)):], `/\`)
	}
	if c == "." {
		c = ""
	}
	return filepath.ToSlash(c)
}
