//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package pickle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync/atomic"
	"syscall"
)

// mmapSource is a read-only memory map of a whole file.
type mmapSource struct {
	data   []byte
	closed atomic.Bool
}

// mapFile maps f read-only. It returns nil, nil when mapping is not
// possible (not a regular file, empty), so the caller falls back to f.
func mapFile(f *os.File, size int64) (*mmapSource, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil
	}
	return &mmapSource{data: data}, nil
}

func (m *mmapSource) close() error {
	if m.closed.Swap(true) {
		return nil
	}
	return syscall.Munmap(m.data)
}

var errClosed = errors.New("pickle: file is closed")

func (m *mmapSource) access(off, n int64, fn func(b []byte)) (err error) {
	if m.closed.Load() {
		return errClosed
	}
	if off < 0 || n < 0 || off > int64(len(m.data)) || n > int64(len(m.data))-off {
		return fmt.Errorf("pickle: range [%d, %d) outside %d bytes", off, off+n, len(m.data))
	}
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); fault {
				// The pages are gone: the file was cut short, or truncated and
				// written again (as torch.save does), since it was mapped.
				err = fmt.Errorf("pickle: reading mapped file at offset %d: %s", off, changedMsg)
				return
			}
			err = fmt.Errorf("pickle: reading mapped file at offset %d: %v", off, r)
		}
	}()
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	fn(m.data[off : off+n])
	return nil
}

func (m *mmapSource) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("pickle: negative offset")
	}
	if off >= int64(len(m.data)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), int64(len(m.data))-off))
	if err := m.access(off, int64(n), func(b []byte) { copy(p, b) }); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
