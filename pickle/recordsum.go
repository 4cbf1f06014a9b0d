package pickle

import (
	"fmt"
	"hash/crc32"
	"sync"
)

// recordSum checks the CRC-32 of a stored zip record as its storage's bytes are read:
// a read that starts where the reads so far in order ended extends the checksum, and
// the read that reaches the record's end compares it with the CRC-32 the zip directory
// records. Reads out of that order (a view of part of the storage, a read from the
// middle, a second reading) leave it as it is, and a record whose bytes are never all
// read in order is never checked. Once a mismatch is found, every later read of the
// storage fails with it.
type recordSum struct {
	file, record string // for errors
	want         uint32
	size         int64

	mu   sync.Mutex
	next int64 // bytes summed, from the record's start
	sum  uint32
	err  error // the mismatch, once found
}

// add sums p, the raw bytes of the record at offset off, when they continue the
// bytes summed so far, and returns a *FormatError when they complete a record whose
// CRC-32 differs from the directory's.
func (c *recordSum) add(off int64, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || off != c.next || c.next >= c.size {
		return c.err
	}
	if int64(len(p)) > c.size-off {
		p = p[:c.size-off]
	}
	c.sum = crc32.Update(c.sum, crc32.IEEETable, p)
	c.next += int64(len(p))
	if c.next == c.size && c.sum != c.want {
		c.err = &FormatError{File: c.file, Where: c.record, Msg: fmt.Sprintf("CRC-32 mismatch: the record's bytes sum to %08x, the zip directory says %08x: the record is corrupt (damaged in a download or on disk?)", c.sum, c.want)}
	}
	return c.err
}
