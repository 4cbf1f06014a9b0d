package atomicfile

import (
	"bufio"
	"context"
	"fmt"
	"io"
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
	noSync bool
}

// Write creates a temporary file in path's folder and has write fill it through a
// buffered writer, which is also a RangeCopier. On failure the temporary is removed.
func Write(path string, o Options, write func(w io.Writer) error) (_ *Temp, err error) {
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
	return &Temp{f: f, path: path, noSync: o.NoSync}, nil
}

// Commit syncs the temporary, renames it to its final name and syncs the folder, so that
// the output survives a crash of the system once Commit returns. On failure the
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
	if err = os.Chmod(tmp, 0o644); err != nil {
		return err
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
