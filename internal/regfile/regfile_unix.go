//go:build unix

package regfile

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// open opens name without waiting for a named pipe's writer.
func open(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// special returns the FileInfo of name when err is the error of opening a socket, which
// no process opens as a file (ENXIO on Linux, EOPNOTSUPP on the BSDs); ok is false
// otherwise.
func special(name string, err error) (fs.FileInfo, bool) {
	if !errors.Is(err, syscall.ENXIO) && !errors.Is(err, syscall.EOPNOTSUPP) {
		return nil, false
	}
	fi, serr := os.Stat(name)
	if serr != nil || fi.Mode().IsRegular() {
		return nil, false
	}
	return fi, true
}

// blocking puts the regular file f back into blocking mode, as os.Open opens it.
func blocking(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil {
		return err
	}
	return serr
}
