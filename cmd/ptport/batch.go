package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/batch"
	"github.com/ptport/ptport/pickle"
)

// batchSummary is what batch prints with --json.
type batchSummary struct {
	Files        int     `json:"files"`
	OK           int     `json:"ok"`
	Skipped      int     `json:"skipped"`
	Failed       int     `json:"failed"`
	OutputErrors int     `json:"output_errors"` // never within --allow-failed
	Bytes        int64   `json:"bytes"`
	Seconds      float64 `json:"seconds"`
	TempsRemoved int     `json:"temps_removed"`
	Interrupted  bool    `json:"interrupted"`
	// FailedAllowed reports that the failed inputs were within --allow-failed.
	FailedAllowed bool `json:"failed_allowed"`
	// Widened counts the BF16 tensors the npz outputs written hold as float32, and
	// WidenedOutputs those outputs.
	Widened        int `json:"widened"`
	WidenedOutputs int `json:"widened_outputs"`
	// PassedOver counts the files of the walk that are ptport's outputs in OUTDIR, never
	// inputs, and Orphans those of them whose input is neither beside them nor an
	// input of the run.
	PassedOver int `json:"passed_over"`
	Orphans    int `json:"orphans"`
}

// cleanRecord is a line of batch --clean --json: a temporary found, removed or kept.
type cleanRecord struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	Status string `json:"status"` // "removed", or "kept": a running process of this machine writes it
}

// cleanSummary is the last line of batch --clean --json: the temporaries removed, their
// bytes, and those kept.
type cleanSummary struct {
	Removed int   `json:"removed"`
	Bytes   int64 `json:"bytes"`
	Kept    int   `json:"kept"`
}

func batchCmd() *cobra.Command {
	var mf modelFlags
	var sf selectionFlags
	var opts batch.Options
	var to, shard, reportPath, allowFailed, maxShard string
	var quiet, clean bool
	var tf toleranceFlags
	c := &cobra.Command{
		Use:   "batch IN... -o OUTDIR",
		Short: "Convert (or check) many checkpoints: parallel, resumable, crash-safe, shardable",
		Long: `batch converts every checkpoint among the inputs (files, and folders walked recursively for
` + strings.Join(batch.DefaultInclude, " ") + ` or the --include patterns) into OUTDIR, mirroring the
input tree with the new extension. One bad file never stops the batch: each input ends
ok, skipped (its output is up to date) or failed with the reason, a line each as it ends
(on a terminal above the progress bar; -q prints only the failures), and a summary
counts them, with the bytes and throughput of the inputs converted. NumPy has no
bfloat16: an npz output holds BF16 tensors widened exactly to float32, as convert's
does (ptport reads them back as BF16); an input's line counts them ("4 BF16 as
float32"), and a note after the summary says so. Inputs whose outputs
would be the same file (a.pt beside a.pth) all fail, naming each other, so that none is
lost. Symbolic links to folders are not followed; one the patterns take fails, as a
link to nothing does.

OUTDIR may be an input folder ("ptport batch zoo -o zoo" writes zoo/m.safetensors beside
zoo/m.pt): a file below it that records its source is ptport's output, of whatever
format, never an input (a walk passes over it, and the summary counts those passed
over, apart those whose input is neither beside them nor an input of the run, gone
or in another tree, which "-o" another folder converts; one named or listed is skipped, "ptport's output of
zoo/m.pt, not an input"); outside OUTDIR it is an input as any other, except
one beside the input of the run that it records, which would write the same output
(zoo/m.pt after "batch zoo -o zoo --to pt"): skipped, "ptport's output of zoo/m.pth,
converted from it instead". An
output never replaces an input: one that would be the input itself (zoo/m.pt with --to
pt) fails it. Nor, in any OUTDIR, does it replace a file that ptport did not write (one
that records no source: a config zoo/m.json beside zoo/m.pt, a file "ptport convert"
wrote): the input fails, naming the file, and --force does not change that (move the
file, or write to another OUTDIR). Each output records the input it was made from (its
path below its root, and a digest of where it lies from the output, no path of the
machine), and is replaced only by a conversion of that input: one made from another,
or from an input of the same name in another tree ("batch a -o out", then "batch b -o
out"), fails the input, naming both; a tree moved with its outputs keeps them. The
same tree seen from another mount point (a cluster's node, a container: /gpfs/data
for /data) is such another place: its unchanged inputs are up to date there, and
--force replaces the output of a changed one, of the same path below its root (never
one of another name, nor a file ptport did not write). A
folder given alone, then beside another, writes another layout of OUTDIR (out/a/m...);
the line of an input converted notes its output of the earlier layout, which stays. An
older version's output that names no input is replaced only when its input is
unchanged and --force given, which rewrites it naming its input.

Exit status: 0 when every input is ok or skipped, or when the failed ones are within
--allow-failed (every failed input, N of them, or P% of the inputs); 1 when more failed,
when an output could not be written (no space, no permission: --allow-failed excuses
inputs, not outputs); 2 for bad usage and for errors that are not an input's (an
unreadable folder, a report that cannot be written); 130 when Ctrl-C interrupted the
batch, 143 when SIGTERM did (128 + the signal's number, as shells report it).

Outputs are written to temporary files and renamed into place when complete: after a
crash or kill -9 no partial output exists under its final name. An output in shards is
committed by renaming its index last: shards that replace those an index names are
written under other names (NAME-00001-of-00004.1.safetensors), and the old ones are
removed after the new index is in place; an output written whole removes ptport's
shards and index of the same input, and one in shards the whole file. The next run of the same
shard removes the temporaries it left, and so does any run on the same machine once the
process that wrote them has ended; "ptport batch --clean OUTDIR" removes every ptport
temporary under OUTDIR, whatever shard layout or machine made it (run it when no batch
writes there; a temporary is named as ptport names them,
.ptport-tmp-s-hHOSTnNSpPIDtSTART.NAME-RAND, and a file that merely starts with
.ptport-tmp- is not one). Each output records its source's size, modification time and
sha256 (a sharded input's, each of its files'), so a rerun skips what is up to date
(--force converts again, as after changing --select or --max-shard-size). Ctrl-C or
SIGTERM stops the workers, removes their temporaries and reports what finished.

A sharded checkpoint (an index such as pytorch_model.bin.index.json or
model.safetensors.index.json, and its shards beside it) is one input: it is taken when
the patterns take the index, the checkpoint it stands for (pytorch_model.bin) or a shard,
and converted whole to one output named for the checkpoint (pytorch_model.safetensors),
or to shards and an index again with --max-shard-size. Its shards (every file the
index names, whatever its name) are reported with it, never converted alone; naming
any of its files as an input takes it, once. A file named
like a shard (STEM-00001-of-00003.bin) without its index beside it, or that its index
does not name, holds part of a model: it fails.

IN "-" reads the inputs from standard input, a path a line (a line's CR before its
newline is dropped; with --null, NUL-ended paths, as find -print0 writes them), relative
ones from the working directory; each listed input's output keeps its path below
OUTDIR (an absolute one without its leading /), so that the files of a list never
collide for being in different folders. The list is copied to an unnamed temporary
file, never held in memory, and read once for the plan, once for collisions (again when
there are some, to name their inputs) and once to convert. A listed file that does not
exist fails alone (it writes no output and collides with none); a listed folder is
walked as an argument is (list files, as find -type f does, or folders, not both).

--shard K/N takes a stable share of the inputs (by a hash of each path relative to its
root, or of a listed path; a sharded checkpoint by its index's): N runs with K = 0..N-1,
on one machine or many, convert every input exactly once.

--report FILE.jsonl writes one JSON object per input (its folder is created; "-" is
standard output): input, shards (of a sharded input), output, status, error, bytes
(the input's size), seconds, tensors, widened (the BF16 tensors an npz output holds as
float32), elsewhere (its output in another layout of OUTDIR, left by an earlier run),
output_error (the output could not be written), limit (the limit a failed input went
past: expansion, output) and, with --check, max_abs_err and diagnosis.

--select, --strip-prefix and --exclude take part of each input, as convert's do; a
prefix or pattern that an input's names lack leaves that input as it is (a --select
path that it lacks fails it).

--check runs the parity check of each NAME.pt against its sibling NAME.ref.pt instead
of converting (the model flags apply, and --ignore, --atol and --rtol, to every
reference; no -o, as nothing is written but the report; a NAME.pt without its
NAME.ref.pt is skipped, "no reference file") and reports pass or fail per model; a failure's lines give the check's diagnosis and its fix, or
an unusable reference's entries and the hint (to leave them out: --ignore ...), as
check does (and the report its "diagnosis"). Of a model's file and its reference the
other way round, the hint says to swap their names.

With --json, standard output is JSON Lines, an object a line: each input's record, as
--report writes it, as the input ends (a failed one with its "error"), then the
summary: {"files", "ok", "skipped", "failed", "output_errors" (of the
failed, the outputs that could not be written), "bytes", "seconds",
"temps_removed", "interrupted", "failed_allowed", "widened" (BF16 tensors held as
float32), "widened_outputs", "passed_over" (ptport's outputs in OUTDIR that the walk
passed over), "orphans" (of them, those whose input is neither beside them nor an
input of the run)}, or, when an error that is not an input's stopped the run (an input
folder gone, the report or standard output unwritable), its {"error", "file"}, after
the records of the inputs that ended. Standard error has the inputs' lines and the
progress bar, and says in words such an error, or that Ctrl-C or SIGTERM interrupted
the run (the summary's "interrupted"); the exit status is as without --json. With
--clean, a line for each temporary as it is found, {"path", "bytes", "status":
"removed", or "kept" when a running ptport writes it}, then {"removed", "bytes",
"kept"} (the temporaries removed, their bytes, and those kept), or the error that
stopped it; standard error has the lines for people.`,
		Example: `  ptport batch models/ -o converted/
  ptport batch a.pt b.pth zoo/ -o out/ --to npz --jobs 4 --report report.jsonl
  ptport batch /data/zoo -o /data/out --shard $JOB_COMPLETION_INDEX/16 --allow-failed
  ptport batch runs/ -o weights/ --select model_state_dict --strip-prefix module.
  find /data/zoo -name '*.bin' -print0 | ptport batch - --null -o /data/out
  ptport batch hf_models/ -o out/ --max-shard-size 5GB
  ptport batch --clean /data/out
  ptport batch --clean /data/out --json | jq -r 'select(.status == "removed") | .path'
  ptport batch models/ --check --report parity.jsonl
  ptport batch zoo/ -o out/ --json | jq -r 'select(.status == "failed") | "\(.input): \(.error)"'`,
		Args:              usageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeInputs,
		Annotations:       map[string]string{jsonLinesAnnotation: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if clean {
				return cleanTemps(cmd, args)
			}
			tolerated, err := parseAllowFailed(allowFailed)
			if err != nil {
				return err
			}
			opts.Inputs = nil
			for _, a := range args {
				if a != stdio {
					opts.Inputs = append(opts.Inputs, a)
				} else if opts.List != nil {
					return fmt.Errorf("batch: - (the inputs from standard input) given twice")
				} else {
					f, err := spool(cmd.Context(), cmd.InOrStdin())
					if err != nil {
						return inFile(stdinName, fmt.Errorf("reading the inputs from standard input: %w", err))
					}
					defer f.Close()
					opts.List = f
				}
			}
			if opts.ListNUL && opts.List == nil {
				return fmt.Errorf("batch: --null is about the list of inputs from standard input: give - as an input")
			}
			if maxShard != "" {
				if opts.MaxShardSize, err = parseSize(maxShard); err != nil {
					return fmt.Errorf("--max-shard-size: %w", err)
				}
			}
			opts.Model = mf.options()
			opts.Tolerance = tf.tolerance()
			opts.Pickle = mf.load.options()
			opts.Select = sf.selection(false)
			if !opts.Check {
				if opts.OutDir == "" {
					return fmt.Errorf("batch: -o OUTDIR is required (or --check, or --clean)")
				}
				f, err := convert.FormatOf(to)
				if err != nil {
					return err
				}
				opts.To = f
			}
			if shard != "" {
				k, n, err := parseShard(shard)
				if err != nil {
					return err
				}
				opts.Shard, opts.Shards = k, n
			}
			if opts.Jobs < 0 {
				return fmt.Errorf("--jobs %d: want a number of workers, or 0 for the number of CPUs", opts.Jobs)
			}
			if err := stdoutTaken(cmd, "--report", reportPath); err != nil {
				return err
			}
			plan, err := batch.NewPlan(opts)
			if err != nil {
				return listHint(err)
			}
			var report *jsonLines
			switch reportPath {
			case "":
			case stdio:
				report = &jsonLines{w: cmd.OutOrStdout()}
			default:
				if err := os.MkdirAll(filepath.Dir(reportPath), 0o755); err != nil {
					return inFile(reportPath, err)
				}
				f, err := os.Create(reportPath)
				if err != nil {
					return inFile(reportPath, err)
				}
				defer f.Close()
				report = &jsonLines{w: f}
			}
			stderr := cmd.ErrOrStderr()
			verb := "converting"
			if opts.Check {
				verb = "checking"
			}
			m := newMeter(stderr, verb, plan.Bytes, plan.Files)
			if m.live {
				opts.Progress = func(n int64) { m.add(n, 0) } // the bytes advance within a file
			}
			// With --json, standard output is JSON Lines: each input's record as the
			// report's, as it ends, then the summary (or the error that stopped the run).
			var stdout *jsonLines
			if jsonMode(cmd) {
				stdout = &jsonLines{w: cmd.OutOrStdout()}
			}
			sum, err := batch.Run(cmd.Context(), opts, func(r batch.Result) {
				report.write(r)
				stdout.write(r)
				m.add(r.Bytes, 1)
				if line := resultLine(r, quiet); line != "" {
					m.println(line)
				}
			})
			m.stop()
			if err != nil {
				err = listHint(err)
				if pe, ok := err.(*fs.PathError); ok {
					err = inFile(pe.Path, pe)
				}
				if sum.Files > 0 {
					return afterLines(cmd, stdout, err, fmt.Sprintf(" (the batch stopped after %d of %s)", sum.Files, count(plan.Files, "input", "inputs")))
				}
				return err
			}
			if report != nil && report.err != nil {
				rerr := report.err
				if pe, ok := rerr.(*fs.PathError); ok && pe.Path == reportPath {
					rerr = pe.Err // "R: writing the report: no space left on device"
				}
				return afterLines(cmd, stdout, inFile(reportPath, fmt.Errorf("writing the report: %w", rerr)), "")
			}
			allowed := sum.Failed == 0 || sum.OutputErrors == 0 && sum.Failed <= tolerated(sum.Files)
			if stdout != nil {
				stdout.write(batchSummary{Files: sum.Files, OK: sum.OK, Skipped: sum.Skipped, Failed: sum.Failed,
					OutputErrors: sum.OutputErrors, Bytes: sum.Bytes, Seconds: sum.Seconds, TempsRemoved: sum.TempsRemoved,
					Interrupted: sum.Interrupted, FailedAllowed: sum.Failed > 0 && allowed,
					Widened: sum.Widened, WidenedOutputs: sum.WidenedOutputs, PassedOver: sum.PassedOver, Orphans: sum.Orphans})
				if stdout.err != nil {
					return afterLines(cmd, stdout, fmt.Errorf("writing to standard output: %w", stdout.err), "")
				}
			} else {
				fmt.Fprintln(stderr, summaryLine(sum, opts.Check, plan.Files))
				if sum.Widened > 0 {
					fmt.Fprintln(stderr, widenedNote(holders(sum.WidenedOutputs), sum.Widened))
				}
			}
			silent := jsonMode(cmd)
			switch {
			case sum.Interrupted:
				// The summary says so (with --json, its "interrupted", and this line
				// for people); the exit status is the signal's.
				err := fmt.Errorf("interrupted: %d of %s done", sum.Files, count(plan.Files, "input", "inputs"))
				if stdout != nil {
					fmt.Fprintf(stderr, "ptport: %s\n", err)
				}
				return &exitError{code: 1, silent: true, err: err}
			case sum.OutputErrors > 0:
				return &exitError{code: 1, silent: silent, err: fmt.Errorf("%d of %s could not be written (--allow-failed excuses failed inputs only)", sum.OutputErrors, count(sum.Files, "output", "outputs"))}
			case !allowed:
				return &exitError{code: 1, silent: silent, err: fmt.Errorf("%d of %s failed", sum.Failed, count(sum.Files, "input", "inputs"))}
			case sum.Failed > 0 && !jsonMode(cmd):
				fmt.Fprintf(stderr, "ptport: %d of %s failed, within --allow-failed\n", sum.Failed, count(sum.Files, "input", "inputs"))
			}
			return nil
		},
	}
	c.Flags().StringVarP(&opts.OutDir, "output", "o", "", "the output `FOLDER` (created if need be)")
	c.Flags().StringVar(&to, "to", "safetensors", "output `FORMAT`: "+formatList())
	c.Flags().IntVar(&opts.Jobs, "jobs", 0, "`N` workers converting files at once (default: the number of CPUs)")
	c.Flags().StringVar(&reportPath, "report", "", "write one JSON object per input to `FILE.jsonl` (- for standard output): input, output, status, error, bytes, seconds, tensors, widened, elsewhere")
	c.Flags().StringVar(&shard, "shard", "", "take the share `K/N` of the inputs (0 <= K < N)")
	c.Flags().BoolVar(&opts.Force, "force", false, "convert inputs whose output is up to date")
	c.Flags().StringSliceVar(&opts.Include, "include", nil, "base-name glob `PATTERNS` of the files taken from folders (default "+strings.Join(batch.DefaultInclude, ",")+")")
	c.Flags().BoolVar(&opts.Check, "check", false, "check NAME.pt against NAME.ref.pt instead of converting")
	c.Flags().StringSliceVar(&opts.Ignore, "ignore", nil, "with --check, leave the reference entries `NAMES` out of every check (comma separated, or the flag repeated)")
	tf.register(c, " (with --check)")
	c.Flags().BoolVar(&opts.NoSync, "no-sync", false, "skip fsync of outputs (faster; a crash of ptport still leaves no partial output, a power loss may)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the summary and failures")
	c.Flags().StringVar(&allowFailed, "allow-failed", "", "exit 0 although inputs failed: all of them, at most `N`, or at most P% of the inputs (they are still reported)")
	c.Flags().Lookup("allow-failed").NoOptDefVal = "all"
	c.Flags().BoolVar(&clean, "clean", false, "remove every ptport temporary below the folders given as arguments, and say what was removed")
	c.Flags().BoolVarP(&opts.ListNUL, "null", "0", false, "the inputs read from standard input (-) are NUL-ended, as find -print0 writes them")
	c.Flags().StringVar(&maxShard, "max-shard-size", "", "split each safetensors output into shards of at most `SIZE` (5GB, 500MB, 2GiB) and an index")
	sf.register(c)
	mf.register(c)
	c.RegisterFlagCompletionFunc("to", completeWords(formatNames()...))
	c.RegisterFlagCompletionFunc("output", completeFolders)
	c.RegisterFlagCompletionFunc("report", completeFiles("jsonl"))
	c.RegisterFlagCompletionFunc("allow-failed", completeWords("all", "1", "10", "1%", "5%"))
	c.RegisterFlagCompletionFunc("max-shard-size", completeWords("500MB", "1GB", "2GB", "5GB", "10GB"))
	c.MarkFlagsMutuallyExclusive("clean", "check")
	return c
}

// afterLines says err, an error that is not an input's, once the lines of inputs (or of
// --clean's temporaries) have begun: on standard error in words, then note (how far the
// command got), with --json too, as standard error has the lines for people then; and
// with --json as the last line of standard output, {"error", "file"}, so that a program
// reading the records learns why they end there. It returns err as said, exit status 2.
func afterLines(cmd *cobra.Command, stdout *jsonLines, err error, note string) error {
	if errors.Is(err, context.Canceled) {
		err = &interruptedError{err}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "ptport: %s%s\n", message(err), note)
	stdout.write(errorJSON{Error: err.Error(), File: errorFile(err)})
	return &exitError{code: 2, silent: true, err: err}
}

// jsonLines writes JSON Lines to w: a value a line, compact, what came from a file
// escaped by encoding/json (<, > and & left as they are, as writeJSON leaves them). It
// keeps the first error, after which it writes nothing; a nil *jsonLines writes nothing.
type jsonLines struct {
	w   io.Writer
	n   int // the lines written
	err error
}

func (j *jsonLines) write(v any) {
	if j == nil || j.err != nil {
		return
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if j.err = enc.Encode(v); j.err == nil {
		_, j.err = j.w.Write(b.Bytes())
		j.n++
	}
}

// listHint adds the flag to use to an error about a list of inputs that looks
// NUL-ended.
func listHint(err error) error {
	var le *batch.ListError
	if errors.As(err, &le) && strings.Contains(le.Msg, "NUL") {
		return fmt.Errorf("%w (--null reads them)", err)
	}
	return err
}

// parseShard parses "K/N".
func parseShard(s string) (k, n int, err error) {
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 0 || k >= n {
		return 0, 0, fmt.Errorf("--shard %q: want K/N with 0 <= K < N, e.g. 0/4", s)
	}
	return k, n, nil
}

// parseAllowFailed parses --allow-failed: "" (none), "all", N, or P% of the inputs. The
// result gives the number of failed inputs tolerated among n.
func parseAllowFailed(s string) (func(n int) int, error) {
	switch {
	case s == "":
		return func(int) int { return 0 }, nil
	case s == "all":
		return func(n int) int { return n }, nil
	case strings.HasSuffix(s, "%"):
		p, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || p < 0 || p > 100 || math.IsNaN(p) {
			return nil, fmt.Errorf("--allow-failed=%s: want a percentage from 0%% to 100%%", s)
		}
		return func(n int) int { return int(math.Floor(p / 100 * float64(n))) }, nil
	}
	k, err := strconv.Atoi(s)
	if err != nil || k < 0 {
		return nil, fmt.Errorf("--allow-failed=%s: want all, a number of inputs, or a percentage (5%%)", s)
	}
	return func(int) int { return k }, nil
}

// resultLine is the line batch prints for a result: failures always, the rest unless
// quiet.
func resultLine(r batch.Result, quiet bool) string {
	in := escape(r.Input)
	switch {
	case r.Status == batch.StatusFailed:
		msg := resultError(r)
		switch r.Limit {
		case pickle.LimitExpansion:
			return fmt.Sprintf("failed   %s: %s (--%s SIZE raises the limit)", in, msg, expandFlag)
		case convert.LimitOutput:
			return fmt.Sprintf("failed   %s: %s (--%s SIZE raises the limit)", in, msg, outputFlag)
		}
		line := fmt.Sprintf("failed   %s: %s", in, msg)
		for _, m := range r.Diagnosis {
			line += "\n         diagnosis: " + escape(m.Description)
		}
		if r.Report != nil && !r.Report.Pass && len(r.Diagnosis) == 0 { // as check says it
			line += "\n         diagnosis: none of the usual porting mistakes explains it"
		}
		if r.Report != nil {
			for _, f := range fixes(r.Report) {
				line += "\n         fix: " + f
			}
		}
		return line
	case quiet:
		return ""
	case r.Status == batch.StatusSkipped && r.Error != "":
		return fmt.Sprintf("skipped  %s: %s", in, escape(r.Error))
	case r.Status == batch.StatusSkipped && r.Output != "":
		return fmt.Sprintf("skipped  %s -> %s (up to date)", in, escape(r.Output))
	case r.Output != "":
		shards := ""
		if len(r.Shards) > 0 {
			shards = count(len(r.Shards), "shard", "shards") + ", "
		}
		widened := ""
		if len(r.Widened) > 0 {
			widened = fmt.Sprintf(", %d BF16 as float32", len(r.Widened))
		}
		line := fmt.Sprintf("%-8s %s -> %s (%s%s%s, %s, %.3fs)", r.Status, in, escape(r.Output), shards, count(r.Tensors, "tensor", "tensors"), widened, bytesText(r.Bytes), r.Seconds)
		if r.Elsewhere != "" {
			line += "\n         note: its output of a run with other inputs (another layout of OUTDIR) is still there: " + escape(r.Elsewhere) + " (remove it if you no longer need it)"
		}
		return line
	}
	return fmt.Sprintf("%-8s %s (%.3fs)", r.Status, in, r.Seconds)
}

// resultError is a failed result's error as its line prints it, after the input's name,
// which it does not repeat ("it is shard 1 of 3 ..."), with the hints check gives
// (withHints): escaped, but for the lines of the library's errors that list items
// on lines of their own (see escapeError) and the hints', which follow indented under
// the input.
func resultError(r batch.Result) string {
	if r.Err == nil {
		return escape(r.Error)
	}
	in := escape(r.Input)
	msg := strings.TrimPrefix(message(batchHints(r.Err)), in+": ")
	if rest, ok := strings.CutPrefix(msg, in+" "); ok { // "m.pt is shard 1 of 3 ..."
		msg = "it " + rest
	}
	return strings.ReplaceAll(msg, "\n", "\n         ")
}

// batchHints adds to a failed input's error the flags that would help: check's hints
// (withHints), for an older version's output in the way, the upgrade path, and for
// an output of this input's name at another place, the flag that replaces it.
func batchHints(err error) error {
	var re *batch.ReplaceError
	if errors.As(err, &re) && re.Recorded && re.Of == "" {
		return &hintError{err: err, hint: "--force on an input still unchanged rewrites an older version's output, naming its input"}
	}
	if errors.As(err, &re) && re.Elsewhere {
		return &hintError{err: err, hint: "--force replaces it, if this is the same tree seen from another mount point: the outputs then record this one"}
	}
	return withHints(err, swapNames)
}

// swapNames is the hint for a model's file and its reference the other way round, as
// batch --check finds them.
const swapNames = "swap the two files' names: the model's NAME.pt, its reference NAME.ref.pt"

// filesRate is n files in seconds as a rate that reads well at any speed: "876 files/s",
// "2.5 files/s", or, below one a second, the seconds a file takes ("2.5 s/file").
func filesRate(n int, seconds float64) string {
	r := float64(n) / seconds
	switch {
	case r >= 10:
		return fmt.Sprintf("%.0f files/s", r)
	case r >= 1:
		return fmt.Sprintf("%.1f files/s", r)
	case n == 0:
		return "0 files/s"
	case seconds/float64(n) < 10:
		return fmt.Sprintf("%.1f s/file", seconds/float64(n))
	}
	return fmt.Sprintf("%.0f s/file", seconds/float64(n))
}

// summaryLine is the batch's last line; planned is the number of inputs it had to do,
// which an interrupted batch did not all finish.
func summaryLine(s batch.Summary, check bool, planned int) string {
	verb := "converted"
	if check {
		verb = "checked"
	}
	inputs := count(s.Files, "input", "inputs")
	if s.Interrupted {
		verb = "interrupted: " + verb
		inputs = fmt.Sprintf("%d of %s", s.Files, count(planned, "input", "inputs"))
	}
	rate := ""
	if s.Seconds > 0 {
		rate = fmt.Sprintf(" (%s, %s)", rateText(float64(s.Bytes)/s.Seconds), filesRate(s.Files, s.Seconds))
	}
	line := fmt.Sprintf("%s %s: %d ok, %d skipped, %d failed; %s in %.2fs%s",
		verb, inputs, s.OK, s.Skipped, s.Failed, bytesText(s.Bytes), s.Seconds, rate)
	if s.PassedOver > 0 {
		line += fmt.Sprintf("; %d passed over as ptport's outputs", s.PassedOver)
		if s.Orphans > 0 {
			line += fmt.Sprintf(" (%d whose input is neither beside them nor an input of this run: -o another folder converts them)", s.Orphans)
		}
	}
	if s.TempsRemoved > 0 {
		line += fmt.Sprintf("; removed %s of interrupted runs", count(s.TempsRemoved, "temporary", "temporaries"))
	}
	return line
}

// holders names n npz outputs, with the verb: "1 output holds", "2 outputs hold".
func holders(n int) string {
	if n == 1 {
		return "1 output holds"
	}
	return fmt.Sprintf("%d outputs hold", n)
}

// cleanTemps is batch --clean: it removes the temporaries below the folders, saying so
// a line each, and with --json writing a record each, then the summary.
func cleanTemps(cmd *cobra.Command, dirs []string) error {
	var stdout *jsonLines
	if jsonMode(cmd) {
		stdout = &jsonLines{w: cmd.OutOrStdout()}
	}
	var sum cleanSummary
	w := cmd.ErrOrStderr()
	err := batch.Clean(cmd.Context(), dirs, func(l batch.Leftover) {
		r := cleanRecord{Path: l.Path, Bytes: l.Size, Status: "removed"}
		if l.Removed {
			sum.Removed++
			sum.Bytes += l.Size
			fmt.Fprintf(w, "removed  %s (%s)\n", escape(l.Path), bytesText(l.Size))
		} else {
			r.Status = "kept"
			sum.Kept++
			fmt.Fprintf(w, "kept     %s: a running ptport writes it\n", escape(l.Path))
		}
		stdout.write(r)
	})
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = inFile(pe.Path, err)
		}
		if sum.Removed+sum.Kept > 0 {
			return afterLines(cmd, stdout, err, fmt.Sprintf(" (after removing %s)", count(sum.Removed, "temporary", "temporaries")))
		}
		return err
	}
	if stdout != nil {
		stdout.write(sum)
		if stdout.err != nil {
			return afterLines(cmd, stdout, fmt.Errorf("writing to standard output: %w", stdout.err), "")
		}
		return nil
	}
	fmt.Fprintf(w, "removed %s (%s)", count(sum.Removed, "temporary", "temporaries"), bytesText(sum.Bytes))
	if sum.Kept > 0 {
		fmt.Fprintf(w, "; kept %d that running processes write", sum.Kept)
	}
	fmt.Fprintln(w)
	return nil
}
