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
