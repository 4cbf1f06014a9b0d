package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/batch"
)

func batchCmd() *cobra.Command {
	var mf modelFlags
	var opts batch.Options
	var to, shard, reportPath string
	var quiet bool
	var tf toleranceFlags
	c := &cobra.Command{
		Use:   "batch IN... -o OUTDIR",
		Short: "Convert (or check) many checkpoints: parallel, resumable, crash-safe, shardable",
		Long: `batch converts every checkpoint among the inputs (files, and folders walked recursively for
` + strings.Join(batch.DefaultInclude, " ") + ` or the --include patterns) into OUTDIR, mirroring the
input tree with the new extension. One bad file never stops the batch: each input ends
ok, skipped (its output is up to date) or failed with the reason, and the exit status is
1 if any failed.

Outputs are written to temporary files and renamed into place when complete: after a
crash or kill -9 no partial output exists under its final name, and the temporaries are
removed by the next run. Each output records its source's size, modification time and
sha256, so a rerun skips what is up to date (--force converts again). Ctrl-C stops the
workers and reports what finished.

--shard K/N takes a stable share of the inputs (by a hash of each path relative to its
root): N runs with K = 0..N-1, on one machine or many, convert every file exactly once.

--check runs the parity check of each NAME.pt against its sibling NAME.ref.pt instead
of converting (the model flags apply) and reports pass or fail per model.`,
		Example: `  ptport batch models/ -o converted/
  ptport batch a.pt b.pth zoo/ -o out/ --to npz --jobs 4 --report report.jsonl
  ptport batch /data/zoo -o /data/out --shard $JOB_COMPLETION_INDEX/16
  ptport batch models/ --check --report parity.jsonl`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			opts.Model = mf.options()
			opts.Tolerance = tf.tolerance()
			opts.Pickle = mf.load.options()
			if !opts.Check {
				if opts.OutDir == "" {
					return fmt.Errorf("batch: -o OUTDIR is required (or --check)")
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
			var report io.Writer
			if reportPath != "" {
				f, err := os.Create(reportPath)
				if err != nil {
					return err
				}
				defer f.Close()
				report = f
			}
			plan, err := batch.NewPlan(opts)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			stderr := cmd.ErrOrStderr()
			p := newProgress(stderr, plan, quiet)
			sum, err := batch.Run(ctx, opts, func(r batch.Result) {
				if report != nil {
					line, _ := json.Marshal(r)
					report.Write(append(line, '\n'))
				}
				p.done(r)
			})
			p.stop()
			if err != nil {
				return err
			}
			fmt.Fprintln(stderr, summaryLine(sum, opts.Check))
			switch {
			case sum.Interrupted:
				return &exitError{code: 1, err: fmt.Errorf("interrupted: %d of %d inputs done", sum.Files, plan.Files)}
			case sum.Failed > 0:
				return &exitError{code: 1, err: fmt.Errorf("%d of %d inputs failed", sum.Failed, sum.Files)}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&opts.OutDir, "output", "o", "", "the output `FOLDER`")
	c.Flags().StringVar(&to, "to", "safetensors", "output format: safetensors, npz, json or pt")
	c.Flags().IntVar(&opts.Jobs, "jobs", 0, "workers converting files at once (default: the number of CPUs)")
	c.Flags().StringVar(&reportPath, "report", "", "write one JSON object per input to `FILE.jsonl`: input, output, status, error, bytes, seconds, tensors")
	c.Flags().StringVar(&shard, "shard", "", "take the share `K/N` of the inputs (0 <= K < N)")
	c.Flags().BoolVar(&opts.Force, "force", false, "convert inputs whose output is up to date")
	c.Flags().StringSliceVar(&opts.Include, "include", nil, "base-name glob `PATTERNS` of the files taken from folders (default "+strings.Join(batch.DefaultInclude, ",")+")")
	c.Flags().BoolVar(&opts.Check, "check", false, "check NAME.pt against NAME.ref.pt instead of converting")
	tf.register(c, " (with --check)")
	c.Flags().BoolVar(&opts.NoSync, "no-sync", false, "skip fsync of outputs (faster; a crash of ptport still leaves no partial output, a power loss may)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the summary and failures")
	mf.register(c)
	return c
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

func summaryLine(s batch.Summary, check bool) string {
	verb := "converted"
	if check {
		verb = "checked"
	}
	rate := ""
	if s.Seconds > 0 {
		rate = fmt.Sprintf(" (%.1f MB/s, %.0f files/s)", float64(s.Bytes)/1e6/s.Seconds, float64(s.Files)/s.Seconds)
	}
	line := fmt.Sprintf("%s %d inputs: %d ok, %d skipped, %d failed; %s in %.2fs%s",
		verb, s.Files, s.OK, s.Skipped, s.Failed, humanBytes(s.Bytes), s.Seconds, rate)
	if s.TempsRemoved > 0 {
		line += fmt.Sprintf("; removed %d temporaries of an interrupted run", s.TempsRemoved)
	}
	return line
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// progress shows a batch's progress: a live bar on a terminal, a line per input
// otherwise, failures only when quiet.
type progress struct {
	w     io.Writer
	plan  batch.Plan
	quiet bool
	live  bool
	start time.Time

	mu    sync.Mutex
	files int
	bytes int64
	quit  chan struct{}
	wg    sync.WaitGroup
}

func newProgress(w io.Writer, plan batch.Plan, quiet bool) *progress {
	p := &progress{w: w, plan: plan, quiet: quiet, start: time.Now(), quit: make(chan struct{})}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !quiet {
		p.live = true
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					p.mu.Lock()
					p.draw()
					p.mu.Unlock()
				case <-p.quit:
					return
				}
			}
		}()
	}
	return p
}

func (p *progress) done(r batch.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files++
	p.bytes += r.Bytes
	var line string
	switch {
	case r.Status == batch.StatusFailed:
		line = fmt.Sprintf("failed   %s: %s", r.Input, r.Error)
	case p.quiet || p.live:
	case r.Status == batch.StatusSkipped && r.Error != "":
		line = fmt.Sprintf("skipped  %s: %s", r.Input, r.Error)
	case r.Output != "":
		line = fmt.Sprintf("%-8s %s -> %s (%d tensors, %s, %.3fs)", r.Status, r.Input, r.Output, r.Tensors, humanBytes(r.Bytes), r.Seconds)
	default:
		line = fmt.Sprintf("%-8s %s (%.3fs)", r.Status, r.Input, r.Seconds)
	}
	if line == "" {
		return
	}
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, line)
	if p.live {
		p.draw()
	}
}

// draw redraws the bar; p.mu is held.
func (p *progress) draw() {
	const width = 30
	frac := 1.0
	if p.plan.Bytes > 0 {
		frac = float64(p.bytes) / float64(p.plan.Bytes)
	} else if p.plan.Files > 0 {
		frac = float64(p.files) / float64(p.plan.Files)
	}
	frac = min(frac, 1)
	fill := int(frac * width)
	el := time.Since(p.start).Seconds()
	rate, eta := 0.0, "?"
	if el > 0 {
		rate = float64(p.bytes) / el
	}
	if rate > 0 && frac > 0 {
		eta = (time.Duration(el*(1-frac)/frac) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d files  %s/%s  %s/s  ETA %s",
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill), p.files, p.plan.Files,
		humanBytes(p.bytes), humanBytes(p.plan.Bytes), humanBytes(int64(rate)), eta)
}

func (p *progress) stop() {
	close(p.quit)
	p.wg.Wait()
	if p.live {
		p.mu.Lock()
		p.draw()
		fmt.Fprintln(p.w)
		p.mu.Unlock()
	}
}
