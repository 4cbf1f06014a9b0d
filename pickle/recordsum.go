package pickle

import (
	"fmt"
	"hash/crc32"
	"io"
	"sync"
)

// recordSum checks the CRC-32 of a stored zip record, whose bytes lie at base in src,
// as they are read: a read that starts at or before where the reads so far in order
// ended, and goes beyond it, extends the checksum, and the read that reaches the
// record's end compares it with the CRC-32 the zip directory records. Reads out of that
// order (a view of part of a storage, a read from the middle) leave it as it is; verify
// sums what remains unread. Once a mismatch is found, every later read fails with it.
type recordSum struct {
	file, record string // for errors
	want         uint32
	src          io.ReaderAt
	base, size   int64 // the record's first byte in src, and its bytes

	mu   sync.Mutex
	next int64 // bytes summed, from the record's start
	sum  uint32
	err  error // the mismatch, once found
}

// add sums p, the raw bytes of the record at offset off, where they continue the bytes
// summed so far, and returns a *FormatError when they complete a record whose CRC-32
// differs from the directory's.
func (c *recordSum) add(off int64, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || off > c.next || c.next >= c.size || off+int64(len(p)) <= c.next {
		return c.err
	}
	p = p[c.next-off:]
	if int64(len(p)) > c.size-c.next {
		p = p[:c.size-c.next]
	}
	c.extend(p)
	return c.err
}

// extend sums p, the bytes of the record that follow those summed, with c.mu held.
func (c *recordSum) extend(p []byte) {
	c.sum = crc32.Update(c.sum, crc32.IEEETable, p)
	c.next += int64(len(p))
	if c.next == c.size && c.sum != c.want {
		c.err = &FormatError{File: c.file, Where: c.record, Msg: fmt.Sprintf("CRC-32 mismatch: the record's bytes sum to %08x, the zip directory says %08x: the record is corrupt (damaged in a download or on disk?)", c.sum, c.want)}
	}
}

// completedBy reports whether reading the record's bytes [lo, hi) in order leaves it
// checked: it has been summed already, or the read starts at or before where the sum
// has reached and ends at the record's end.
func (c *recordSum) completedBy(lo, hi int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err != nil || c.next >= c.size || lo <= c.next && hi == c.size
}

// done reports whether the record has been summed, and compared, already.
func (c *recordSum) done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err != nil || c.next >= c.size
}

// verifyChunk is the most verify reads at once.
const verifyChunk = 4 << 20

// verify reads the bytes of the record not yet summed, in order, and returns the
// record's *FormatError if its CRC-32 differs from the directory's. Once the record is
// summed it reads nothing: a record is read to be checked once. An error of reading
// leaves the sum where it was.
func (c *recordSum) verify() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.src.(directSource); ok {
		for c.err == nil && c.next < c.size {
			n := min(c.size-c.next, verifyChunk)
			if err := d.access(c.base+c.next, n, c.extend); err != nil {
				return err
			}
		}
		return c.err
	}
	if c.err != nil || c.next >= c.size {
		return c.err
	}
	buf := verifyBuffers.Get().(*[]byte)
	defer verifyBuffers.Put(buf)
	for c.err == nil && c.next < c.size {
		p := (*buf)[:min(c.size-c.next, int64(len(*buf)))]
		if err := readStored(c.src, p, c.base+c.next); err != nil {
			return err
		}
		c.extend(p)
	}
	return c.err
}

// verifyBuffers recycles the buffers verify reads into, which a file of many storages
// would otherwise allocate once a storage.
var verifyBuffers = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// recordReader is a stored zip record read in place, checking its CRC-32 as a
// recordSum does.
type recordReader struct {
	sum *recordSum
}

func (r *recordReader) ReadAt(p []byte, off int64) (int, error) {
	c := r.sum
	if off < 0 {
		return 0, fmt.Errorf("pickle: negative offset")
	}
	if off >= c.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), c.size-off))
	if err := readStored(c.src, p[:n], c.base+off); err != nil {
		return 0, err
	}
	if err := c.add(off, p[:n]); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
