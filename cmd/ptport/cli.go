package main

// What every command shares: --json, errors as JSON, "-" for standard input and output.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// jsonFlag is the persistent flag that makes every command print JSON on stdout, its
// errors included.
const jsonFlag = "json"

// jsonMode reports whether --json is on for c.
func jsonMode(c *cobra.Command) bool {
	on, _ := c.Flags().GetBool(jsonFlag)
	return on
}

// jsonInArgs reports whether args turn --json on, for errors that come before cobra has
// parsed the flags (an unknown flag, an unknown command).
func jsonInArgs(args []string) bool {
	on := false
	for _, a := range args {
		switch a {
		case "--":
			return on
		case "--json", "--json=true", "--json=1":
			on = true
		case "--json=false", "--json=0":
			on = false
		}
	}
	return on
}

// printJSON writes v to c's stdout as indented JSON.
func printJSON(c *cobra.Command, v any) error {
	return writeJSON(c.OutOrStdout(), v)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// errorJSON is what a command prints on stdout when it fails in --json mode.
type errorJSON struct {
	Error string `json:"error"`
	File  string `json:"file"` // the file the error is about, "" when none is
}

// fileError names the file an error is about: the "file" of errorJSON. Its message is
// err's, which names the file already or is prefixed with it.
type fileError struct {
	file string
	err  error
}

// inFile wraps err (when not nil) as being about file.
func inFile(file string, err error) error {
	if err == nil {
		return nil
	}
	return &fileError{file: file, err: err}
}

// aboutNamed returns err as being about the first of files that its message starts
// with, when no file is known for it (errorFile): an error of loading a model names
// the model's file in its text alone, and --json's "file" is to name it too.
func aboutNamed(err error, files ...string) error {
	if err == nil || errorFile(err) != "" {
		return err
	}
	msg := err.Error()
	for _, f := range files {
		if strings.HasPrefix(msg, f+":") || strings.HasPrefix(msg, f+" ") {
			return inFile(f, err)
		}
	}
	return err
}

func (e *fileError) Error() string {
	msg := e.err.Error()
	if pe, ok := e.err.(*fs.PathError); ok && pe.Path == e.file {
		msg = pe.Err.Error() // "FILE: no such file or directory", not "FILE: open FILE: no such ..."
	}
	if e.file == "" || strings.HasPrefix(msg, e.file+":") || strings.HasPrefix(msg, e.file+" ") {
		return msg
	}
	return e.file + ": " + msg
}

func (e *fileError) Unwrap() error { return e.err }

// errorFile is the file err is about: the innermost fileError's, or else the File or
// Path field of the first error in the chain that has one (pickle.FormatError,
// fs.PathError, ...).
func errorFile(err error) string {
	var fe *fileError
	if errors.As(err, &fe) {
		for {
			var inner *fileError
			if !errors.As(fe.err, &inner) {
				return fe.file
			}
			fe = inner
		}
	}
	for e := range errorChain(err) {
		v := reflect.ValueOf(e)
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				break
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			continue
		}
		for _, name := range []string{"File", "Path"} {
			if f := v.FieldByName(name); f.IsValid() && f.Kind() == reflect.String && f.String() != "" {
				return f.String()
			}
		}
	}
	return ""
}

// errorChain yields err and every error it wraps, depth first.
func errorChain(err error) func(func(error) bool) {
	return func(yield func(error) bool) {
		var walk func(error) bool
		walk = func(e error) bool {
			if e == nil {
				return true
			}
			if !yield(e) {
				return false
			}
			switch u := e.(type) {
			case interface{ Unwrap() error }:
				return walk(u.Unwrap())
			case interface{ Unwrap() []error }:
				for _, x := range u.Unwrap() {
					if !walk(x) {
						return false
					}
				}
			}
			return true
		}
		walk(err)
	}
}

// stdio is the name that stands for standard input or output in a file argument.
const stdio = "-"

// stdinName is how messages call standard input read as a file.
const stdinName = "<stdin>"

// openCheckpoint opens the checkpoint at path, or reads it from c's standard input when
// path is "-": standard input is copied to an unnamed temporary file first, since a
// checkpoint is read at random offsets. done closes the checkpoint and what it read.
// Stopped by ctx, it says so of the file (stoppedIn).
func openCheckpoint(ctx context.Context, c *cobra.Command, path string, opts *pickle.Options) (cp *convert.Checkpoint, done func(), err error) {
	defer func() {
		if name := path; err != nil {
			if path == stdio {
				name = stdinName
			}
			err = stoppedIn(ctx, name, err)
		}
	}()
	if path != stdio {
		if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
			// A named pipe (or a shell's <(…)), read once from start to end as standard
			// input is.
			f, err := openPipe(ctx, path)
			if err != nil {
				return nil, nil, inFile(path, err)
			}
			defer f.Close()
			return openStream(ctx, path, f, opts)
		}
		cp, err := convert.OpenContext(ctx, path, opts)
		if err != nil {
			return nil, nil, inFile(path, allowObjectsHint(err, opts, func(o *pickle.Options) error {
				cp, err := convert.OpenContext(ctx, path, o)
				if err == nil {
					cp.Close()
				}
				return err
			}))
		}
		return cp, func() { cp.Close() }, nil
	}
	return openStream(ctx, stdinName, c.InOrStdin(), opts)
}

// openPipe opens the named pipe at path for reading. Opening a pipe waits for its
// writer, however long that takes; openPipe returns ctx's error once ctx is done (a
// Ctrl-C), leaving the open to finish, and close, in the background.
func openPipe(ctx context.Context, path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	c := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		c <- opened{f, err}
	}()
	select {
	case o := <-c:
		return o.f, o.err
	case <-ctx.Done():
		go func() {
			if o := <-c; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// openStream reads the checkpoint in r, which reads from start to end only (standard
// input, a pipe), into a temporary file first; name is how errors call it.
func openStream(ctx context.Context, name string, r io.Reader, opts *pickle.Options) (cp *convert.Checkpoint, done func(), err error) {
	f, err := spool(ctx, r)
	if err != nil {
		what := "standard input"
		if name != stdinName {
			what = escape(name)
		}
		return nil, nil, inFile(name, fmt.Errorf("reading %s: %w", what, err))
	}
	fi, err := f.Stat()
	if err == nil {
		cp, err = convert.NewCheckpointContext(ctx, name, f, fi.Size(), opts)
		err = allowObjectsHint(err, opts, func(o *pickle.Options) error {
			cp, err := convert.NewCheckpointContext(ctx, name, f, fi.Size(), o)
			if err == nil {
				cp.Close()
			}
			return err
		})
	}
	if err != nil {
		f.Close()
		return nil, nil, inFile(name, err)
	}
	return cp, func() { cp.Close(); f.Close() }, nil
}

// allowObjectsLifts marks a refusal that --allow-objects lifts: reading the same
// file with it succeeds.
type allowObjectsLifts struct{ err *pickle.UnsafeGlobalError }

func (e *allowObjectsLifts) Error() string { return e.err.Error() }
func (e *allowObjectsLifts) Unwrap() error { return e.err }

// allowObjectsHint returns err, marked as an allowObjectsLifts when it refuses what
// pickle.Options.AllowObjects accepts and reopen, reading the same file with it, then
// succeeds: ptport advises --allow-objects only where it reads the file.
func allowObjectsHint(err error, opts *pickle.Options, reopen func(*pickle.Options) error) error {
	var ue *pickle.UnsafeGlobalError
	if err == nil || opts == nil || opts.AllowObjects || opts.Strict || !errors.As(err, &ue) || !ue.AllowObjectsReads() {
		return err
	}
	o := *opts
	o.AllowObjects = true
	if reopen(&o) != nil {
		return err
	}
	return &allowObjectsLifts{ue}
}

// spool copies r to a temporary file that has no name (it is removed at once, and
// vanishes with its last descriptor) and returns it open for reading.
func spool(ctx context.Context, r io.Reader) (*os.File, error) {
	f, err := os.CreateTemp("", ".ptport-stdin-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ctxReader fails its reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// outputFormat is the format --to names, or else the output's extension; standard
// output has none. An output that is a folder, and a --to that contradicts the
// extension of a format, are errors.
func outputFormat(out, to string) (convert.Format, error) {
	if out != stdio {
		if fi, err := os.Stat(out); err == nil && fi.IsDir() || strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator)) {
			return "", fmt.Errorf("-o %s is a folder: name the output file, such as %s", out, filepath.Join(out, "model.safetensors"))
		}
	}
	if to != "" {
		f, err := convert.FormatOf(to)
		if err != nil {
			return "", err
		}
		if ext := filepath.Ext(out); out != stdio && ext != "" {
			if named, err := convert.FormatOf(ext); err == nil && named != f {
				return "", fmt.Errorf("-o %s has the extension of %s, but --to is %s: drop --to, or name the output %s", out, named, f, strings.TrimSuffix(out, ext)+f.Ext())
			}
		}
		return f, nil
	}
	if out == stdio {
		return "", errors.New("-o -: name the format of standard output with --to (" + formatList() + ")")
	}
	return convert.FormatOf(out)
}

// formatList lists the output formats: "safetensors, npz, json or pt".
func formatList() string {
	names := formatNames()
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// stdoutTaken refuses --json together with an output on standard output: both would
// write to it.
func stdoutTaken(c *cobra.Command, flag, value string) error {
	if value == stdio && jsonMode(c) {
		return fmt.Errorf("%s - and --json both write to standard output; choose one", flag)
	}
	return nil
}

// outputName is how the lines ptport prints name an output: the file, escaped, or
// "standard output" for "-".
func outputName(out string) string {
	if out == stdio {
		return "standard output"
	}
	return escape(out)
}

// count is n and the noun that goes with it: "1 tensor", "0 tensors", "2 tensors".
func count(n int, one, many string) string { return count64(int64(n), one, many) }

func count64(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
