package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport"
	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/convert/plot"
)

func checkCmd() *cobra.Command {
	var mf modelFlags
	var tf toleranceFlags
	var plotPath string
	var ignore []string
	c := &cobra.Command{
		Use:   "check [MODEL REF]",
		Short: "Run the Go model on a reference input and compare with PyTorch's output",
		Long: `check loads the recurrent module or cell in MODEL, runs it in Go on REF's input and initial
states, and compares every result REF holds (output, h_n, c_n) element by element: an
element passes when |go - ref| <= atol + rtol*|ref|, as torch.testing.assert_close, with
its defaults by dtype (float32: atol 1e-5, rtol 1.3e-6; float64: 1e-7, 1e-7; a float16
or bfloat16 reference: rtol 1e-3 or 1.6e-2).

Every result is also compared with the float64 truth: the same model computed again in
float64 from the same weights and inputs (with gonum's BLAS, not ptport's kernels). For a
model computed below float64, a tensor beyond its tolerance still passes when Go and the
reference are both float32 rounding around that truth (within 4x of each other and of
the measured rounding noise); a reference from other weights or another configuration,
a wrong result and wrong weights still fail. A failing check tries the usual porting
mistakes (batch_first, tanh/relu, transposed weights, gate order, biases missing or
doubled, h0 ignored, the reverse direction misread) and names the one that explains it,
or what the reference saved wrongly (the output's last time step alone, results
computed in train mode with dropout between the layers). For batch_first or the
nonlinearity, a fix line says what to change where the setting came from: the flag, or
the reference or the pickled module that gave it (no flag overrides those). A reference saved as a tuple is
an error saying to save a dict; MODEL and REF given the other way round are said to be;
--ignore naming no entry is an error listing them.

REF is what a notebook exports, a dict of:
    input                      the model's input (floating point)
    h0, c0                     the initial states (optional; c0 with h0, for an LSTM);
                               h0 may be the tuple (h0, c0), also named hx or hidden
    output                     the model's output
    h_n, c_n                   the final states (optional); h_n may be the tuple (h, c)
    batch_first, nonlinearity  the configuration, as values (optional)
Any other entry is an error naming the closest known name, unless --ignore leaves it out.
--ignore leaves out anything but input and output (an error); a state left out is zeros,
and a member of a tuple (h_n.1) may be left out alone.
For a cell (nn.LSTMCell, ...), input is one step as the cell takes it, or a sequence
(steps, batch, input_size) the cell steps through; output is h after every step and h_n
the last. With --whole, input is the whole model's (int64 token ids for an Embedding) and
output its output; the truth is then the whole model's, every layer computed in float64,
and the diagnosis makes the recurrent module's mistakes inside it (and tries a square
Linear head transposed).

With no arguments, check runs the embedded notebook example: torch.nn.RNN(2, 4, 1) with
the notebook's weights on zeros of shape (2, 3, 2), and shows the notebook's printed
numbers beside PyTorch's and Go's.

MODEL or REF "-" is standard input.

With --json: {pass, rule, max_abs_err, max_rel_err, model, model_file, reference,
initial_state, settings: {batch_first, nonlinearity} (where each came from: module,
reference, options or default), ignored, tensors: [{name, entry, shape, atol, rtol,
max_abs_err, mismatches, go_truth, ref_truth, rule, pass, reason, ...}], diagnosis:
[{name, description, max_abs_err}], fix (the fix lines)}.

Exit status: 0 pass, 1 mismatch, 2 unusable input.`,
		Example: `  ptport check
  ptport check model.pt ref.pt
  ptport check ckpt.pth ref.pt --prefix encoder.rnn --batch-first --json
  ptport check model.pt ref.pt --ignore epoch --plot err.svg
  ptport check charlstm.pt ids_logits.pt --whole`,
		ValidArgsFunction: completeInputs,
		Args: usageArgs(func(c *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return fmt.Errorf("want no arguments (the notebook example) or MODEL and REF, got %d", len(args))
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			if plotPath != "" {
				if err := plot.CheckPath(plotPath); err != nil {
					return err // before any work
				}
			}
			notebook := len(args) == 0
			var model, ref *convert.Checkpoint
			var err error
			if notebook {
				model, err = convert.NewCheckpointContext(cmd.Context(), "notebook model.pt", bytes.NewReader(ptport.NotebookModel), int64(len(ptport.NotebookModel)), nil)
				if err == nil {
					ref, err = convert.NewCheckpointContext(cmd.Context(), "notebook reference.pt", bytes.NewReader(ptport.NotebookReference), int64(len(ptport.NotebookReference)), nil)
				}
			} else {
				if args[0] == stdio && args[1] == stdio {
					return fmt.Errorf("MODEL and REF cannot both be standard input")
				}
				var doneModel, doneRef func()
				model, doneModel, err = openCheckpoint(cmd.Context(), cmd, args[0], mf.load.options())
				if err == nil {
					defer doneModel()
					ref, doneRef, err = openCheckpoint(cmd.Context(), cmd, args[1], mf.load.options())
					if err == nil {
						defer doneRef()
					}
				}
			}
			if err != nil {
				return err
			}
			meter := newMeter(cmd.ErrOrStderr(), "checking "+escape(model.Path), 0, 0)
			r, err := parity.Check(cmd.Context(), model, ref, parity.Options{Load: mf.options(), Tolerance: tf.tolerance(), Ignore: ignore})
			meter.stop()
			if err != nil {
				if cmd.Context().Err() != nil {
					return stoppedIn(cmd.Context(), model.Path, err)
				}
				return withHints(aboutNamed(err, ref.Path, model.Path), swapArguments)
			}
			// A plot that cannot be written does not take the verdict away: the report
			// is printed and the exit status is the verdict's, the plot's error beside.
			var plotErr error
			if plotPath != "" {
				plotErr = savePlot(r, plotPath)
			}
			w := cmd.OutOrStdout()
			switch {
			case jsonMode(cmd):
				if err := writeJSON(w, checkJSON{Report: r, Fix: fixes(r)}); err != nil {
					return err
				}
			case notebook:
				printNotebook(w, r)
				printReport(w, r)
			default:
				printReport(w, r)
			}
			switch {
			case plotErr != nil:
				fmt.Fprintf(cmd.ErrOrStderr(), "ptport: %s\n", message(plotErr))
			case plotPath != "" && !jsonMode(cmd):
				fmt.Fprintf(w, "plot: %s\n", escape(plotPath))
			}
			if !r.Pass {
				return errMismatch
			}
			return nil
		},
	}
	mf.register(c)
	tf.register(c, "")
	c.Flags().StringSliceVar(&ignore, "ignore", nil, "leave the reference entries `NAMES` out of the check (comma separated, or the flag repeated)")
	c.Flags().StringVar(&plotPath, "plot", "", "draw the output's max abs error per time step to `FILE` (.svg or .png; its folder is created if need be)")
	c.RegisterFlagCompletionFunc("plot", completeFiles("svg", "png"))
	return c
}

// savePlot draws the report's plot to path, creating its folder if need be.
func savePlot(r *parity.Report, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return plot.Save(r, path)
}

// swapArguments is the hint for a model's file and a reference given the other way round
// as a command's arguments.
const swapArguments = "swap the two arguments: the model's file first"

// withHints adds to a check's error the flags that would fix it, and swap, how to give
// the model's file and the reference the right way round, when they were not.
func withHints(err error, swap string) error {
	var rerr *parity.ReferenceError
	if !errors.As(err, &rerr) {
		return err
	}
	var hints []string
	if len(rerr.Unknown) > 0 {
		var names []string
		for _, u := range rerr.Unknown {
			names = append(names, escape(u.Name))
		}
		hints = append(hints, "to leave them out: --ignore "+strings.Join(names, ","))
	}
	for _, p := range rerr.Problems {
		switch p.Kind {
		case parity.ProblemTokenIDs:
			hints = append(hints, "to run the whole model from token ids: --whole")
		case parity.ProblemWholeInput:
			hints = append(hints, "to run the whole model: --whole")
		case parity.ProblemNoFinalState:
			hints = append(hints, "to leave them out: --ignore "+strings.Join(escapeAll(p.Entries), ","))
		case parity.ProblemSwapped:
			hints = append(hints, swap)
		}
	}
	if rerr.BatchFirst != nil {
		if *rerr.BatchFirst {
			hints = append(hints, "for batch_first=True: --batch-first")
		} else {
			hints = append(hints, "for batch_first=False: drop --batch-first")
		}
	}
	if len(hints) == 0 {
		return err
	}
	return &hintError{err: err, hint: strings.Join(hints, "; ")}
}

// notebookPrinted is what the notebook printed for y[0] and y[1] of every batch row:
// the first feature at 4 decimals, the other three 0.
var notebookPrinted = []string{"[0.0997, 0, 0, 0]", "[0.1971, 0, 0, 0]"}

// printNotebook shows the notebook's printed output beside PyTorch's and Go's.
func printNotebook(w io.Writer, r *parity.Report) {
	fmt.Fprint(w, `The notebook example: torch.nn.RNN(2, 4, 1) with weight_ih_l0 = [[1,2,3,4],[5,6,7,8]]^T,
weight_hh_l0 = I4, bias_ih_l0 = [0.1,0,0,0], bias_hh_l0 = 0, on zeros (2, 3, 2) from h0 = 0.

`)
	got, want := r.Values(parity.RefOutput)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tnotebook printed\tPyTorch (reference.pt)\tGo")
	const feat, batch = 4, 3
	for t := range 2 {
		for b := range batch {
			i := (t*batch + b) * feat
			fmt.Fprintf(tw, "y[%d][%d]\t%s\t%s\t%s\n", t, b, notebookPrinted[t], vector(want[i:i+feat]), vector(got[i:i+feat]))
		}
	}
	tw.Flush()
	hn, _ := r.Values(parity.RefHN)
	fmt.Fprintf(w, "h_n equals y[1] in Go: %v\n\n", slices.Equal(hn, got[batch*feat:]))
}

func vector(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'g', 8, 64)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// printReport prints the report's table, verdict and diagnosis, and the flag that fixes
// a mistake of configuration the diagnosis names.
func printReport(w io.Writer, r *parity.Report) {
	// The names in the report come from the files: the text shows them escaped.
	t := *r
	t.ModelFile, t.Reference = escape(r.ModelFile), escape(r.Reference)
	t.Model.Prefix = escape(r.Model.Prefix)
	t.Ignored = escapeAll(r.Ignored)
	t.Tensors = slices.Clone(r.Tensors)
	for i := range t.Tensors {
		t.Tensors[i].Name, t.Tensors[i].Entry = escape(t.Tensors[i].Name), escape(t.Tensors[i].Entry)
		t.Tensors[i].Reason = escape(t.Tensors[i].Reason)
	}
	t.WriteText(w)
	for _, f := range fixes(r) {
		fmt.Fprintln(w, "fix: "+f)
	}
}

// checkJSON is check's report in --json mode: the report, and its fix lines.
type checkJSON struct {
	*parity.Report
	Fix []string `json:"fix,omitempty"` // the text's "fix:" lines (see fixes)
}

// fixes say how to fix the mistakes of configuration a report's diagnosis names: by the
// flag that sets it, or, for a setting that came from the reference or the pickled
// module (Report.Settings), by changing that file.
func fixes(r *parity.Report) []string {
	var out []string
	for _, m := range r.Diagnosis {
		switch m.Name {
		case parity.MistakeBatchFirst:
			bf := r.Model.BatchFirst
			switch r.Settings.BatchFirst {
			case parity.FromReference:
				out = append(out, fmt.Sprintf("save the reference with batch_first %s (it says %s)", pyBool(!bf), pyBool(bf)))
			case parity.FromModule:
				out = append(out, fmt.Sprintf("the pickled module has batch_first=%s: compute the reference with it as saved, or save it with batch_first=%s", pyBool(bf), pyBool(!bf)))
			case parity.FromOptions:
				if bf {
					out = append(out, "without --batch-first")
					break
				}
				fallthrough
			default:
				out = append(out, "--batch-first")
			}
		case parity.MistakeNonlinearity:
			have, want := "tanh", "relu"
			if r.Model.Mode == "RNN_RELU" {
				have, want = want, have
			}
			switch r.Settings.Nonlinearity {
			case parity.FromReference:
				out = append(out, fmt.Sprintf("save the reference with nonlinearity %q (it says %q)", want, have))
			case parity.FromModule:
				out = append(out, fmt.Sprintf("the pickled module has nonlinearity='%s': compute the reference with it as saved, or save it with nonlinearity='%s'", have, want))
			default:
				out = append(out, "--nonlinearity "+want)
			}
		}
	}
	return out
}

// pyBool spells b as Python does.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
