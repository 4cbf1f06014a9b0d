package atomicfile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Prefix starts the name of every temporary file ptport writes beside an output. A
// temporary is renamed to its final name only when it is complete, so a file with this
// prefix is always a leftover of an interrupted run and may be removed.
const Prefix = ".ptport-tmp-"

// IsTemp reports whether name (a base name) is one of ptport's temporary files.
func IsTemp(name string) bool { return strings.HasPrefix(name, Prefix) }

// Options are the settings of Write.
type Options struct {
	// Tag follows Prefix in the temporary's name, so that a run can tell its own
	// leftovers from another's.
	Tag string
	// NoSync skips the fsync of the file and its folder.
	NoSync bool
	// Ctx, when not nil, abandons the write once it is done.
	Ctx context.Context
}

// WriteFile writes the output at path atomically: write receives a buffered writer onto a
// temporary file in path's folder, which is synced and renamed to path when write returns
// nil, and removed otherwise.
func WriteFile(path string, o Options, write func(w io.Writer) error) error {
	t, err := Write(path, o, write)
	if err != nil {
		return err
	}
	return t.Commit()
}

// writers recycles the output buffers, which a batch of small files would otherwise
// allocate once a file.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<20) }}

// Temp is an output written completely to its temporary file, not yet in place.
// Either Commit or Discard must be called.
type Temp struct {
	f      *os.File
	path   string // the final name
	mode   os.FileMode
	noSync bool
}

// NotRegularError reports an output path that names something other than a regular
// file (a folder, a FIFO, a device, a socket): replacing it would destroy it, and
// writing into it is not writing a file.
type NotRegularError struct {
	Path string
	Mode os.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is not a regular file (%s): refusing to replace it", e.Path, kind(e.Mode))
}

func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}

// Target returns where an output at path goes and the permissions it gets: an existing
// regular file is replaced keeping its permissions (through a symbolic link, the file it
// names is replaced and the link kept); a new file gets 0644. Anything else existing at
// path is a *NotRegularError.
func Target(path string) (string, os.FileMode, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if li, lerr := os.Lstat(path); lerr == nil && li.Mode()&os.ModeSymlink != 0 {
			// A link to nothing: write the file it names.
			if real, err := os.Readlink(path); err == nil {
				if !filepath.IsAbs(real) {
					real = filepath.Join(filepath.Dir(path), real)
				}
				return real, 0o644, nil
			}
		}
		return path, 0o644, nil
	}
	if err != nil {
		return "", 0, err
	}
	if !fi.Mode().IsRegular() {
		return "", 0, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", 0, err
	}
	return real, fi.Mode().Perm(), nil
}

// Write creates a temporary file in the folder of path (of the file it names, for a
// symbolic link) and has write fill it through a buffered writer, which is also a
// RangeCopier. An existing path that is not a regular file is a *NotRegularError, before
// anything is written. On failure the temporary is removed.
func Write(path string, o Options, write func(w io.Writer) error) (_ *Temp, err error) {
	final, mode, err := Target(path)
	if err != nil {
		return nil, err
	}
	path = final
	f, err := os.CreateTemp(filepath.Dir(path), Prefix+o.Tag+filepath.Base(path)+"-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var dst io.Writer = f
	if o.Ctx != nil {
		dst = ctxWriter{o.Ctx, f}
	}
	buf := writers.Get().(*bufio.Writer)
	buf.Reset(dst)
	defer writers.Put(buf)
	bw := &output{Writer: buf, f: f, ctx: o.Ctx}
	if err = write(bw); err != nil {
		return nil, err
	}
	if err = bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	buf.Reset(nil)
	return &Temp{f: f, path: path, mode: mode, noSync: o.NoSync}, nil
}

// Commit syncs the temporary, gives it the permissions Target chose, renames it to its
// final name and syncs the folder, so that the output survives a crash of the system
// once Commit returns. The target is checked again: if it became something other than a
// regular file meanwhile, Commit fails with a *NotRegularError. On failure the
// temporary is removed.
func (t *Temp) Commit() (err error) {
	tmp := t.f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if !t.noSync {
		if err = t.f.Sync(); err != nil {
			t.f.Close()
			return fmt.Errorf("writing %s: %w", t.path, err)
		}
	}
	if err = t.f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", t.path, err)
	}
	if err = os.Chmod(tmp, t.mode); err != nil {
		return err
	}
	if fi, serr := os.Stat(t.path); serr == nil && !fi.Mode().IsRegular() {
		return &NotRegularError{Path: t.path, Mode: fi.Mode()}
	}
	if err = os.Rename(tmp, t.path); err != nil {
		return err
	}
	if t.noSync {
		return nil
	}
	if d, derr := os.Open(filepath.Dir(t.path)); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Discard removes the temporary.
func (t *Temp) Discard() {
	t.f.Close()
	os.Remove(t.f.Name())
}

// RangeCopier is implemented by the writer Write gives: it can append a range of another
// file to the output within the kernel.
type RangeCopier interface {
	// CopyRange appends the n bytes at offset off of src to the output. It copies within
	// the kernel (copy_file_range) when src is a file and the system can, and reports
	// false when it cannot, having written nothing.
	CopyRange(src io.ReaderAt, off, n int64) (bool, error)
}

// output is the buffered writer onto a temporary file that Write gives.
type output struct {
	*bufio.Writer
	f   *os.File
	ctx context.Context
}

func (o *output) CopyRange(src io.ReaderAt, off, n int64) (bool, error) {
	sf, ok := src.(*os.File)
	if !ok {
		return false, nil
	}
	if err := o.Flush(); err != nil {
		return false, err
	}
	return copyFileRange(o.ctx, o.f, sf, off, n)
}

// ctxWriter fails its writes once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
