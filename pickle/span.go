package pickle

import "io"

// Span returns where the tensor's bytes lie in the source they are read from, when they
// are one contiguous little-endian run there: the source (the io.ReaderAt given to
// NewReader, an *os.File for Open without a memory map), the byte offset and the length.
// ok is false for views that are not C-contiguous, tensors with the lazy conjugate or
// negative bit, big-endian files, in-memory storages and storages not yet resolved. A
// caller may then copy the bytes without decoding them, for example with
// copy_file_range. Before it reports a span, Span checks the CRC-32 of the zip record
// that holds the storage (Storage.Verify: the record is read once, whatever the number
// of tensors that view it); ok is false for a record that fails the check, or cannot be
// read, and reading the tensor then returns the error. Bytes copied from a span are
// therefore as checked as bytes read (see the package documentation). A span counts
// as a read of the tensor against the limit of the bytes a file's tensors may
// materialise (Options.ExpandLimit): ok is false once it would pass the limit, and
// reading the tensor then returns the *LimitError. A caller given a span copies the bytes
// from it: reading the tensor after all charges it again.
func (t *Tensor) Span() (src io.ReaderAt, off, n int64, ok bool) {
	if t == nil || t.Storage == nil || !t.IsContiguous() || t.Offset < 0 || t.Conj || t.Neg {
		return nil, 0, 0, false
	}
	s := t.Storage
	if s.src == nil || s.swap || s.root != nil {
		return nil, 0, 0, false
	}
	if _, isMem := s.src.(memSource); isMem {
		return nil, 0, 0, false
	}
	src, base := s.src, s.off
	if r, ok := src.(*recordReader); ok {
		src, base = r.sum.src, r.sum.base+base
	}
	total, err := s.nbytes()
	if err != nil {
		return nil, 0, 0, false
	}
	size := int64(t.DType.Size())
	// A view of another dtype than its storage's (torch 2.x's views of an
	// UntypedStorage) is its bytes as they are.
	if size == 0 {
		return nil, 0, 0, false
	}
	start := int64(t.Offset) * size
	n = t.NumBytes()
	if start > total || n > total-start {
		return nil, 0, 0, false
	}
	if s.Verify() != nil || s.expand(n, total) != nil {
		return nil, 0, 0, false
	}
	return src, base + start, n, true
}
