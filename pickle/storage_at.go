package pickle

import (
	"fmt"
	"io"
)

// NewStorageAt returns a storage of the n bytes of little-endian dtype elements at byte
// offset off of r, read on demand (for containers other than torch.save's, such as a
// safetensors or npz file). The caller checks that the bytes lie within r.
func NewStorageAt(dtype DType, r io.ReaderAt, off, n int64) (*Storage, error) {
	size := int64(dtype.Size())
	if size == 0 {
		return nil, fmt.Errorf("pickle: unknown dtype %q", dtype)
	}
	if off < 0 || n < 0 || n%size != 0 {
		return nil, fmt.Errorf("pickle: %d bytes at offset %d is not a whole number of %s elements", n, off, dtype)
	}
	return &Storage{DType: dtype, Len: n / size, Device: "cpu", src: r, off: off}, nil
}

// NewBigEndianStorageAt is NewStorageAt for elements stored most significant byte first
// (each part of a complex element), as in NumPy's '>' arrays: the storage reads them
// little-endian, as every storage does.
func NewBigEndianStorageAt(dtype DType, r io.ReaderAt, off, n int64) (*Storage, error) {
	s, err := NewStorageAt(dtype, r, off, n)
	if err != nil {
		return nil, err
	}
	s.swap = true
	return s, nil
}
