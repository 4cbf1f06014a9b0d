// Package regfile opens the files a reader is given by name without waiting on those
// that are not regular files.
package regfile

import (
	"io/fs"
	"os"
)

// Open opens the file name for reading and returns it with its FileInfo, taken from the
// open file, so that both describe the same file however the name changes meanwhile.
//
// A file that is not a regular file (a folder, a named pipe, a device, a socket) is not
// kept open: Open returns a nil *os.File, its FileInfo and a nil error, and the caller
// says what it is. Where the system allows it (Unix), opening does not wait: a named
// pipe without a writer is returned at once, where os.Open waits for a writer however
// long it takes.
func Open(name string) (*os.File, fs.FileInfo, error) {
	f, err := open(name)
	if err != nil {
		if fi, ok := special(name, err); ok {
			return nil, fi, nil
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fi, nil
	}
	if err := blocking(f); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}
