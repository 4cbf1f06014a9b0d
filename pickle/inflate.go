package pickle

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Bytes inflated to read a deflated record's tensors are bounded by
// inflateWorkFactor × the record's size + inflateWorkFloor: reads in
// increasing order inflate it once, and each read before the place reached
// starts again from the record's beginning.
const (
	inflateWorkFactor = 4
	inflateWorkFloor  = 64 << 20
)

// ZipRecord returns the bytes of the record f of a zip archive of size
// bytes in ra, read in place, and their number: a stored record is read from
// ra; a deflated record is inflated from its start as far as each read asks,
// never further, keeping its place for the next read. Reads in increasing
// order inflate the record once; a read before the place reached starts
// again from the record's start, and inflating more than 4 × the record's
// size + 64 MiB in all is an error. A deflated record's CRC-32 is checked when
// its last byte is read; a stored record's when reads in order from its start (each
// beginning at or before where the last ended) reach its end, and by Storage.Verify
// of a storage over it (NewStorageAt), which Tensor.Span calls. Once a record is
// found corrupt, every read of it fails. Errors are *FormatError naming the record.
func ZipRecord(f *zip.File, ra io.ReaderAt, size int64) (io.ReaderAt, int64, error) {
	src, off, n, err := zipSource("", f, ra, size)
	if err != nil {
		return nil, 0, err
	}
	if f.Method == zip.Store && f.CRC32 != 0 {
		return &recordReader{sum: &recordSum{record: f.Name, want: f.CRC32, src: src, base: off, size: n}}, n, nil
	}
	if off != 0 {
		src = io.NewSectionReader(src, off, n)
	}
	return src, n, nil
}

// CheckZipRecords returns a *FormatError when one of the records of a zip
// archive of size bytes lies outside it or shares bytes of it with another
// (each byte of a file belongs to one record at most, so that a file cannot
// describe more data than it holds, as the safetensors format requires of
// its tensors). Empty records are not checked.
func CheckZipRecords(records []*zip.File, size int64) error {
	return checkZipRecords("", records, size)
}

// zipSource returns where the bytes of record f of an archive of size bytes
// in ra can be read in place: a source, the offset of the record's first
// byte in it, and the record's size. file names the archive in errors.
func zipSource(file string, f *zip.File, ra io.ReaderAt, size int64) (io.ReaderAt, int64, int64, error) {
	errf := func(format string, args ...any) error {
		return &FormatError{File: file, Where: f.Name, Msg: fmt.Sprintf(format, args...)}
	}
	if f.Flags&1 != 0 {
		return nil, 0, 0, errf("encrypted zip records are not supported")
	}
	n := f.UncompressedSize64
	switch f.Method {
	case zip.Store:
		if f.CompressedSize64 != n {
			return nil, 0, 0, errf("stored record has compressed size %d but size %d", f.CompressedSize64, n)
		}
		off, err := f.DataOffset()
		if err != nil {
			return nil, 0, 0, errf("%v", err)
		}
		if off < 0 || n > uint64(size) || off > size-int64(n) {
			return nil, 0, 0, errf("record of %d bytes at offset %d lies outside the file of %d bytes (truncated?)", n, off, size)
		}
		return ra, off, int64(n), nil
	case zip.Deflate:
		// Deflate expands at most 1032:1.
		if f.CompressedSize64 > uint64(size) || n > 1032*f.CompressedSize64+1024 {
			return nil, 0, 0, errf("deflated record claims %d bytes from %d compressed bytes", n, f.CompressedSize64)
		}
		return &inflateSource{f: f, size: int64(n), file: file}, 0, int64(n), nil
	}
	return nil, 0, 0, errf("unsupported zip compression method %d", f.Method)
}

// inflateSource is a deflated record read in place: it inflates the record
// from its beginning up to the bytes asked for, never more, and keeps its
// place for the next read.
type inflateSource struct {
	f    *zip.File
	size int64  // inflated bytes
	file string // the archive, for errors

	mu   sync.Mutex
	rc   io.ReadCloser // nil before the first read and after the last byte
	pos  int64         // bytes rc has delivered
	work int64         // bytes inflated so far, restarts included
}

func (s *inflateSource) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("pickle: negative offset")
	}
	if off >= s.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.size-off))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.read(p[:n], off); err != nil {
		if s.rc != nil {
			s.rc.Close()
			s.rc = nil
		}
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (s *inflateSource) errf(format string, args ...any) error {
	return &FormatError{File: s.file, Where: s.f.Name, Msg: fmt.Sprintf(format, args...)}
}

func (s *inflateSource) read(p []byte, off int64) error {
	if s.rc == nil || off < s.pos {
		if s.rc != nil {
			s.rc.Close()
		}
		rc, err := s.f.Open()
		if err != nil {
			return s.errf("%v", err)
		}
		s.rc, s.pos = rc, 0
	}
	s.work += off - s.pos + int64(len(p))
	if limit := inflateWorkFactor*s.size + inflateWorkFloor; s.work > limit {
		return s.errf("reading the tensors of this deflated record in this order would inflate more than %d bytes (%d × its %d bytes + %d); refusing", limit, inflateWorkFactor, s.size, inflateWorkFloor)
	}
	if skip := off - s.pos; skip > 0 {
		if _, err := io.CopyN(io.Discard, s.rc, skip); err != nil {
			return s.errf("%v", inflateError(err, s.size))
		}
	}
	if _, err := io.ReadFull(s.rc, p); err != nil {
		return s.errf("%v", inflateError(err, s.size))
	}
	s.pos = off + int64(len(p))
	if s.pos == s.size {
		// Ask for one byte more: the record must end here, and reaching
		// its end checks its CRC-32.
		var b [1]byte
		k, err := s.rc.Read(b[:])
		if k > 0 {
			return s.errf("%v", inflateError(zip.ErrFormat, s.size))
		}
		if err != io.EOF {
			return s.errf("%v", inflateError(err, s.size))
		}
		s.rc.Close()
		s.rc = nil
	}
	return nil
}

// inflateError describes an error of inflating a record of size bytes.
func inflateError(err error, size int64) error {
	switch {
	case err == nil || err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("the record does not inflate to the %d bytes the directory says (truncated?)", size)
	case errors.Is(err, zip.ErrFormat):
		// archive/zip's error when the data inflates to more bytes
		return fmt.Errorf("the record inflates to more than the %d bytes the directory says", size)
	case errors.Is(err, zip.ErrChecksum):
		return errors.New("CRC-32 mismatch: the record is corrupt")
	}
	return fmt.Errorf("inflating: %v", err)
}

// inflateRecord inflates a whole deflated record of size bytes (a pickle),
// checking its size and CRC-32.
func (r *reader) inflateRecord(f *zip.File, size int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, r.errf(f.Name, "%v", err)
	}
	defer rc.Close()
	n, err := sliceLen(size, 1)
	if err != nil {
		return nil, r.errf(f.Name, "%v", err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, r.errf(f.Name, "%v", inflateError(err, size))
	}
	var one [1]byte
	if k, err := rc.Read(one[:]); k > 0 {
		return nil, r.errf(f.Name, "%v", inflateError(zip.ErrFormat, size))
	} else if err != io.EOF {
		return nil, r.errf(f.Name, "%v", inflateError(err, size))
	}
	return b, nil
}

func checkZipRecords(file string, records []*zip.File, size int64) error {
	type span struct {
		start, end int64
		name       string
	}
	spans := make([]span, 0, len(records))
	for _, f := range records {
		if f.CompressedSize64 == 0 {
			continue
		}
		off, err := f.DataOffset()
		if err != nil {
			return &FormatError{File: file, Where: f.Name, Msg: err.Error()}
		}
		if off < 0 || f.CompressedSize64 > uint64(size) || off > size-int64(f.CompressedSize64) {
			return &FormatError{File: file, Where: f.Name, Msg: fmt.Sprintf("record of %d bytes at offset %d lies outside the file of %d bytes (truncated?)", f.CompressedSize64, off, size)}
		}
		spans = append(spans, span{off, off + int64(f.CompressedSize64), f.Name})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		if a, b := spans[i-1], spans[i]; b.start < a.end {
			return &FormatError{File: file, Where: "zip directory", Msg: fmt.Sprintf("records %s and %s share the bytes [%d, %d) of the file (overlapping records)", a.name, b.name, b.start, min(a.end, b.end))}
		}
	}
	return nil
}

// checkPickleSize checks that a deflated pickle record of size bytes fits the
// budget of its compressed bytes, before it is inflated.
func (r *reader) checkPickleSize(f *zip.File) error {
	if f.Method != zip.Deflate {
		return nil
	}
	if limit := allocFloor + allocFactor*int64(f.CompressedSize64); f.UncompressedSize64 > uint64(limit) {
		return r.errf(f.Name, "a deflated pickle of %d bytes from %d compressed bytes exceeds the limit of %d bytes (%d MiB + %d × the compressed size)", f.UncompressedSize64, f.CompressedSize64, limit, allocFloor>>20, allocFactor)
	}
	return nil
}

// recordPickle reads the pickle in a record: its budget follows from the
// bytes it takes in the file (compressed, for a deflated record), and the
// inflated bytes count against the file's budget.
func (r *reader) recordPickle(f *zip.File, persistent func(any) (any, error)) (any, error) {
	if err := r.checkPickleSize(f); err != nil {
		return nil, err
	}
	data, err := r.readRecord(f)
	if err != nil {
		return nil, err
	}
	inFile := int64(len(data))
	if f.Method == zip.Deflate {
		inFile = int64(f.CompressedSize64)
		r.spent += int64(len(data))
	}
	v, _, err := r.readPickleIn(memSource(data), 0, int64(len(data)), inFile, f.Name, persistent)
	if err != nil {
		return nil, err
	}
	return v, nil
}
