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
	"regexp"
	"strings"
	"sync"
)

// Prefix starts the name of every temporary file ptport writes beside an output. A
// temporary is renamed to its final name only when it is complete, so a file named as
// a temporary (IsTemp) is always a leftover of an interrupted run, or the work of a
// running one.
const Prefix = ".ptport-tmp-"

// IsTemp reports whether name (a base name) is one of ptport's temporary files: named
// as tempPattern names them, Prefix, a batch's shard tag ("s-" or "sKofN-") or none,
// the writer's mark ("hHOSTnNSpPIDtSTART."), the target's base name and the random
// decimal suffix of os.CreateTemp ("-RAND"), or as older versions' batches named
// them, without the mark but with the tag, and the name of an output of theirs
// (NAME.safetensors, .npz, .json or .pt). Any other name, such as a file of the
// user's that merely starts with Prefix (.ptport-tmp-notes.txt,
// .ptport-tmp-s-notes-2024), is not ptport's.
func IsTemp(name string) bool { return strings.HasPrefix(name, Prefix) && tempRE.MatchString(name) }

// tempRE is the grammar of a temporary's name, for IsTemp.
var tempRE = regexp.MustCompile(`(?s)^` + regexp.QuoteMeta(Prefix) +
	`(?:(?:s-|s[0-9]+of[0-9]+-)?h[0-9a-f]{8}n[0-9]+p[0-9]+t[0-9]+\..*` +
	`|(?:s-|s[0-9]+of[0-9]+-).+\.(?:safetensors|npz|json|pt))` +
	`-[0-9]{1,10}$`)

// OutputError reports a failure to write the output itself (no space left, no
// permission, an I/O error of the disk written to), as opposed to one of reading what is
// written.
type OutputError struct {
	Path string
	Err  error
}

func (e *OutputError) Error() string { return "writing " + e.Path + ": " + e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// outputError is the *OutputError of err in writing the output at path, which names the
// output and not the temporary: the error of an operation on the temporary (its
// creation, a write, the rename) keeps the system's reason alone.
func outputError(path string, err error) *OutputError {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe) && IsTemp(filepath.Base(pe.Path)):
		err = pe.Err
	case errors.As(err, &le) && IsTemp(filepath.Base(le.Old)):
		err = le.Err
	}
	return &OutputError{Path: path, Err: err}
}

// Options are the settings of Write.
type Options struct {
	// Tag follows Prefix in the temporary's name, so that a run can tell its own
	// leftovers from another's.
	Tag string
	// NoSync skips the fsync of the file and its folder.
	NoSync bool
	// Ctx, when not nil, abandons the write once it is done.
	Ctx context.Context
	// Progress, when not nil, is called with the bytes written so far, after each
	// chunk of at most a few MiB, from the writing goroutine.
	Progress func(written int64)
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

// maxName bounds a file name, as most file systems do.
const maxName = 255

// tempPattern is the os.CreateTemp pattern of a temporary for path: Prefix, the tag,
// this process's owner mark, the target's base name (shortened to fit) and a random
// suffix.
func tempPattern(path, tag string) string {
	head := Prefix + tag + self.mark() + "."
	base := filepath.Base(path)
	if room := maxName - len(head) - 12; len(base) > room {
		base = base[:max(room, 0)]
	}
	return head + base + "-*"
}

// NotRegularError reports an output path that names something other than a regular
// file (a folder, a FIFO, a device, a socket): replacing it would destroy it, and
// writing into it is not writing a file.
type NotRegularError struct {
	Path string
	Mode os.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is not a regular file (%s): refusing to replace it", e.Path, Kind(e.Mode))
}

// Kind names the kind of file of mode m when it is not a regular file: "a folder", "a
// named pipe", "a character device", "a device", "a socket".
func Kind(m os.FileMode) string {
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
// anything is written. On failure the temporary is removed. Unless o.NoSync, the system
// is asked to start writing the data to disk as it comes, so that the sync of Commit has
// little left to wait for.
func Write(path string, o Options, write func(w io.Writer) error) (_ *Temp, err error) {
	final, mode, err := Target(path)
	if err != nil {
		var nre *NotRegularError
		if errors.As(err, &nre) {
			return nil, err
		}
		return nil, &OutputError{Path: path, Err: err}
	}
	path = final
	f, err := os.CreateTemp(filepath.Dir(path), tempPattern(path, o.Tag))
	if err != nil {
		return nil, outputError(path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	fw := &fileWriter{f: f, path: path, ctx: o.Ctx, progress: o.Progress, writeback: !o.NoSync}
	buf := writers.Get().(*bufio.Writer)
	buf.Reset(fw)
	defer writers.Put(buf)
	bw := &output{Writer: buf, fw: fw}
	if err = write(bw); err != nil {
		return nil, err
	}
	if err = bw.Flush(); err != nil {
		var oe *OutputError
		if errors.As(err, &oe) {
			return nil, err
		}
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
			return outputError(t.path, err)
		}
	}
	if err = t.f.Close(); err != nil {
		return outputError(t.path, err)
	}
	if err = os.Chmod(tmp, t.mode); err != nil {
		return outputError(t.path, err)
	}
	if fi, serr := os.Stat(t.path); serr == nil && !fi.Mode().IsRegular() {
		return &NotRegularError{Path: t.path, Mode: fi.Mode()}
	}
	if err = os.Rename(tmp, t.path); err != nil {
		return outputError(t.path, err)
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
	fw *fileWriter
}

func (o *output) CopyRange(src io.ReaderAt, off, n int64) (bool, error) {
	sf, ok := src.(*os.File)
	if !ok {
		return false, nil
	}
	if err := o.Flush(); err != nil {
		return false, err
	}
	return o.fw.copyFrom(sf, off, n)
}

// chunk is the most written between two checks of the context, two calls of Progress
// and two requests to start writing back.
const chunk = 8 << 20

// fileWriter writes to the temporary file: it fails once its context is done, reports
// progress, and starts the writeback of each chunk as soon as it is written.
type fileWriter struct {
	f         *os.File
	path      string // the output's final name
	ctx       context.Context
	progress  func(int64)
	writeback bool
	written   int64 // bytes in the file
	flushed   int64 // bytes whose writeback has been started
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if w.ctx != nil {
		if err := w.ctx.Err(); err != nil {
			return 0, err
		}
	}
	n := 0
	for n < len(p) {
		k, err := w.f.Write(p[n:min(len(p), n+chunk)])
		n += k
		w.wrote(int64(k))
		if err != nil {
			return n, outputError(w.path, err)
		}
		if w.ctx != nil && n < len(p) {
			if err := w.ctx.Err(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (w *fileWriter) wrote(n int64) {
	w.written += n
	if w.writeback && w.written-w.flushed >= chunk {
		startWriteback(w.f, w.flushed, w.written-w.flushed)
		w.flushed = w.written
	}
	if w.progress != nil && n > 0 {
		w.progress(w.written)
	}
}

// copyFrom appends n bytes at offset off of src within the kernel, a chunk at a time. It
// reports false, having written nothing, when the kernel cannot copy between these files.
func (w *fileWriter) copyFrom(src *os.File, off, n int64) (bool, error) {
	done := int64(0)
	for done < n {
		if w.ctx != nil {
			if err := w.ctx.Err(); err != nil {
				return true, err
			}
		}
		k, err := copyFileRange(w.f, src, off+done, min(chunk, n-done))
		if err != nil {
			if done == 0 && errors.Is(err, errUnsupported) {
				return false, nil
			}
			if isOutputFull(err) {
				err = outputError(w.path, err)
			}
			return true, err
		}
		done += k
		w.wrote(k)
	}
	return true, nil
}

// errUnsupported is copyFileRange's error when the kernel cannot copy between two files.
var errUnsupported = errors.New("copy_file_range: not supported")

// A Leftover is a temporary file found below a folder.
type Leftover struct {
	Path string
	Size int64
	// Stale reports that the process that wrote it has ended: it ran on this machine
	// (same host name, same process namespace), and no process of its id and start time
	// runs now. A temporary whose writer may still run elsewhere is not stale.
	Stale bool
	// Live reports that the process that writes it runs on this machine now.
	Live bool
}

// Leftovers lists the temporaries below dir (recursively when deep), calling fn for
// each. It lists files only, and does not follow symbolic links.
func Leftovers(dir string, deep bool, fn func(Leftover) error) error {
	visit := func(path string, d fs.DirEntry) error {
		if d.IsDir() || !IsTemp(d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		l := Leftover{Path: path, Size: fi.Size()}
		l.Stale, l.Live = markState(d.Name())
		return fn(l)
	}
	if !deep {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := visit(filepath.Join(dir, e.Name()), e); err != nil {
				return err
			}
		}
		return nil
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		return visit(path, d)
	})
}

// RemoveStale removes the stale temporaries in dir (not below it) and returns how many
// it removed.
func RemoveStale(dir string) (int, error) {
	n := 0
	err := Leftovers(dir, false, func(l Leftover) error {
		if l.Stale {
			if err := os.Remove(l.Path); err == nil {
				n++
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	return n, err
}
