package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/atomicfile"
	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/internal/export"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/pickle"
)

// DefaultInclude are the base-name patterns of the files Run takes from folders; they
// take the index of a sharded checkpoint that they would take whole, such as
// pytorch_model.bin.index.json (see Options.Inputs).
var DefaultInclude = []string{"*.pt", "*.pth", "*.bin", "*.ckpt"}

// Options configure Run.
type Options struct {
	// Inputs are files and folders; folders are walked recursively (symbolic links to
	// folders are not followed: one that Include takes fails, as a link to nothing
	// does, and anything else not a regular file).
	//
	// A sharded checkpoint (an index, NAME.index.json, and the shards it names beside
	// it) is one input, named by its index: its output is named for the checkpoint
	// NAME stands for (pytorch_model.bin.index.json gives pytorch_model.safetensors),
	// and its shards are reported with it (Result.Shards), never as inputs of their own:
	// every file an index names is one of its shards, whatever its name
	// (model-00001-of-00001.safetensors, or any name a hand-written index gives).
	// It is taken from a folder when Include takes the index's name, NAME or a shard's
	// name; a file named as an input that is one of its shards takes it, once however
	// many of its files are named. A file named like a shard
	// (STEM-0000K-of-0000N.EXT) without its index beside it, or one that its index does
	// not name, holds part of a model: it is an input that fails.
	//
	// A file named twice, in Inputs or List, by one path or two (os.SameFile), is one
	// input, taken where it is first named; so is a folder given twice in Inputs.
	Inputs []string
	// List, when not nil, lists more inputs, files and folders taken as Inputs are: a
	// path a line (a line ended by CR LF loses its CR, so that a list written on
	// Windows reads as it was meant), or, with ListNUL, each path ended by a NUL byte
	// (as find -print0 writes them); empty lines are skipped, paths are otherwise taken
	// byte for byte, relative ones from the working directory. Each pass over the
	// inputs (NewPlan, and Run's two or three: collisions, their inputs when there are
	// some, then conversion) reads List from its start a line at a time, so that a
	// list of any length is never held in memory; nothing else may read it meanwhile.
	// A listed path that does not exist is an input that fails. The outputs of listed
	// inputs keep their path below OutDir (an absolute path without its leading
	// separator, one outside the working directory from the root), so that the files
	// of a list never share an output name for being in different folders.
	List    io.ReadSeeker
	ListNUL bool
	// OutDir receives the outputs, mirroring the input tree: a folder's files under
	// their path below it (below its base name when there are several inputs), a
	// file's under its base name, a listed input's under its path; the extension
	// becomes the format's. It may be a folder of the inputs, or hold some: the files
	// below it that record a source (see the package doc), of any format, are outputs,
	// never inputs (one named in Inputs or List is skipped, saying so), and an output
	// that would be an input file itself fails its input. A file at an output path that records no source, which ptport did not
	// write, is never replaced, Force or not: its input fails with a *ReplaceError.
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
	// It replaces only an output of the same input, as a conversion without it does,
	// or ptport's output of an input of the same path relative to its root at another
	// place (ReplaceError.Elsewhere: the tree seen from another mount point, whose
	// paths from the output differ, which Force asserts; the output then records this
	// place): never a file that records no source or an input of another name (a
	// *ReplaceError).
	Force bool
	// Check runs the parity check of each input NAME.pt against its sibling NAME.ref.pt
	// instead of converting; inputs without one are skipped.
	Check bool
	// Model, Tolerance and Ignore are the check's settings (parity.Options.Load,
	// Tolerance and Ignore), the same for every input.
	Model     convert.Options
	Tolerance func(got, want pickle.DType) parity.Tolerance
	Ignore    []string
	// Pickle are the reader's options; nil means the defaults.
	Pickle *pickle.Options
	// NoSync skips the fsync of each output: faster, still never a partial output
	// under a final name after a crash of ptport, but not safe against power loss.
	NoSync bool
	// Select takes part of each input, renamed (see convert.Selection); the zero value
	// takes everything.
	Select convert.Selection
	// MaxShardSize, when positive, splits each safetensors output whose tensors take
	// more than that many bytes into shards and an index, as convert.ExportFiles does;
	// its source is recorded in the index's metadata ("ptport.source"). Its files are
	// each written atomically, the index last, and are not written in the background.
	MaxShardSize int64
	// Progress, when not nil, is called by the workers as they write outputs, with
	// bytes of the input being converted to count as done: its bytes in the proportion
	// of its output written (estimated, never more than its bytes). Before report
	// receives an input's Result, Progress takes back what it gave for that input (a
	// negative count), so that a caller that also adds each Result's Bytes counts every
	// input once. It must be safe for concurrent use.
	Progress func(bytes int64)

	// collisions counts, by the hash of an output path, the inputs of every shard
	// that would write it, when more than one would.
	collisions map[uint64]*collision
	// outputsOf holds, by path, the inputs that are ptport's output of another input of
	// the run beside them (see collisions), each with that input's path.
	outputsOf map[string]string
}

// The status of one input.
const (
	StatusOK      = "ok"      // converted, or checked and passed
	StatusSkipped = "skipped" // output up to date, or no reference to check against
	StatusFailed  = "failed"  // unreadable, unsafe or invalid input, or a mismatch
)

// Result is what Run did with one input; it is a line of the JSONL report.
type Result struct {
	Input string `json:"input"`
	// Shards are the shard files of a sharded input, read with its index (Input).
	Shards []string `json:"shards,omitempty"`
	// Output is the output file, or, for an output written in shards, its index.
	Output  string  `json:"output,omitempty"`
	Status  string  `json:"status"`
	Error   string  `json:"error,omitempty"`
	Bytes   int64   `json:"bytes"` // the input's size (of all its files)
	Seconds float64 `json:"seconds"`
	Tensors int     `json:"tensors"`
	// Widened are the tensors the output holds in a wider dtype than theirs, because
	// its format lacks theirs (an npz's BF16 tensors, as float32; see convert.Widened),
	// and which ptport reads back as theirs; only of an output written.
	Widened []string `json:"widened,omitempty"`
	// MaxAbsErr is the check's largest absolute error (Check only).
	MaxAbsErr *float64 `json:"max_abs_err,omitempty"`
	// Diagnosis lists the usual porting mistakes that explain a failed check (Check
	// only; see parity.Report.Diagnosis).
	Diagnosis []parity.Mistake `json:"diagnosis,omitempty"`
	// Report is the check's whole report, when it ran (Check only); it is not a part of
	// the JSONL report.
	Report *parity.Report `json:"-"`
	// Err is the error that Error is the text of (less the input's name at its start),
	// for a caller that formats errors by their type; it is not a part of the JSONL
	// report.
	Err error `json:"-"`
	// OutputError reports a failure to write the output (no space left, no
	// permission, something not a file in its place), as opposed to a failure of
	// the input.
	OutputError bool `json:"output_error,omitempty"`
	// Limit names the limit a failed input went past, when Options.Pickle can raise it
	// (pickle.LimitError.Limit).
	Limit string `json:"limit,omitempty"`
	// Elsewhere is ptport's output of the same input at the path that the other layout
	// of OutDir gives it (an input folder converted alone writes m.safetensors, beside
	// other folders a/m.safetensors), found when the input is converted: the output of
	// an earlier run, which a run leaves as it is.
	Elsewhere string `json:"elsewhere,omitempty"`
}

// Summary counts what Run did.
type Summary struct {
	Files, OK, Skipped, Failed int
	// Bytes is the size of the inputs converted, or with Check checked (passed or
	// not), not of those skipped or failed otherwise.
	Bytes   int64
	Seconds float64
	// Interrupted reports that the context was cancelled before every input was done.
	Interrupted bool
	// TempsRemoved counts the temporaries of interrupted earlier runs that were removed.
	TempsRemoved int
	// OutputErrors counts the inputs failed because their output could not be written.
	OutputErrors int
	// Widened counts the tensors of the outputs written that those outputs hold in a
	// wider dtype than theirs (Result.Widened), and WidenedOutputs those outputs.
	Widened, WidenedOutputs int
	// PassedOver counts the files of the walked folders that the include patterns
	// take but that are ptport's outputs in OutDir, never inputs, so that no Result
	// reports them; Orphans counts those of them whose recorded input is neither beside
	// them nor, at the place recorded, an input of the run (of any shard): gone, or in
	// another tree, so that a run into another output folder converts them. An output
	// of an input of the run (zoo/pt/m.pt of zoo/m.pth, in a run over zoo) is not one.
	PassedOver, Orphans int
}

// Plan is the work a batch will do, counted before it starts.
type Plan struct {
	Files int
	Bytes int64
}

// inputFile is a file an input is read from.
type inputFile struct {
	path string
	size int64
	mod  time.Time
}

// batchInput is one input found by the walk: a checkpoint file, or a sharded
// checkpoint's index and its shards.
type batchInput struct {
	inputFile
	// rel is the input's path relative to its root, slash-separated, with the root's
	// name first when there are several inputs; for an input of the list, its path.
	rel string
	// alt is, for an input of a folder given in Inputs, its rel in the other layout:
	// with the folder's name first when rel has not, and without it when rel has.
	alt    string
	shards []inputFile // a sharded checkpoint's shards, beside its index
	err    error       // why the input fails, found by the walk
	// own is set for a file named as an input (an argument, or a line of the list)
	// that is ptport's output (see walker.ownOutput), which is skipped: the source it
	// records.
	own *source
}

// bytes is the size of the input's files.
func (in *batchInput) bytes() int64 {
	n := in.size
	for _, s := range in.shards {
		n += s.size
	}
	return n
}

func (o *Options) validate() error {
	if len(o.Inputs) == 0 && o.List == nil {
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
	switch {
	case o.MaxShardSize < 0:
		return fmt.Errorf("batch: shards of at most %d bytes: want a positive size", o.MaxShardSize)
	case o.MaxShardSize > 0 && o.Check:
		return errors.New("batch: a check writes no outputs to split into shards")
	case len(o.Ignore) > 0 && !o.Check:
		return errors.New("batch: entries to ignore are a check's: a conversion has no reference")
	case o.MaxShardSize > 0 && o.To != convert.Safetensors:
		return fmt.Errorf("batch: shards are written as safetensors only, not %s", o.To)
	}
	if err := o.Select.Validate(); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if n := o.Model.Nonlinearity; o.Check && n != "" && n != "tanh" && n != "relu" {
		return fmt.Errorf("batch: nonlinearity %q: want tanh or relu", n)
	}
	return nil
}

// NewPlan counts the inputs opts selects, without reading them.
func NewPlan(opts Options) (Plan, error) {
	var p Plan
	if err := opts.validate(); err != nil {
		return p, err
	}
	err := walkInputs(context.Background(), &opts, nil, nil, func(in batchInput) error {
		p.Files++
		p.Bytes += in.bytes()
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
		if opts.collisions, opts.outputsOf, err = collisions(ctx, &opts); err != nil {
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
	var walked Summary // what the walk passed over, its goroutine's
	walkDone := make(chan struct{})
	go func() {
		defer close(walkDone)
		var unbeside []passedOver
		func() {
			defer close(inputs)
			walkErr = walkInputs(ctx, &opts, &walked, &unbeside, func(in batchInput) error {
				select {
				case inputs <- in:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
		if walkErr == nil && len(unbeside) > 0 {
			var err error
			if walked.Orphans, err = orphans(ctx, &opts, unbeside); err != nil && !errors.Is(err, ctx.Err()) {
				walkErr = err
			}
		}
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
		if o.credited != 0 {
			opts.Progress(-o.credited)
		}
		if o.abandoned {
			continue // stopped by ctx: neither done nor failed
		}
		r := o.Result
		sum.Files++
		switch r.Status {
		case StatusOK:
			sum.OK++
			sum.Bytes += r.Bytes
			if len(r.Widened) > 0 {
				sum.Widened += len(r.Widened)
				sum.WidenedOutputs++
			}
		case StatusSkipped:
			sum.Skipped++
		case StatusFailed:
			sum.Failed++
			if r.Report != nil {
				sum.Bytes += r.Bytes // checked, and a mismatch
			}
			if r.OutputError {
				sum.OutputErrors++
			}
		}
		if report != nil {
			report(r)
		}
	}
	<-walkDone
	sum.PassedOver, sum.Orphans = walked.PassedOver, walked.Orphans
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

// collisions walks the inputs of every shard and finds, by the hash of an output path,
// those that would write it, keeping the outputs more than one input would write, each
// with the first maxNamedCollisions of its inputs (a second walk, only when there are
// any). An input that fails for what the walk found (a listed file that is gone, a
// link to nothing) writes no output and collides with none. Nor does an input that is
// ptport's output of another input of the same output beside it (zoo/m.pt, written by
// `--to pt` from zoo/m.pth, which records m.pth as its input, as names takes it):
// it is returned in the second map, with that input's path, and skipped, so that the
// pair is converted once. It takes some 40 bytes an input, and for the inputs of a
// collision their paths and the sources they record.
func collisions(ctx context.Context, opts *Options) (map[uint64]*collision, map[string]string, error) {
	all := *opts
	all.Shards = 0
	count := map[uint64]int{}
	err := walkInputs(ctx, &all, nil, nil, func(in batchInput) error {
		if in.err == nil && in.own == nil {
			count[outputHash(opts.outputOf(in))]++
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	found := map[uint64]*collision{}
	for h, n := range count {
		if n > 1 {
			found[h] = &collision{n: n}
		}
	}
	if len(found) == 0 {
		return nil, nil, nil
	}
	count = nil
	members := map[uint64][]member{}
	err = walkInputs(ctx, &all, nil, nil, func(in batchInput) error {
		h := outputHash(opts.outputOf(in))
		if c := found[h]; in.err == nil && in.own == nil && c != nil {
			m := member{path: in.path, rel: in.rel}
			if src, err := recordedSource(ctx, in.path); err == nil && src.Input != "" {
				m.src = src
			}
			members[h] = append(members[h], m)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	outputsOf := map[string]string{}
	for h, ms := range members {
		c := found[h]
		for _, m := range ms {
			if of := m.outputOf(ms); of != "" {
				outputsOf[m.path] = of
				c.n--
			} else if len(c.inputs) < maxNamedCollisions {
				c.inputs = append(c.inputs, m.path)
			}
		}
		if c.n < 2 {
			delete(found, h)
		}
	}
	return found, outputsOf, nil
}

// A member is an input of a collision.
type member struct {
	path, rel string
	src       *source // the source it records, when it is ptport's output of a named input
}

// outputOf returns the path of the input among ms, beside m, whose output m is by the
// source it records, or "".
func (m *member) outputOf(ms []member) string {
	if m.src == nil {
		return ""
	}
	for _, o := range ms {
		if o.path != m.path && filepath.Dir(o.path) == filepath.Dir(m.path) && m.src.names(o.path, o.rel, m.path) {
			return o.path
		}
	}
	return ""
}

// A collision is an output that several inputs would write.
type collision struct {
	n      int      // the inputs
	inputs []string // the first of them
}

// maxNamedCollisions bounds the inputs an error about a collision names.
const maxNamedCollisions = 4

// error is the error of the input at path, one of c's, whose output is out.
func (c *collision) error(path, out string) error {
	var others []string
	for _, p := range c.inputs {
		if p != path && len(others) < maxNamedCollisions-1 {
			others = append(others, p)
		}
	}
	names := strings.Join(others, ", ")
	if more := c.n - 1 - len(others); more > 0 {
		names += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Errorf("%d inputs would write the output %s: this one and %s (the same name with another extension, or in another input folder); none of them is converted", c.n, out, names)
}

// overInput returns an error when the output at out, or for an output in shards one
// of its files, would be one of in's files, which a batch never writes over.
func (o *Options) overInput(in batchInput, out string) error {
	outs := []string{out}
	if o.MaxShardSize > 0 {
		outs = append(outs, out+export.IndexSuffix)
	}
	files := append([]inputFile{in.inputFile}, in.shards...)
	for _, f := range files {
		fi, err := os.Stat(f.path)
		if err != nil {
			continue
		}
		for _, p := range outs {
			if ofi, err := os.Stat(p); err == nil && os.SameFile(fi, ofi) {
				if f.path == in.path {
					return fmt.Errorf("its output %s would be the input itself: a batch never writes over an input", p)
				}
				return fmt.Errorf("its output %s would be its file %s: a batch never writes over an input", p, f.path)
			}
		}
		if se := convert.ShardOf(f.path); se != nil && o.MaxShardSize > 0 && samePath(se.Index, outs[1]) {
			return fmt.Errorf("its output in shards beside %s would write over the input file %s: a batch never writes over an input", outs[1], f.path)
		}
	}
	return nil
}

// A ReplaceError reports a file at an input's output path that a batch does not
// replace, since it is not an output of that input: a file that ptport did not write
// (it records no source: a file of the user's, or one that ptport convert wrote), or
// ptport's output of another input. The input fails and the file is left as it is.
type ReplaceError struct {
	Path string // the file
	// Recorded reports that the file records a source: it is ptport's output.
	Recorded bool
	// Of is the input the file records as its source, by its path relative to its
	// root; "" when it records none (an output of an older version).
	Of string
	// Elsewhere reports that Of is this input's path relative to its root, but the
	// file records an input at another place from it: this tree seen from another
	// mount point (the same storage mounted at another path, as a cluster's nodes or a
	// container may), or before it moved away from its outputs, or another tree
	// converted into the same output folder. Options.Force replaces such an output,
	// and only such a one of those a ReplaceError reports.
	Elsewhere bool
}

// replaceError is the *ReplaceError of the input in for the file, ptport's output of
// another input, recording src.
func replaceError(file string, src *source, in batchInput) *ReplaceError {
	return &ReplaceError{Path: file, Recorded: true, Of: src.Input, Elsewhere: src.sameName(in)}
}

func (e *ReplaceError) Error() string {
	switch {
	case !e.Recorded:
		return fmt.Sprintf("its output would replace %s, which ptport did not write (it records no source): a batch replaces only its own outputs (move or remove the file, or write to another output folder)", e.Path)
	case e.Of == "":
		return fmt.Sprintf("its output would replace %s, ptport's output of an input it does not name (written by an older version) and not up to date with this one: a batch replaces only an output of the same input (remove the file to convert this input there; an older version's output of an input still unchanged is rewritten, naming its input, by a forced conversion)", e.Path)
	case e.Elsewhere:
		return fmt.Sprintf("its output would replace %s, ptport's output of an input %s at another place from it: of this tree seen from another mount point (a cluster's node, a container), or before it moved, or of another tree of the same names converted there; a batch replaces only an output of the same input, and a forced conversion one of the same name (when this is the same tree; otherwise move or remove the file, or write to another output folder)", e.Path, e.Of)
	}
	return fmt.Sprintf("its output would replace %s, ptport's output of the input %s of its tree, not of this input: a batch replaces only an output of the same input (move or remove the file, or write to another output folder)", e.Path, e.Of)
}

// existing returns the source recorded by the file at the output path out (for an
// output in shards, by its index when there is no file at out), and the file it read;
// a nil source when there is no file, or something not a regular file, which the
// writer refuses to replace. A file that records no source is a *ReplaceError.
func (o *Options) existing(ctx context.Context, out string, in batchInput) (*source, string, error) {
	src, file, err := readSource(ctx, out, o.To, o.MaxShardSize > 0)
	if stop := ctxio.Stopped(ctx, file); stop != nil {
		return nil, file, stop
	}
	if o.MaxShardSize > 0 {
		if ferr := o.foreignShards(ctx, out, in); ferr != nil {
			return nil, file, ferr
		}
	}
	if err == nil {
		return src, file, nil
	}
	if fi, serr := os.Stat(file); serr != nil || !fi.Mode().IsRegular() {
		return nil, file, nil
	}
	return nil, file, &ReplaceError{Path: file}
}

// foreignShards returns a *ReplaceError for a file that writing the output out in
// shards would replace or remove and that is not ptport's of in: an index beside out
// that records no source, or a file named as a shard of out (STEM-0000K-of-0000N.EXT
// beside it) that no such index of ptport's names and that records no source of in (a
// shard of in's that a conversion stopped before its index left is replaced). It reads
// out's folder, as writing the shards does to remove those of an earlier layout.
func (o *Options) foreignShards(ctx context.Context, out string, in batchInput) error {
	index := out + export.IndexSuffix
	var named []string
	if _, err := os.Stat(index); err == nil {
		if _, err := recordedSource(ctx, index); err != nil {
			return foreign(err, index)
		}
		named, _ = convert.ShardFilesContext(ctx, index)
	}
	for _, f := range shardsBeside(out) {
		if slices.Contains(named, f) {
			continue
		}
		src, err := recordedSource(ctx, f)
		if err != nil {
			return foreign(err, f)
		}
		if ok, err := src.replaceable(ctx, in, f, o.Force); err != nil {
			return err
		} else if !ok {
			return replaceError(f, src, in)
		}
	}
	return nil
}

// foreign is the error of a file that records no source (errNoSource), a *ReplaceError,
// or err, when ctx stopped the reading of it.
func foreign(err error, file string) error {
	if errors.Is(err, errNoSource) {
		return &ReplaceError{Path: file}
	}
	return err
}

// shardsBeside returns the regular files beside out named as its shards.
func shardsBeside(out string) []string {
	ext := filepath.Ext(out)
	stem := filepath.Base(strings.TrimSuffix(out, ext))
	dir := filepath.Dir(out)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil // nothing there yet, or the writer's error to give
	}
	var files []string
	for _, e := range entries {
		m := export.ShardName.FindStringSubmatch(e.Name())
		if m != nil && m[1] == stem && m[5] == ext && e.Type().IsRegular() {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return files
}

// leftovers returns the files beside out named as its shards that no index beside it
// names and that record a source of in: shards of a conversion of in that stopped
// before its index was in place. It returns ctx's error when ctx stops the hashing of
// in.
func (o *Options) leftovers(ctx context.Context, out string, in batchInput) ([]string, error) {
	named, _ := convert.ShardFilesContext(ctx, out+export.IndexSuffix)
	var files []string
	for _, f := range shardsBeside(out) {
		if slices.Contains(named, f) {
			continue
		}
		src, err := recordedSource(ctx, f)
		if err != nil {
			if !errors.Is(err, errNoSource) {
				return nil, err
			}
			continue
		}
		if ok, err := src.replaceable(ctx, in, f, o.Force); err != nil {
			return nil, err
		} else if ok {
			files = append(files, f)
		}
	}
	return files, nil
}

// samePath reports whether a and b name one path, once made absolute and clean.
func samePath(a, b string) bool {
	a, err1 := filepath.Abs(a)
	b, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && a == b
}

func outputHash(path string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(filepath.Clean(path)))
	return h.Sum64()
}

// outputOf is the output path of an input: for a sharded checkpoint, of the
// checkpoint its index stands for.
func (o *Options) outputOf(in batchInput) string {
	rel := strings.TrimSuffix(filepath.FromSlash(in.rel), export.IndexSuffix)
	return filepath.Join(o.OutDir, stem(rel)+o.To.Ext())
}

// stem is name without its extension, or without both parts of a checkpoint's compound
// extension .pth.tar or .pt.tar (in any case): checkpoint.pth.tar becomes checkpoint.
func stem(name string) string {
	ext := filepath.Ext(name)
	s := strings.TrimSuffix(name, ext)
	if strings.EqualFold(ext, ".tar") {
		if e := filepath.Ext(s); strings.EqualFold(e, ".pth") || strings.EqualFold(e, ".pt") {
			s = strings.TrimSuffix(s, e)
		}
	}
	return s
}

// walkInputs calls fn for every input opts selects, in the order of Inputs then List,
// reading folders a chunk of entries at a time and List a line at a time, so that
// inputs of any number need bounded memory. When sum is not nil it counts in it the
// files passed over as outputs (Summary.PassedOver and Orphans) of the shard opts
// takes; when unbeside is not nil too, it appends to it, instead of counting them as
// Orphans, those whose input is not beside them (for orphans to look up).
func walkInputs(ctx context.Context, opts *Options, sum *Summary, unbeside *[]passedOver, fn func(batchInput) error) error {
	w := &walker{ctx: ctx, opts: opts, include: opts.Include, fn: fn, sum: sum, unbeside: unbeside}
	if w.include == nil {
		w.include = DefaultInclude
	}
	if opts.OutDir != "" {
		w.outAbs, _ = filepath.Abs(opts.OutDir)
	}
	var dirs []os.FileInfo // the folders given, each walked once
	for _, root := range opts.Inputs {
		fi, err := os.Stat(root)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if slices.ContainsFunc(dirs, func(d os.FileInfo) bool { return os.SameFile(d, fi) }) {
				continue
			}
			dirs = append(dirs, fi)
		}
		if !fi.IsDir() {
			if err := w.named(root, filepath.Base(root), fi); err != nil {
				return err
			}
			continue
		}
		base := ""
		if len(opts.Inputs) > 1 {
			base = filepath.Base(filepath.Clean(root)) + "/"
		}
		w.root, w.several = filepath.Base(filepath.Clean(root)), len(opts.Inputs) > 1
		err = w.walk(root, base)
		w.root = ""
		if err != nil {
			return err
		}
	}
	if opts.List == nil {
		return nil
	}
	return readList(opts.List, opts.ListNUL, func(path string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel := listRel(path)
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			// A listed file may be gone by the time it is read: it fails alone.
			return w.take(batchInput{inputFile: inputFile{path: path}, rel: rel, err: err})
		case fi.IsDir():
			if rel != "" {
				rel += "/"
			}
			return w.walk(path, rel)
		}
		return w.named(path, rel, fi)
	})
}

// walker finds the inputs: checkpoint files, and sharded checkpoints as one input each
// (their index, with its shards).
type walker struct {
	ctx     context.Context
	opts    *Options
	include []string
	outAbs  string
	fn      func(batchInput) error
	sum     *Summary // counts the outputs passed over, when not nil
	// unbeside, when not nil, receives the outputs passed over whose input is not
	// beside them, which orphans then looks for among the run's inputs.
	unbeside *[]passedOver
	// root is the base name of the folder of Inputs being walked, "" otherwise, and
	// several tells that there are other inputs (the names of its files start with it).
	root    string
	several bool
	// indexes caches the shards of the indexes read lately, by path.
	indexes map[string]indexShards
	// shardsIn caches, for the folders looked at lately, the index beside each file
	// that an index there names (see indexOf).
	shardsIn map[string]map[string]string
	// units are the indexes of the sharded checkpoints taken through a file named as
	// an input, so that each is taken once.
	units map[string]bool
	// files are the files named as inputs, by size and modification time, so that a
	// file named twice (by one path or two) is taken once.
	files map[fileKey][]os.FileInfo
}

// indexShards are the shards an index names, or why it cannot be read.
type indexShards struct {
	paths []string // sorted
	err   error
}

// maxCachedIndexes bounds walker.indexes; a folder rarely holds more than two.
const maxCachedIndexes = 64

// shardsOf returns the shards the index at path names.
func (w *walker) shardsOf(path string) indexShards {
	if s, ok := w.indexes[path]; ok {
		return s
	}
	if len(w.indexes) >= maxCachedIndexes || w.indexes == nil {
		w.indexes = map[string]indexShards{}
	}
	paths, err := convert.ShardFilesContext(w.ctx, path)
	s := indexShards{paths: paths, err: err}
	w.indexes[path] = s
	return s
}

// indexOf returns the index beside the file at path that names it as one of its
// shards, whatever the file's name (STEM-00001-of-00001.EXT, or any name a hand-written
// index gives), or "" when no index beside it does. Of several, it is the first by
// name. An index that cannot be read names no shard here (it is an input that fails).
func (w *walker) indexOf(path string) string {
	dir := filepath.Dir(path)
	m, ok := w.shardsIn[dir]
	if !ok {
		if len(w.shardsIn) >= maxCachedIndexes || w.shardsIn == nil {
			w.shardsIn = map[string]map[string]string{}
		}
		m = w.readShardsIn(dir)
		w.shardsIn[dir] = m
	}
	return m[filepath.Base(path)]
}

// readShardsIn returns, for each file that an index in the folder dir names, that
// index's path (the first by name). It reads the folder's names a chunk at a time,
// keeping those of indexes only.
func (w *walker) readShardsIn(dir string) map[string]string {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	var indexes []string
	for w.ctx.Err() == nil {
		names, err := f.Readdirnames(256)
		for _, n := range names {
			if convert.IsIndex(n) {
				indexes = append(indexes, n)
			}
		}
		if err != nil || len(names) == 0 {
			break
		}
	}
	f.Close()
	if len(indexes) == 0 {
		return nil
	}
	slices.Sort(indexes)
	m := map[string]string{}
	for _, n := range indexes {
		index := filepath.Join(dir, n)
		for _, p := range w.shardsOf(index).paths {
			if b := filepath.Base(p); m[b] == "" && b != n {
				m[b] = index
			}
		}
	}
	return m
}

// take passes in on when it is in the shard the options take.
func (w *walker) take(in batchInput) error {
	if w.opts.Shards > 0 && shardOf(in.rel, w.opts.Shards) != w.opts.Shard {
		return nil
	}
	if r := w.root; r != "" && r != "." && r != ".." && !strings.ContainsAny(r, `/\`) {
		if !w.several {
			in.alt = r + "/" + in.rel
		} else if rest, ok := strings.CutPrefix(in.rel, r+"/"); ok {
			in.alt = rest
		}
	}
	return w.fn(in)
}

// unit takes the sharded checkpoint whose index is at path, as one input named rel.
func (w *walker) unit(path, rel string, fi os.FileInfo) error {
	in := batchInput{inputFile: inputFile{path: path, size: fi.Size(), mod: fi.ModTime()}, rel: rel}
	s := w.shardsOf(path)
	for _, p := range s.paths {
		f := inputFile{path: p}
		if sfi, err := os.Stat(p); err == nil {
			f.size, f.mod = sfi.Size(), sfi.ModTime()
		}
		in.shards = append(in.shards, f)
	}
	return w.take(in)
}

// shardState tells what a file named like a shard is: part of the checkpoint of the
// index beside it (index is that index's path), or an input of its own that fails
// (err).
func (w *walker) shardState(se *convert.ShardError) (index string, err error) {
	if !se.IndexFound {
		return "", se
	}
	s := w.shardsOf(se.Index)
	name := filepath.Base(se.File)
	if s.err == nil && !slices.ContainsFunc(s.paths, func(p string) bool { return filepath.Base(p) == name }) {
		return "", fmt.Errorf("%s is named like shard %d of %d of a sharded checkpoint, but its index beside it, %s, does not name it: a shard of another save left in this folder? Move it out, or rename it if it is a whole checkpoint", se.File, se.Shard, se.Shards, filepath.Base(se.Index))
	}
	return se.Index, nil
}

// strayShard reports whether the file se, named as a shard of the index beside it
// that does not name it, is a stray of ptport's output in shards there: the index and
// the file record a source, of one input (a shard of a write of that output stopped
// before its index was in place, by a crash, which the next conversion of that input
// removes). A walk passes over it, as over the index's own shards.
func strayShard(ctx context.Context, se *convert.ShardError) bool {
	if !se.IndexFound {
		return false
	}
	idx, err := recordedSource(ctx, se.Index)
	if err != nil {
		return false
	}
	src, err := recordedSource(ctx, se.File)
	return err == nil && src.Input == idx.Input
}

// named takes a file named as an input (an argument, or a line of the list), whatever
// its name: a sharded checkpoint's index, or one of its shards, is its checkpoint,
// taken once however many of its files are named.
func (w *walker) named(path, rel string, fi os.FileInfo) error {
	index, err := "", error(nil)
	if convert.IsIndex(path) {
		index = path
	} else if index = w.indexOf(path); index == "" {
		if se := convert.ShardOf(path); se != nil {
			if index, err = w.shardState(se); err != nil {
				return w.take(batchInput{inputFile: inputFile{path: path, size: fi.Size(), mod: fi.ModTime()}, rel: rel, err: err})
			}
		}
	}
	if index != "" && index != path {
		rel = pathpkg.Join(pathpkg.Dir(rel), filepath.Base(index))
		if fi, err = os.Stat(index); err != nil {
			return w.take(batchInput{inputFile: inputFile{path: index}, rel: rel, err: err})
		}
	}
	if index == "" {
		if w.seen(fi) {
			return nil
		}
		in := batchInput{inputFile: inputFile{path: path, size: fi.Size(), mod: fi.ModTime()}, rel: rel}
		in.own = w.ownOutput(path)
		return w.take(in)
	}
	key, _ := filepath.Abs(index)
	if w.units[key] {
		return nil
	}
	if w.units == nil {
		w.units = map[string]bool{}
	}
	w.units[key] = true
	if own := w.ownOutput(index); own != nil {
		return w.take(batchInput{inputFile: inputFile{path: index, size: fi.Size(), mod: fi.ModTime()}, rel: rel, own: own})
	}
	return w.unit(index, rel, fi)
}

type fileKey struct {
	size int64
	mod  int64
}

// seen reports whether the file fi, named as an input, was named before, and records it.
func (w *walker) seen(fi os.FileInfo) bool {
	k := fileKey{fi.Size(), fi.ModTime().UnixNano()}
	if slices.ContainsFunc(w.files[k], func(o os.FileInfo) bool { return os.SameFile(o, fi) }) {
		return true
	}
	if w.files == nil {
		w.files = map[fileKey][]os.FileInfo{}
	}
	w.files[k] = append(w.files[k], fi)
	return false
}

// walk takes the inputs below the folder dir, whose files are named rel + their path
// below it.
func (w *walker) walk(dir, rel string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		entries, err := f.ReadDir(256)
		for _, e := range entries {
			name := e.Name()
			path := filepath.Join(dir, name)
			if e.IsDir() {
				if err := w.walk(path, rel+name+"/"); err != nil {
					return err
				}
				continue
			}
			if atomicfile.IsTemp(name) || (w.opts.Check && isReference(name)) {
				continue
			}
			if err := w.file(path, rel+name); err != nil {
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

// file takes the file at path found in a folder, when the include patterns take it: a
// sharded checkpoint's index when they take its name, the name of the checkpoint it
// stands for (pytorch_model.bin for pytorch_model.bin.index.json) or one of its
// shards'; a shard never alone, but as part of its index's checkpoint, unless it has
// none (it then fails).
func (w *walker) file(path, rel string) error {
	name := filepath.Base(path)
	var index bool
	var err error
	switch se := convert.ShardOf(path); {
	case convert.IsIndex(name):
		index = matchAny(w.include, name) || matchAny(w.include, strings.TrimSuffix(name, export.IndexSuffix))
		if !index {
			for _, p := range w.shardsOf(path).paths {
				if index = matchAny(w.include, filepath.Base(p)); index {
					break
				}
			}
		}
		if !index {
			return nil
		}
	case se == nil && !matchAny(w.include, name):
		return nil
	case w.indexOf(path) != "":
		return nil // a shard that an index beside it names: part of that checkpoint
	case se != nil:
		if _, err = w.shardState(se); err == nil || !matchAny(w.include, name) || strayShard(w.ctx, se) {
			return nil // part of its index's checkpoint, a stray of its output, or not an input
		}
	}
	fi, serr := os.Stat(path) // follows a link to a file
	switch {
	case serr != nil:
		if lfi, lerr := os.Lstat(path); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			serr = fmt.Errorf("a symbolic link to nothing: %w", serr)
		}
		return w.take(batchInput{inputFile: inputFile{path: path}, rel: rel, err: serr})
	case fi.IsDir():
		return w.take(batchInput{inputFile: inputFile{path: path}, rel: rel, err: errors.New("a symbolic link to a folder, which a walk does not follow (name the folder as an input to convert what it holds)")})
	case !fi.Mode().IsRegular():
		return w.take(batchInput{inputFile: inputFile{path: path}, rel: rel, err: fmt.Errorf("not a regular file (%s)", fi.Mode().Type())})
	}
	if src := w.ownOutput(path); src != nil {
		w.passOver(path, rel, src)
		return nil // an output, not an input
	}
	if index {
		return w.unit(path, rel, fi)
	}
	return w.take(batchInput{inputFile: inputFile{path: path, size: fi.Size(), mod: fi.ModTime()}, rel: rel, err: err})
}

// ownOutput returns the source that the file at path records when it is ptport's
// output, which is never an input: it lies below OutDir and records a source, in the
// format its name says, whatever To is. Outputs may so be written into the folders of
// the inputs, to one format after another, and every pass over the inputs, of every
// shard, takes the same inputs (an output appears whole, never half-written). A file
// there that records no source is an input, whose output is never written over it (it
// would be the output of two inputs, or its own). Outside OutDir a file that records
// a source is an input as any other: the outputs of one batch may be the inputs of the
// next.
func (w *walker) ownOutput(path string) *source {
	if w.opts.Check || w.outAbs == "" {
		return nil
	}
	if abs, err := filepath.Abs(path); err != nil || !within(abs, w.outAbs) {
		return nil
	}
	s, err := recordedSource(w.ctx, path)
	if err != nil {
		return nil
	}
	return s
}

// passOver counts the file at path, named rel, ptport's output recording src, that a
// walk passes over, when it is in the shard the options take.
func (w *walker) passOver(path, rel string, src *source) {
	if w.sum == nil || w.opts.Shards > 0 && shardOf(rel, w.opts.Shards) != w.opts.Shard {
		return
	}
	w.sum.PassedOver++
	if src.inputBeside(path) {
		return
	}
	if w.unbeside == nil {
		w.sum.Orphans++
		return
	}
	*w.unbeside = append(*w.unbeside, passedOver{path: path, src: src})
}

// passedOver is an output that a walk passed over, at path, recording src.
type passedOver struct {
	path string
	src  *source
}

// orphans returns how many of the outputs in unbeside, passed over and whose input is
// not beside them, are of no input of the run, of any shard, at the place they record
// (see source.names): it walks the inputs once more, looking up those outputs by their
// input's base name. It holds them meanwhile: some 100 bytes an output.
func orphans(ctx context.Context, opts *Options, unbeside []passedOver) (int, error) {
	byName := map[string][]int{}
	for i, p := range unbeside {
		name := pathpkg.Base(p.src.Input)
		byName[name] = append(byName[name], i)
	}
	all := *opts
	all.Shards = 0
	n := len(unbeside)
	err := walkInputs(ctx, &all, nil, nil, func(in batchInput) error {
		name := filepath.Base(in.path)
		left := byName[name][:0]
		for _, i := range byName[name] {
			if p := unbeside[i]; in.err == nil && p.src.names(in.path, in.rel, p.path) {
				n--
			} else {
				left = append(left, i)
			}
		}
		if len(left) == 0 {
			delete(byName, name)
		} else {
			byName[name] = left
		}
		return nil
	})
	return n, err
}

// within reports whether the absolute path p is dir or below it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
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
	abandoned bool     // stopped because ctx was done
	credited  int64    // the input's bytes given to Options.Progress
	stale     []string // ptport's files of the input's output in shards, removed after commit
}

// process converts or checks one input, never panicking. A converted input's output is
// left in its temporary, returned for commit.
func (o *Options) process(ctx context.Context, in batchInput) (res outcome, t *atomicfile.Temp) {
	start := time.Now()
	r := &res.Result
	*r = Result{Input: in.path, Bytes: in.bytes()}
	for _, s := range in.shards {
		r.Shards = append(r.Shards, s.path)
	}
	defer func() {
		if p := recover(); p != nil {
			r.Status, r.Error, r.Err, r.Widened = StatusFailed, fmt.Sprintf("internal error: %v", p), nil, nil
			res.abandoned = false
			if t != nil {
				t.Discard()
				t = nil
			}
		}
		r.Seconds = time.Since(start).Seconds()
	}()
	var err error
	switch {
	case in.own != nil:
		r.Status, r.Error = StatusSkipped, ownOutputText(in.own, in.path)
	case o.outputsOf[in.path] != "":
		r.Status, r.Error = StatusSkipped, "ptport's output of "+o.outputsOf[in.path]+", converted from it instead"
	case in.err != nil:
		err = in.err
		if !o.Check {
			r.Output = o.outputOf(in)
		}
	case o.Check:
		err = o.check(ctx, in, r)
	default:
		t, err = o.convert(ctx, in, r, &res.credited, &res.stale)
	}
	if err != nil {
		r.Status, r.Error, r.Err, r.Widened = StatusFailed, withoutName(err.Error(), in.path), err, nil
		res.abandoned = ctx.Err() != nil && errors.Is(err, ctx.Err())
		r.OutputError = isOutputError(err)
		var le *pickle.LimitError
		if errors.As(err, &le) {
			r.Limit = le.Limit
		}
	}
	return res, t
}

// ownOutputText says why a named input at path that is ptport's output, recording
// src, is skipped, and, when the input it records is not beside it (gone, or in
// another tree), how to convert it.
func ownOutputText(src *source, path string) string {
	switch {
	case src.Input == "":
		return "ptport's output, not an input"
	case !src.inputBeside(path):
		return "ptport's output of " + src.Input + ", not an input (its input is not beside it: to convert this file, write to another output folder)"
	}
	return "ptport's output of " + src.Input + ", not an input"
}

// credit returns the Progress of an output of tensors of data bytes, from an input of
// size bytes: it gives Options.Progress the input's bytes in the proportion of the
// output written, adding them to credited.
func (o *Options) credit(size, data int64, credited *int64) func(written int64) {
	estimate := max(data, 1)
	if o.To == convert.JSON {
		estimate *= jsonTextPerByte
	}
	return func(written int64) {
		share := size
		if written < estimate {
			share = int64(float64(size) * float64(written) / float64(estimate))
		}
		if share > *credited {
			o.Progress(share - *credited)
			*credited = share
		}
	}
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
	err := t.Commit()
	if err == nil {
		err = removeFiles(c.stale)
	}
	if err != nil {
		c.Status, c.Error, c.Err, c.OutputError, c.Widened = StatusFailed, err.Error(), err, true, nil
	} else {
		c.Status = StatusOK
	}
	c.Seconds += time.Since(start).Seconds()
	return c
}

// openInput opens the input file at path: a sharded checkpoint's index as
// convert.OpenContext does, any other file as the one file it is
// (convert.OpenShardContext). The walk has told the shards apart before (indexOf, which
// reads each folder's indexes once a run), and an input is never a shard; OpenContext
// would read the names and indexes of the file's folder again for every input, work
// that grows as the square of a folder's files.
func openInput(ctx context.Context, path string, opts *pickle.Options) (*convert.Checkpoint, error) {
	if convert.IsIndex(path) {
		return convert.OpenContext(ctx, path, opts)
	}
	return convert.OpenShardContext(ctx, path, opts)
}

func (o *Options) check(ctx context.Context, in batchInput, r *Result) error {
	name := strings.TrimSuffix(in.path, export.IndexSuffix) // a sharded checkpoint's
	ext := filepath.Ext(name)
	refPath := strings.TrimSuffix(name, ext) + referenceSuffix + ext
	if _, err := os.Stat(refPath); err != nil {
		r.Status, r.Error = StatusSkipped, "no reference file "+filepath.Base(refPath)
		return nil
	}
	cp, err := openInput(ctx, in.path, o.Pickle)
	if err != nil {
		return err
	}
	defer cp.Close()
	r.Tensors = leaf.CountTensors(cp.Leaves)
	ref, err := openInput(ctx, refPath, o.Pickle)
	if err != nil {
		return err
	}
	defer ref.Close()
	rep, err := parity.Check(ctx, cp, ref, parity.Options{Load: o.Model, Tolerance: o.Tolerance, Ignore: o.Ignore})
	if err != nil {
		return err
	}
	r.MaxAbsErr, r.Report = &rep.MaxAbsErr, rep
	if !rep.Pass {
		r.Diagnosis = rep.Diagnosis
		return fmt.Errorf("mismatch against %s: %s", filepath.Base(refPath), rep.Verdict())
	}
	r.Status = StatusOK
	return nil
}

// jsonTextPerByte estimates the bytes of JSON text a byte of tensor data becomes: some
// 12 characters for a float32's 4 bytes.
const jsonTextPerByte = 3

// convert writes in's output to a temporary and returns it, or returns nil when the
// output is up to date. It adds to credited what it gives Options.Progress.
func (o *Options) convert(ctx context.Context, in batchInput, r *Result, credited *int64, stale *[]string) (*atomicfile.Temp, error) {
	r.Output = o.outputOf(in)
	if c := o.collisions[outputHash(r.Output)]; c != nil {
		return nil, c.error(in.path, r.Output)
	}
	if err := o.overInput(in, r.Output); err != nil {
		return nil, err
	}
	prev, file, err := o.existing(ctx, r.Output, in)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		if ok, err := prev.replaceable(ctx, in, file, o.Force); err != nil {
			return nil, err
		} else if !ok {
			return nil, replaceError(file, prev, in)
		}
	}
	other, err := o.otherLayout(ctx, r.Output, file, in)
	if err != nil {
		return nil, err
	}
	if prev != nil && !o.Force && other == "" {
		same, err := prev.matches(ctx, in)
		if err != nil {
			return nil, err
		}
		if same && complete(ctx, file, prev) {
			if err := o.removeLeftovers(ctx, r.Output, in); err != nil {
				return nil, err
			}
			r.Status, r.Output = StatusSkipped, file
			return nil, nil
		}
	}
	r.Elsewhere = o.otherLayoutOutput(ctx, in, r.Output)
	cp, err := openInput(ctx, in.path, o.Pickle)
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
	if err := export.Check(string(o.To), cp.Leaves); err != nil {
		return nil, err // before the hashing of the input
	}
	src, err := sourceOf(ctx, in)
	if err != nil {
		return nil, err
	}
	r.Tensors = leaf.CountTensors(cp.Leaves)
	r.Widened = convert.Widened(o.To, cp)
	if err := os.MkdirAll(filepath.Dir(r.Output), 0o755); err != nil {
		return nil, &atomicfile.OutputError{Path: r.Output, Err: err}
	}
	src.Place = placeOf(in.path, r.Output) // with the output's folder there
	meta, err := src.metadata()
	if err != nil {
		return nil, err
	}
	w := atomicfile.Options{Tag: o.tempTag(), NoSync: o.NoSync, Ctx: ctx}
	if o.Progress != nil {
		w.Progress = o.credit(in.bytes(), convert.DataBytes(o.To, cp), credited)
	}
	if o.MaxShardSize > 0 {
		files, err := export.WriteFiles(r.Output, string(o.To), cp.Root, cp.Leaves, meta, o.MaxShardSize, w)
		if err != nil {
			return nil, err
		}
		if len(files) == 1 {
			if err := o.removeLeftovers(ctx, r.Output, in); err != nil {
				return nil, err
			}
		}
		r.Status, r.Output = StatusOK, files[len(files)-1]
		return nil, nil
	}
	t, err := atomicfile.Write(r.Output, w, func(w io.Writer) error {
		return export.Write(w, string(o.To), r.Output, cp.Root, cp.Leaves, meta)
	})
	if err == nil {
		if other != "" {
			shards, _ := convert.ShardFilesContext(ctx, other)
			*stale = append([]string{other}, shards...)
		}
		left, err := o.leftovers(ctx, r.Output, in)
		if err != nil {
			t.Discard()
			return nil, err
		}
		*stale = append(*stale, left...)
	}
	return t, err
}

// removeLeftovers removes the leftovers of in beside out.
func (o *Options) removeLeftovers(ctx context.Context, out string, in batchInput) error {
	files, err := o.leftovers(ctx, out, in)
	if err != nil {
		return err
	}
	return removeFiles(files)
}

// otherLayout returns the index of ptport's output of in in shards beside the output
// out, when the output is written whole, or, when it is written in shards (read from
// file), out when ptport's whole output is there beside the index: the other layout,
// which a conversion of in removes once its output is in place. It is "" when there is
// none; ptport's output of another input in the other layout is a *ReplaceError (an
// index that records no source is the user's, left as it is beside a whole output).
func (o *Options) otherLayout(ctx context.Context, out, file string, in batchInput) (string, error) {
	index := out + export.IndexSuffix
	if _, err := os.Stat(index); err != nil {
		return "", nil
	}
	if o.MaxShardSize > 0 && file != out {
		return "", nil
	}
	src, err := recordedSource(ctx, index)
	if errors.Is(err, errNoSource) {
		return "", nil // the user's, which writing in shards refuses (foreignShards)
	} else if err != nil {
		return "", err
	}
	if ok, err := src.replaceable(ctx, in, index, o.Force); err != nil {
		return "", err
	} else if !ok {
		return "", replaceError(index, src, in)
	}
	if o.MaxShardSize > 0 {
		return out, nil
	}
	return index, nil
}

// otherLayoutOutput returns the file of ptport's output of in at the path that the
// other layout of OutDir gives it (see batchInput.alt), when there is one, or "".
func (o *Options) otherLayoutOutput(ctx context.Context, in batchInput, out string) string {
	if in.alt == "" {
		return ""
	}
	alt := o.outputOf(batchInput{rel: in.alt})
	if samePath(alt, out) {
		return ""
	}
	src, file, err := readSource(ctx, alt, o.To, true)
	if err != nil || !src.names(in.path, in.rel, file) {
		return ""
	}
	return file
}

// complete reports whether the output read from file, recording src, is whole: a
// single file, or an index every shard of which is there and records src too.
func complete(ctx context.Context, file string, src *source) bool {
	if !convert.IsIndex(file) {
		return true
	}
	shards, err := convert.ShardFilesContext(ctx, file)
	if err != nil {
		return false
	}
	want, _ := json.Marshal(src)
	for _, sh := range shards {
		s, err := recordedSource(ctx, sh)
		if err != nil {
			return false
		}
		if got, _ := json.Marshal(s); !bytes.Equal(got, want) {
			return false
		}
	}
	return true
}

// removeFiles removes files in order, ptport's own of the input whose output took
// their place: an index before the shards it names.
func removeFiles(files []string) error {
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return &atomicfile.OutputError{Path: f, Err: err}
		}
	}
	return nil
}
