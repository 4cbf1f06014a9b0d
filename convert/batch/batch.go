package batch

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/atomicfile"
	"github.com/ptport/ptport/convert/internal/export"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/pickle"
)

// DefaultInclude are the base-name patterns of the files Run takes from folders.
var DefaultInclude = []string{"*.pt", "*.pth", "*.bin", "*.ckpt"}

// Options configure Run.
type Options struct {
	// Inputs are files and folders; folders are walked recursively (symbolic links to
	// folders are not followed).
	Inputs []string
	// OutDir receives the outputs, mirroring the input tree: a folder's files under
	// their path below it (below its base name when there are several inputs), a
	// file's under its base name; the extension becomes the format's.
	OutDir string
	// To is the output format.
	To convert.Format
	// Jobs is the number of workers, each converting one input at a time while the
	// output of its previous one is synced and renamed; 0 means the number of CPUs.
	Jobs int
	// Include are base-name glob patterns (path.Match) of the files taken from folders;
	// nil means DefaultInclude. Files named as inputs are always taken.
	Include []string
	// Shard and Shards take a stable share of the inputs: those whose path relative to
	// their root hashes to Shard modulo Shards, so that Shards runs with Shard 0 to
	// Shards-1 together take every input exactly once. Shards 0 takes all.
	Shard, Shards int
	// Force converts inputs whose output is up to date, which are otherwise skipped.
	Force bool
	// Check runs the parity check of each input NAME.pt against its sibling NAME.ref.pt
	// instead of converting; inputs without one are skipped.
	Check bool
	// Model and Tolerance are the check's settings (parity.Options.Load and Tolerance).
	Model     convert.Options
	Tolerance func(got, want pickle.DType) parity.Tolerance
	// Pickle are the reader's options; nil means the defaults.
	Pickle *pickle.Options
	// NoSync skips the fsync of each output: faster, still never a partial output
	// under a final name after a crash of ptport, but not safe against power loss.
	NoSync bool
	// Select takes part of each input, renamed (see convert.Selection); the zero value
	// takes everything.
	Select convert.Selection

	// collisions counts, by the hash of an output path, the inputs of every shard
	// that would write it, when more than one would.
	collisions map[uint64]int
}

// The status of one input.
const (
	StatusOK      = "ok"      // converted, or checked and passed
	StatusSkipped = "skipped" // output up to date, or no reference to check against
	StatusFailed  = "failed"  // unreadable, unsafe or invalid input, or a mismatch
)

// Result is what Run did with one input; it is a line of the JSONL report.
type Result struct {
	Input   string  `json:"input"`
	Output  string  `json:"output,omitempty"`
	Status  string  `json:"status"`
	Error   string  `json:"error,omitempty"`
	Bytes   int64   `json:"bytes"` // the input's size
	Seconds float64 `json:"seconds"`
	Tensors int     `json:"tensors"`
	// MaxAbsErr is the check's largest absolute error (Check only).
	MaxAbsErr *float64 `json:"max_abs_err,omitempty"`
	// OutputError reports a failure to write the output (no space left, no
	// permission, something not a file in its place), as opposed to a failure of
	// the input.
	OutputError bool `json:"output_error,omitempty"`
	// Limit names the limit a failed input went past, when Options.Pickle can raise it
	// (pickle.LimitError.Limit).
	Limit string `json:"limit,omitempty"`
}

// Summary counts what Run did.
type Summary struct {
	Files, OK, Skipped, Failed int
	// Bytes is the size of the inputs converted or checked (not skipped).
	Bytes   int64
	Seconds float64
	// Interrupted reports that the context was cancelled before every input was done.
	Interrupted bool
	// TempsRemoved counts the temporaries of interrupted earlier runs that were removed.
	TempsRemoved int
	// OutputErrors counts the inputs failed because their output could not be written.
	OutputErrors int
}

// Plan is the work a batch will do, counted before it starts.
type Plan struct {
	Files int
	Bytes int64
}

// batchInput is one input file found by the walk.
type batchInput struct {
	path string
	rel  string // path relative to its root, slash-separated, with the root's name first when there are several inputs
	size int64
	mod  time.Time
}

func (o *Options) validate() error {
	if len(o.Inputs) == 0 {
		return errors.New("batch: no inputs")
	}
	if o.OutDir == "" && !o.Check {
		return errors.New("batch: no output folder")
	}
	if o.Jobs < 0 {
		return fmt.Errorf("batch: %d workers: want 0 (the number of CPUs) or more", o.Jobs)
	}
	if o.Shards < 0 || (o.Shards > 0 && (o.Shard < 0 || o.Shard >= o.Shards)) {
		return fmt.Errorf("batch: shard %d/%d: want K/N with 0 <= K < N", o.Shard, o.Shards)
	}
	for _, p := range o.Include {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("batch: include pattern %q: %w", p, err)
		}
	}
	if !o.Check {
		if _, err := convert.FormatOf(string(o.To)); err != nil {
			return err
		}
	}
	return nil
}

// NewPlan counts the inputs opts selects, without reading them.
func NewPlan(opts Options) (Plan, error) {
	var p Plan
	if err := opts.validate(); err != nil {
		return p, err
	}
	err := walkInputs(context.Background(), &opts, func(in batchInput) error {
		p.Files++
		p.Bytes += in.size
		return nil
	})
	return p, err
}

// Run converts (or, with Check, checks) every input opts selects, jobs at a time, and
// calls report once per input from a single goroutine, in the order inputs finish. One
// failed input never stops the batch. Inputs whose outputs would have one name (m.pt and
// m.pth of a folder, a/m.pt and b/m.pt given as files) are found before any is
// converted, among the inputs of every shard, and each of them fails: no output is
// written over another's. Each output is written atomically; temporaries
// left in OutDir by an interrupted earlier run of the same shard are removed first. When
// ctx is cancelled, work in progress is abandoned (its temporaries removed) and Run
// returns what finished. The error is non-nil only for unusable options or folders.
func Run(ctx context.Context, opts Options, report func(Result)) (Summary, error) {
	start := time.Now()
	var sum Summary
	if err := opts.validate(); err != nil {
		return sum, err
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	if !opts.Check {
		var err error
		if opts.collisions, err = collisions(ctx, &opts); err != nil {
			return sum, err
		}
		if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
			return sum, err
		}
		n, err := removeTemps(opts.OutDir, opts.tempTag())
		sum.TempsRemoved = n
		if err != nil {
			return sum, err
		}
	}
	inputs := make(chan batchInput, opts.Jobs)
	results := make(chan outcome, opts.Jobs)
	var walkErr error
	go func() {
		defer close(inputs)
		walkErr = walkInputs(ctx, &opts, func(in batchInput) error {
			select {
			case inputs <- in:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var wg sync.WaitGroup
	for range opts.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A worker commits each output (fsync and rename) in the background
			// while it converts its next input, so that the processor does not
			// idle while the disk writes; one commit at a time is in flight.
			var committing chan outcome
			for in := range inputs {
				o, t := opts.process(ctx, in)
				if t == nil {
					results <- o
					continue
				}
				if committing != nil {
					results <- <-committing
				}
				committing = make(chan outcome, 1)
				go func() { committing <- commit(ctx, o, t) }()
			}
			if committing != nil {
				results <- <-committing
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	for o := range results {
		if o.abandoned {
			continue // stopped by ctx: neither done nor failed
		}
		r := o.Result
		sum.Files++
		switch r.Status {
		case StatusOK:
			sum.OK++
			sum.Bytes += r.Bytes
		case StatusSkipped:
			sum.Skipped++
		case StatusFailed:
			sum.Failed++
			sum.Bytes += r.Bytes
			if r.OutputError {
				sum.OutputErrors++
			}
		}
		if report != nil {
			report(r)
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	sum.Interrupted = ctx.Err() != nil
	if walkErr != nil && !errors.Is(walkErr, ctx.Err()) {
		return sum, walkErr
	}
	return sum, nil
}

// tempTag names the temporaries of this shard, so that runs of other shards writing
// into the same folder keep theirs.
func (o *Options) tempTag() string {
	if o.Shards > 0 {
		return fmt.Sprintf("s%dof%d-", o.Shard, o.Shards)
	}
	return "s-"
}

// removeTemps removes the temporaries below dir that are this shard's (by their tag:
// a run of a shard is the only one writing its temporaries) or stale (their writer, of
// this machine, has ended).
func removeTemps(dir, tag string) (int, error) {
	n := 0
	err := atomicfile.Leftovers(dir, true, func(l atomicfile.Leftover) error {
		if l.Stale || strings.HasPrefix(filepath.Base(l.Path), atomicfile.Prefix+tag) && !l.Live {
			if err := os.Remove(l.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// A Leftover is a temporary file of ptport found by Clean.
type Leftover struct {
	Path string
	Size int64
	// Removed is false for a temporary that a running process of this machine writes,
	// which Clean leaves alone.
	Removed bool
}

// Clean removes every temporary file of ptport below the folders dirs, whatever run,
// shard layout or machine left it, except those a running process of this machine is
// writing, and calls fn (when not nil) for each it finds. It is for when no run on
// another machine writes there: a batch run removes by itself only its own shard's
// temporaries and those of ended processes of its machine, since it cannot know whether
// a run on another machine still writes the others.
func Clean(ctx context.Context, dirs []string, fn func(Leftover)) error {
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a folder", dir)
		}
		err = atomicfile.Leftovers(dir, true, func(l atomicfile.Leftover) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			left := Leftover{Path: l.Path, Size: l.Size}
			if !l.Live {
				if err := os.Remove(l.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				left.Removed = true
			}
			if fn != nil {
				fn(left)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// collisions walks the inputs of every shard and counts, by the hash of an output path,
// those that would write it, keeping the paths more than one input would write. It
// takes some 40 bytes an input.
func collisions(ctx context.Context, opts *Options) (map[uint64]int, error) {
	all := *opts
	all.Shards = 0
	count := map[uint64]int{}
	err := walkInputs(ctx, &all, func(in batchInput) error {
		count[outputHash(opts.outputOf(in))]++
		return nil
	})
	for h, n := range count {
		if n < 2 {
			delete(count, h)
		}
	}
	return count, err
}

func outputHash(path string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(filepath.Clean(path)))
	return h.Sum64()
}

// outputOf is the output path of an input.
func (o *Options) outputOf(in batchInput) string {
	rel := filepath.FromSlash(in.rel)
	return filepath.Join(o.OutDir, strings.TrimSuffix(rel, filepath.Ext(rel))+o.To.Ext())
}

// walkInputs calls fn for every input file opts selects, reading folders a chunk of
// entries at a time, so that a folder of any size needs bounded memory.
func walkInputs(ctx context.Context, opts *Options, fn func(batchInput) error) error {
	include := opts.Include
	if include == nil {
		include = DefaultInclude
	}
	outAbs, _ := filepath.Abs(opts.OutDir)
	take := func(in batchInput) error {
		if opts.Shards > 0 && shardOf(in.rel, opts.Shards) != opts.Shard {
			return nil
		}
		return fn(in)
	}
	for _, root := range opts.Inputs {
		fi, err := os.Stat(root)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			if err := take(batchInput{path: root, rel: filepath.Base(root), size: fi.Size(), mod: fi.ModTime()}); err != nil {
				return err
			}
			continue
		}
		base := ""
		if len(opts.Inputs) > 1 {
			base = filepath.Base(filepath.Clean(root)) + "/"
		}
		var walk func(dir, rel string) error
		walk = func(dir, rel string) error {
			if abs, _ := filepath.Abs(dir); opts.OutDir != "" && abs == outAbs {
				return nil // never convert our own outputs
			}
			f, err := os.Open(dir)
			if err != nil {
				return err
			}
			defer f.Close()
			for {
				if err := ctx.Err(); err != nil {
					return err
				}
				entries, err := f.ReadDir(256)
				for _, e := range entries {
					name := e.Name()
					path := filepath.Join(dir, name)
					if e.IsDir() {
						if err := walk(path, rel+name+"/"); err != nil {
							return err
						}
						continue
					}
					if atomicfile.IsTemp(name) || !matchAny(include, name) || (opts.Check && isReference(name)) {
						continue
					}
					fi, err := os.Stat(path) // follows a link to a file
					if err != nil || !fi.Mode().IsRegular() {
						continue
					}
					if err := take(batchInput{path: path, rel: rel + name, size: fi.Size(), mod: fi.ModTime()}); err != nil {
						return err
					}
				}
				if err == io.EOF || len(entries) == 0 {
					return nil
				}
				if err != nil {
					return err
				}
			}
		}
		if err := walk(root, base); err != nil {
			return err
		}
	}
	return nil
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// shardOf is the shard of an input path: FNV-1a of its slash-separated relative path.
func shardOf(rel string, shards int) int {
	h := fnv.New64a()
	h.Write([]byte(filepath.ToSlash(rel)))
	return int(h.Sum64() % uint64(shards))
}

// referenceSuffix marks the reference file of NAME.pt: NAME.ref.pt.
const referenceSuffix = ".ref"

func isReference(name string) bool {
	return strings.HasSuffix(strings.TrimSuffix(name, filepath.Ext(name)), referenceSuffix)
}

// outcome is what a worker did with one input.
type outcome struct {
	Result
	abandoned bool // stopped because ctx was done
}

// process converts or checks one input, never panicking. A converted input's output is
// left in its temporary, returned for commit.
func (o *Options) process(ctx context.Context, in batchInput) (res outcome, t *atomicfile.Temp) {
	start := time.Now()
	r := &res.Result
	*r = Result{Input: in.path, Bytes: in.size}
	defer func() {
		if p := recover(); p != nil {
			r.Status, r.Error = StatusFailed, fmt.Sprintf("internal error: %v", p)
			res.abandoned = false
			if t != nil {
				t.Discard()
				t = nil
			}
		}
		r.Seconds = time.Since(start).Seconds()
	}()
	var err error
	if o.Check {
		err = o.check(ctx, in, r)
	} else {
		t, err = o.convert(ctx, in, r)
	}
	if err != nil {
		r.Status, r.Error = StatusFailed, withoutName(err.Error(), in.path)
		res.abandoned = ctx.Err() != nil && errors.Is(err, ctx.Err())
		r.OutputError = isOutputError(err)
		var le *pickle.LimitError
		if errors.As(err, &le) {
			r.Limit = le.Limit
		}
	}
	return res, t
}

// isOutputError reports whether err is about writing the output, not reading the input.
func isOutputError(err error) bool {
	var oe *atomicfile.OutputError
	var nre *atomicfile.NotRegularError
	return errors.As(err, &oe) || errors.As(err, &nre)
}

// withoutName removes the input's name from the start of an error about it: the report
// has the name already.
func withoutName(msg, name string) string {
	if rest, ok := strings.CutPrefix(msg, name+": "); ok {
		return rest
	}
	return msg
}

// commit puts a converted input's output in place, or removes it when ctx is done.
func commit(ctx context.Context, c outcome, t *atomicfile.Temp) outcome {
	start := time.Now()
	if ctx.Err() != nil {
		t.Discard()
		c.abandoned = true
		return c
	}
	if err := t.Commit(); err != nil {
		c.Status, c.Error, c.OutputError = StatusFailed, err.Error(), true
	} else {
		c.Status = StatusOK
	}
	c.Seconds += time.Since(start).Seconds()
	return c
}

func (o *Options) check(ctx context.Context, in batchInput, r *Result) error {
	ext := filepath.Ext(in.path)
	refPath := strings.TrimSuffix(in.path, ext) + referenceSuffix + ext
	if _, err := os.Stat(refPath); err != nil {
		r.Status, r.Error = StatusSkipped, "no reference file "+filepath.Base(refPath)
		return nil
	}
	cp, err := convert.Open(in.path, o.Pickle)
	if err != nil {
		return err
	}
	defer cp.Close()
	r.Tensors = leaf.CountTensors(cp.Leaves)
	ref, err := convert.Open(refPath, o.Pickle)
	if err != nil {
		return err
	}
	defer ref.Close()
	rep, err := parity.Check(ctx, cp, ref, parity.Options{Load: o.Model, Tolerance: o.Tolerance})
	if err != nil {
		return err
	}
	r.MaxAbsErr = &rep.MaxAbsErr
	if !rep.Pass {
		return fmt.Errorf("mismatch against %s: %s", filepath.Base(refPath), rep.Verdict())
	}
	r.Status = StatusOK
	return nil
}

// convert writes in's output to a temporary and returns it, or returns nil when the
// output is up to date.
func (o *Options) convert(ctx context.Context, in batchInput, r *Result) (*atomicfile.Temp, error) {
	r.Output = o.outputOf(in)
	if n := o.collisions[outputHash(r.Output)]; n > 1 {
		return nil, fmt.Errorf("%d inputs would write the output %s (the same name with another extension, or in another input folder); none of them is converted", n, r.Output)
	}
	if !o.Force {
		if src, err := readSource(r.Output, o.To); err == nil && src.matches(in) {
			r.Status = StatusSkipped
			return nil, nil
		}
	}
	src, err := sourceOf(in)
	if err != nil {
		return nil, err
	}
	cp, err := convert.Open(in.path, o.Pickle)
	if err != nil {
		return nil, err
	}
	defer cp.Close()
	if !o.Select.IsZero() {
		sel, err := cp.Select(o.Select)
		if err != nil {
			return nil, err
		}
		defer sel.Close()
		cp = sel
	}
	r.Tensors = leaf.CountTensors(cp.Leaves)
	if err := os.MkdirAll(filepath.Dir(r.Output), 0o755); err != nil {
		return nil, &atomicfile.OutputError{Path: r.Output, Err: err}
	}
	meta, err := src.metadata()
	if err != nil {
		return nil, err
	}
	w := atomicfile.Options{Tag: o.tempTag(), NoSync: o.NoSync, Ctx: ctx}
	return atomicfile.Write(r.Output, w, func(w io.Writer) error {
		return export.Write(w, string(o.To), r.Output, cp.Root, cp.Leaves, meta)
	})
}
