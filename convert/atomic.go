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

func writeFile(path string, o writeOptions, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix+o.tempTag+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
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
		return err
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if !o.noSync {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if o.noSync {
		return nil
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
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
