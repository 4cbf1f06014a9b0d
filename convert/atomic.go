package convert

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

// tempPrefix starts the name of every temporary file ptport writes beside an output. A
// temporary is renamed to its final name only when it is complete, so a file with this
// prefix is always a leftover of an interrupted run and may be removed.
const tempPrefix = ".ptport-tmp-"

// IsTemp reports whether name (a base name) is one of ptport's temporary files.
func IsTemp(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// WriteFile writes the output at path atomically: write receives a buffered writer onto a
// temporary file in path's folder, which is synced and renamed to path when write returns
// nil, and removed otherwise. Readers of path see the old file or the complete new one,
// never a part.
func WriteFile(path string, write func(w io.Writer) error) error {
	return writeFile(path, writeOptions{}, write)
}

// writers recycles the output buffers, which a batch of small files would otherwise
// allocate once a file.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<20) }}

// writeOptions are the settings of writeFile and export.
type writeOptions struct {
	source  *Source         // recorded in the output, when not nil
	tempTag string          // after tempPrefix in the temporary's name
	noSync  bool            // skip fsync
	ctx     context.Context // abandons the write when done, if not nil
}

func writeFile(path string, o writeOptions, write func(w io.Writer) error) error {
	t, err := writeTemp(path, o, write)
	if err != nil {
		return err
	}
	return t.commit()
}

// tempOutput is an output written completely to its temporary file, not yet in place.
// Either commit or discard must be called.
type tempOutput struct {
	f      *os.File
	path   string // the final name
	noSync bool
}

// writeTemp creates a temporary file in path's folder and has write fill it through a
// buffered writer. On failure the temporary is removed.
func writeTemp(path string, o writeOptions, write func(w io.Writer) error) (_ *tempOutput, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), tempPrefix+o.tempTag+filepath.Base(path)+"-*")
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
	if o.ctx != nil {
		dst = ctxWriter{o.ctx, f}
	}
	buf := writers.Get().(*bufio.Writer)
	buf.Reset(dst)
	defer writers.Put(buf)
	bw := &output{Writer: buf, f: f, ctx: o.ctx}
	if err = write(bw); err != nil {
		return nil, err
	}
	if err = bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	buf.Reset(nil)
	return &tempOutput{f: f, path: path, noSync: o.noSync}, nil
}

// commit syncs the temporary, renames it to its final name and syncs the folder, so that
// the output survives a crash of the system once commit returns. On failure the
// temporary is removed.
func (t *tempOutput) commit() (err error) {
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

// discard removes the temporary.
func (t *tempOutput) discard() {
	t.f.Close()
	os.Remove(t.f.Name())
}

// output is what writeFile gives the format writers: a buffered writer onto the
// temporary file that can also copy a range of another file within the kernel.
type output struct {
	*bufio.Writer
	f   *os.File
	ctx context.Context
}

// copyRange appends the n bytes at offset off of src to the output. It copies within the
// kernel (copy_file_range) when src is a file and the system can, and reports false
// when it cannot, having written nothing.
func (o *output) copyRange(src io.ReaderAt, off, n int64) (bool, error) {
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
