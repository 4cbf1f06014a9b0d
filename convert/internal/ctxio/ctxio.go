// Package ctxio stops the reading of a file once a context is done.
package ctxio

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/ptport/ptport/convert/internal/fileerr"
	"github.com/ptport/ptport/internal/regfile"
)

// Reader returns a reader of r whose reads fail with ctx's error once ctx is done. A
// decoder reading from it (encoding/json's reads some kilobytes at a time) stops at its
// next read: the context is looked at once a read, not once a byte.
func Reader(ctx context.Context, r io.Reader) io.Reader {
	if ctx.Done() == nil {
		return r // never cancelled
	}
	return &reader{ctx, r}
}

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// ReaderAt returns a reader of r whose reads fail with ctx's error once ctx is done, as
// Reader's do: a decoder reading at offsets (archive/zip's) stops at its next read.
func ReaderAt(ctx context.Context, r io.ReaderAt) io.ReaderAt {
	if ctx.Done() == nil {
		return r
	}
	return &readerAt{ctx, r}
}

type readerAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.ReadAt(p, off)
}

// ErrNotRegular is what Open refuses to open.
var ErrNotRegular = errors.New("not a regular file (a named pipe, a device, a socket or a folder)")

// Open opens the file at path for reading, and returns it and its size, unless ctx is
// done (then its error is Stopped's). It opens a regular file only (through a symbolic
// link, the file it names): anything else is an *fs.PathError wrapping ErrNotRegular,
// and is not kept open; a named pipe is not waited on (regfile.Open).
func Open(ctx context.Context, path string) (*os.File, int64, error) {
	if err := Stopped(ctx, path); err != nil {
		return nil, 0, err
	}
	f, fi, err := regfile.Open(path)
	if err != nil {
		return nil, 0, err
	}
	if f == nil {
		return nil, 0, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return f, fi.Size(), nil
}

// Stopped returns nil when ctx is not done, and otherwise the error of a read of the
// file name that ctx stopped: name, then ctx's error, which it wraps. A reader returns
// it in place of the error it stopped with (which says where in the file it stopped, of
// no use to a caller that cancelled it).
func Stopped(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fileerr.Wrap(name, err)
	}
	return nil
}

// Read returns what read, the reading of the file name, returns, or the error Stopped
// gives when ctx is done before read starts or by the time it fails.
func Read[T any](ctx context.Context, name string, read func() (T, error)) (T, error) {
	var zero T
	if err := Stopped(ctx, name); err != nil {
		return zero, err
	}
	v, err := read()
	if err != nil {
		if stop := Stopped(ctx, name); stop != nil {
			return zero, stop
		}
		return zero, err
	}
	return v, nil
}

// pollEvery is how many steps of a loop pass between two looks of a Poller at its
// context: a step of the loops it serves takes well under a microsecond, a look about
// as long, so that a loop stops within milliseconds at no measurable cost.
const pollEvery = 1 << 12

// A Poller looks at a context every few thousand steps of a loop. Its zero value, or
// one of a nil Ctx, never stops.
type Poller struct {
	Ctx context.Context
	n   int
}

// Step counts a step and, every few thousand steps, returns the context's error.
func (p *Poller) Step() error {
	p.n++
	if p.n%pollEvery != 0 || p.Ctx == nil {
		return nil
	}
	return p.Ctx.Err()
}
