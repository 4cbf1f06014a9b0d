package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// Storage is a flat run of elements of one dtype. Its bytes are read from
// the file on demand; Storage never holds a file's data in memory.
type Storage struct {
	DType  DType
	Len    int64  // elements
	Device string // location recorded in the file, e.g. "cpu", "cuda:0"

	key  string
	src  io.ReaderAt // nil until resolved
	off  int64       // byte offset of element 0 in src
	swap bool        // stored big-endian: swapped to little-endian on read

	// A legacy storage view before its root is resolved.
	root    *Storage
	rootOff int64 // elements of root.DType

	qdtype string // the torch dtype of a quantized tensor's storage ("qint8", ...)

	sum *recordSum // checks the CRC-32 of the stored zip record the storage is in, or nil

	expansion *expandBudget // of the file the storage was read from
}

// NewStorage returns a storage holding data, which is little-endian and
// must not be modified afterwards.
func NewStorage(dtype DType, data []byte) (*Storage, error) {
	size := dtype.Size()
	if size == 0 {
		return nil, fmt.Errorf("pickle: unknown dtype %q", dtype)
	}
	if len(data)%size != 0 {
		return nil, fmt.Errorf("pickle: %d bytes is not a whole number of %s elements", len(data), dtype)
	}
	return &Storage{DType: dtype, Len: int64(len(data) / size), Device: "cpu", src: memSource(data)}, nil
}

// Key returns the key of the storage's record ("0", "1", ... in the zip
// format; the storage key of the legacy and tar formats). It is empty for
// a storage that has no record: a numpy array's, or one NewStorage made.
func (s *Storage) Key() string { return s.key }

// nbytes returns the size of the storage in bytes, checking that the
// storage is usable.
func (s *Storage) nbytes() (int64, error) {
	if s == nil {
		return 0, errors.New("pickle: nil storage")
	}
	size := int64(s.DType.Size())
	if size == 0 {
		return 0, fmt.Errorf("pickle: storage %q has unknown dtype %q", s.key, s.DType)
	}
	if s.src == nil {
		if s.Device == "meta" {
			return 0, fmt.Errorf("pickle: %w", ErrNoData)
		}
		return 0, fmt.Errorf("pickle: storage %q has no data", s.key)
	}
	hi, lo := bits.Mul64(uint64(s.Len), uint64(size))
	if s.Len < 0 || hi != 0 || lo > 1<<62 {
		return 0, fmt.Errorf("pickle: storage %q has invalid length %d", s.key, s.Len)
	}
	return int64(lo), nil
}

// ReadAt reads the storage's bytes at byte offset off, little-endian,
// following the io.ReaderAt contract.
func (s *Storage) ReadAt(p []byte, off int64) (int, error) {
	nb, err := s.nbytes()
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, errors.New("pickle: negative offset")
	}
	if off >= nb {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > nb-off {
		n = int(nb - off)
	}
	if err := s.readRaw(p[:n], off); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readRaw fills p from byte offset off, which the caller has checked lies
// within the storage, swapping to little-endian if needed.
func (s *Storage) readRaw(p []byte, off int64) error {
	u := int64(s.DType.swapUnit())
	if !s.swap || u <= 1 {
		if err := readStored(s.src, p, s.off+off); err != nil {
			return err
		}
		return s.summed(off, p)
	}
	lo := off - off%u
	hi := off + int64(len(p))
	if r := hi % u; r != 0 {
		hi += u - r
	}
	if lo == off && hi == off+int64(len(p)) {
		if err := readStored(s.src, p, s.off+off); err != nil {
			return err
		}
		if err := s.summed(off, p); err != nil {
			return err
		}
		swapBytes(p, int(u))
		return nil
	}
	tmp := make([]byte, hi-lo)
	if err := readStored(s.src, tmp, s.off+lo); err != nil {
		return err
	}
	if err := s.summed(lo, tmp); err != nil {
		return err
	}
	swapBytes(tmp, int(u))
	copy(p, tmp[off-lo:])
	return nil
}

// summed passes p, the raw bytes read at byte offset off, to the storage's record
// checksum, if it has one.
func (s *Storage) summed(off int64, p []byte) error {
	if s.sum == nil {
		return nil
	}
	return s.sum.add(s.off-s.sum.base+off, p)
}

// Verify checks the bytes of the zip record that holds the storage against the CRC-32
// the zip directory records for it, and returns a *FormatError naming the record when
// they differ; afterwards every read of the storage fails with it. It reads the bytes
// of the record that reads in order have not yet checked (see the package
// documentation), all of the record for a storage that holds part of it, once: a second
// call, or one for another storage of the same record, reads nothing. An error of
// reading is returned as it is, and the record is left unchecked. A storage without a
// CRC-32 to check (not in a zip record, in a deflated one, which is checked as it is
// inflated, or one whose CRC-32 is 0) gives nil.
func (s *Storage) Verify() error {
	if s == nil {
		return nil
	}
	if s.sum != nil {
		return s.sum.verify()
	}
	if r, ok := s.src.(*recordReader); ok {
		return r.sum.verify()
	}
	return nil
}

func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	var fe *FormatError
	if errors.As(err, &fe) {
		return err // a corrupt record, which names itself
	}
	return fmt.Errorf("pickle: reading %d bytes at offset %d: %w", len(p), off, err)
}

// readStored is readFull for bytes of a storage or a record, whose place Open found
// within the file: a read that ends early finds a file shorter than it was then.
func readStored(r io.ReaderAt, p []byte, off int64) error {
	err := readFull(r, p, off)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s", err, changedMsg)
	}
	return err
}

// changedMsg says why bytes Open found in the file are no longer there.
const changedMsg = "the file no longer holds these bytes: it was truncated or rewritten while it was read"

// swapBytes reverses the byte order of each u-byte unit of p.
func swapBytes(p []byte, u int) {
	switch u {
	case 2:
		for i := 0; i+1 < len(p); i += 2 {
			p[i], p[i+1] = p[i+1], p[i]
		}
	case 4:
		for i := 0; i+3 < len(p); i += 4 {
			binary.LittleEndian.PutUint32(p[i:], binary.BigEndian.Uint32(p[i:]))
		}
	case 8:
		for i := 0; i+7 < len(p); i += 8 {
			binary.LittleEndian.PutUint64(p[i:], binary.BigEndian.Uint64(p[i:]))
		}
	}
}

// directSource is a source whose bytes are addressable in memory (a byte
// slice or a memory map).
type directSource interface {
	io.ReaderAt
	// access calls fn with the bytes [off, off+n), turning a memory fault
	// (a truncated mapped file) into an error.
	access(off, n int64, fn func(b []byte)) error
}

// memSource is an in-memory source.
type memSource []byte

func (m memSource) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("pickle: negative offset")
	}
	if off >= int64(len(m)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m memSource) access(off, n int64, fn func(b []byte)) error {
	if off < 0 || n < 0 || off > int64(len(m)) || n > int64(len(m))-off {
		return fmt.Errorf("pickle: range [%d, %d) outside %d bytes", off, off+n, len(m))
	}
	fn(m[off : off+n])
	return nil
}
