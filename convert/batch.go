package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/ptport/ptport/pickle"
)

// DefaultInclude are the base-name patterns of the files Batch takes from folders.
var DefaultInclude = []string{"*.pt", "*.pth", "*.bin", "*.ckpt"}

// BatchOptions configure Batch.
type BatchOptions struct {
	// Inputs are files and folders; folders are walked recursively (symbolic links to
	// folders are not followed).
	Inputs []string
	// OutDir receives the outputs, mirroring the input tree: a folder's files under
	// their path below it (below its base name when there are several inputs), a
	// file's under its base name; the extension becomes the format's.
	OutDir string
	// To is the output format.
	To Format
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
	// Model and Tolerance are the check's settings.
	Model     Options
	Tolerance Tolerance
	// Pickle are the reader's options; nil means the defaults.
	Pickle *pickle.Options
	// NoSync skips the fsync of each output: faster, still never a partial output
	// under a final name after a crash of ptport, but not safe against power loss.
	NoSync bool
}

// The status of one input.
const (
	StatusOK      = "ok"      // converted, or checked and passed
	StatusSkipped = "skipped" // output up to date, or no reference to check against
	StatusFailed  = "failed"  // unreadable, unsafe or invalid input, or a mismatch
)

// FileResult is what Batch did with one input; it is a line of the JSONL report.
type FileResult struct {
	Input   string  `json:"input"`
	Output  string  `json:"output,omitempty"`
	Status  string  `json:"status"`
	Error   string  `json:"error,omitempty"`
	Bytes   int64   `json:"bytes"` // the input's size
	Seconds float64 `json:"seconds"`
	Tensors int     `json:"tensors"`
	// MaxAbsErr is the check's largest absolute error (Check only).
	MaxAbsErr *float64 `json:"max_abs_err,omitempty"`
}

// BatchSummary counts what a batch did.
type BatchSummary struct {
	Files, OK, Skipped, Failed int
	// Bytes is the size of the inputs converted or checked (not skipped).
	Bytes   int64
	Seconds float64
	// Interrupted reports that the context was cancelled before every input was done.
	Interrupted bool
	// TempsRemoved counts the temporaries of interrupted earlier runs that were removed.
	TempsRemoved int
}

// BatchPlan is the work a batch will do, counted before it starts.
type BatchPlan struct {
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

func (o *BatchOptions) validate() error {
	if len(o.Inputs) == 0 {
		return errors.New("batch: no inputs")
	}
	if o.OutDir == "" && !o.Check {
		return errors.New("batch: no output folder")
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
		if _, err := FormatOf(string(o.To)); err != nil {
			return err
		}
	}
	return nil
}

// PlanBatch counts the inputs opts selects, without reading them.
func PlanBatch(opts BatchOptions) (BatchPlan, error) {
	var p BatchPlan
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

// Batch converts (or, with Check, checks) every input opts selects, jobs at a time, and
// calls report once per input from a single goroutine, in the order inputs finish. One
// failed input never stops the batch. Each output is written atomically; temporaries
// left in OutDir by an interrupted earlier run of the same shard are removed first. When
// ctx is cancelled, work in progress is abandoned (its temporaries removed) and Batch
// returns what finished. The error is non-nil only for unusable options or folders.
func Batch(ctx context.Context, opts BatchOptions, report func(FileResult)) (BatchSummary, error) {
	start := time.Now()
	var sum BatchSummary
	if err := opts.validate(); err != nil {
		return sum, err
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	if !opts.Check {
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
		r := o.FileResult
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
func (o *BatchOptions) tempTag() string {
	if o.Shards > 0 {
		return fmt.Sprintf("s%dof%d-", o.Shard, o.Shards)
	}
	return "s-"
}

// removeTemps removes the temporaries with the tag below dir.
func removeTemps(dir, tag string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix+tag) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// walkInputs calls fn for every input file opts selects, reading folders a chunk of
// entries at a time, so that a folder of any size needs bounded memory.
func walkInputs(ctx context.Context, opts *BatchOptions, fn func(batchInput) error) error {
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
					if IsTemp(name) || !matchAny(include, name) || (opts.Check && isReference(name)) {
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
	FileResult
	abandoned bool // stopped because ctx was done
}

// process converts or checks one input, never panicking. A converted input's output is
// left in its temporary, returned for commit.
func (o *BatchOptions) process(ctx context.Context, in batchInput) (res outcome, t *tempOutput) {
	start := time.Now()
	r := &res.FileResult
	*r = FileResult{Input: in.path, Bytes: in.size}
	defer func() {
		if p := recover(); p != nil {
			r.Status, r.Error = StatusFailed, fmt.Sprintf("internal error: %v", p)
			res.abandoned = false
			if t != nil {
				t.discard()
				t = nil
			}
		}
		r.Seconds = time.Since(start).Seconds()
	}()
	var err error
	if o.Check {
		err = o.check(in, r)
	} else {
		t, err = o.convert(ctx, in, r)
	}
	if err != nil {
		r.Status, r.Error = StatusFailed, err.Error()
		res.abandoned = ctx.Err() != nil && errors.Is(err, ctx.Err())
	}
	return res, t
}

// commit puts a converted input's output in place, or removes it when ctx is done.
func commit(ctx context.Context, c outcome, t *tempOutput) outcome {
	start := time.Now()
	if ctx.Err() != nil {
		t.discard()
		c.abandoned = true
		return c
	}
	if err := t.commit(); err != nil {
		c.Status, c.Error = StatusFailed, err.Error()
	} else {
		c.Status = StatusOK
	}
	c.Seconds += time.Since(start).Seconds()
	return c
}

func (o *BatchOptions) check(in batchInput, r *FileResult) error {
	ext := filepath.Ext(in.path)
	refPath := strings.TrimSuffix(in.path, ext) + referenceSuffix + ext
	if _, err := os.Stat(refPath); err != nil {
		r.Status, r.Error = StatusSkipped, "no reference file "+filepath.Base(refPath)
		return nil
	}
	cp, err := Open(in.path, o.Pickle)
	if err != nil {
		return err
	}
	defer cp.Close()
	r.Tensors = countTensors(cp.Leaves)
	m, err := Load(cp, o.Model)
	if err != nil {
		return err
	}
	ref, err := Open(refPath, o.Pickle)
	if err != nil {
		return err
	}
	defer ref.Close()
	tol := o.Tolerance
	if tol == (Tolerance{}) {
		tol = DefaultTolerance
	}
	rep, err := Check(m, ref, tol)
	if err != nil {
		return err
	}
	r.MaxAbsErr = &rep.MaxAbsErr
	if !rep.Pass {
		return fmt.Errorf("mismatch against %s: max abs err %.3g, max rel err %.3g (atol %g, rtol %g)",
			filepath.Base(refPath), rep.MaxAbsErr, rep.MaxRelErr, tol.Atol, tol.Rtol)
	}
	r.Status = StatusOK
	return nil
}

// convert writes in's output to a temporary and returns it, or returns nil when the
// output is up to date.
func (o *BatchOptions) convert(ctx context.Context, in batchInput, r *FileResult) (*tempOutput, error) {
	rel := filepath.FromSlash(in.rel)
	r.Output = filepath.Join(o.OutDir, strings.TrimSuffix(rel, filepath.Ext(rel))+o.To.Ext())
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
	cp, err := Open(in.path, o.Pickle)
	if err != nil {
		return nil, err
	}
	defer cp.Close()
	r.Tensors = countTensors(cp.Leaves)
	if err := os.MkdirAll(filepath.Dir(r.Output), 0o755); err != nil {
		return nil, err
	}
	w := writeOptions{source: src, tempTag: o.tempTag(), noSync: o.NoSync, ctx: ctx}
	return exportTemp(r.Output, o.To, cp, w)
}

// Source identifies the input an output was made from; outputs of Batch record it, so
// that a rerun skips inputs whose output is up to date.
type Source struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
}

func sourceOf(in batchInput) (*Source, error) {
	f, err := os.Open(in.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return &Source{Size: in.size, ModTime: in.mod.UnixNano(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// matches reports whether s describes in's current content: same size and modification
// time, or same size and, when the time differs (a copy, a touch), the same hash.
func (s *Source) matches(in batchInput) bool {
	if s.Size != in.size {
		return false
	}
	if s.ModTime == in.mod.UnixNano() {
		return true
	}
	cur, err := sourceOf(in)
	return err == nil && cur.SHA256 == s.SHA256
}
