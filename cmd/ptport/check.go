package main

import (
	"bytes"
	"fmt"
	"io"
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
	var asJSON bool
	var plotPath string
	tol := parity.DefaultTolerance
	c := &cobra.Command{
		Use:   "check [MODEL REF]",
		Short: "Run the Go model on a reference input and compare with PyTorch's output",
		Long: `check loads the recurrent module in MODEL, runs it in Go on REF's input (and h0, c0 when
present), and compares every output REF holds (output, h_n, c_n) element by element:
an element passes when |go - ref| <= atol + rtol*|ref|, as torch.testing.assert_close.

REF is what a notebook exports:
    torch.save({"input": x, "h0": h0, "output": y, "h_n": hn}, "ref.pt")
(h0, c0 and c_n optional; c0 and c_n for an LSTM).

With no arguments, check runs the embedded notebook example: torch.nn.RNN(2, 4, 1) with
the notebook's weights on zeros of shape (2, 3, 2), and shows the notebook's printed
numbers beside PyTorch's and Go's.

Exit status: 0 pass, 1 mismatch, 2 unusable input.`,
		Example: `  ptport check
  ptport check model.pt ref.pt
  ptport check ckpt.pth ref.pt --prefix encoder.rnn --batch-first --json
  ptport check model.pt ref.pt --plot err.svg`,
		Args: usageArgs(func(c *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return fmt.Errorf("want no arguments (the notebook example) or MODEL and REF, got %d", len(args))
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			notebook := len(args) == 0
			var model, ref *convert.Checkpoint
			var err error
			if notebook {
				model, err = convert.NewCheckpoint("notebook model.pt", bytes.NewReader(ptport.NotebookModel), int64(len(ptport.NotebookModel)), nil)
				if err == nil {
					ref, err = convert.NewCheckpoint("notebook reference.pt", bytes.NewReader(ptport.NotebookReference), int64(len(ptport.NotebookReference)), nil)
				}
			} else {
				model, err = convert.Open(args[0], pickleOptions(mf.allowObjects))
				if err == nil {
					defer model.Close()
					ref, err = convert.Open(args[1], pickleOptions(mf.allowObjects))
				}
			}
			if err != nil {
				return err
			}
			defer ref.Close()
			m, err := convert.Load(model, mf.options())
			if err != nil {
				return err
			}
			r, err := parity.Check(cmd.Context(), m, ref, tol)
			if err != nil {
				return err
			}
			if plotPath != "" {
				if err := plot.Save(r, plotPath); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			switch {
			case asJSON:
				if err := writeJSON(w, r); err != nil {
					return err
				}
			case notebook:
				printNotebook(w, r)
				printReport(w, model.Path, ref.Path, r)
			default:
				printReport(w, model.Path, ref.Path, r)
			}
			if plotPath != "" && !asJSON {
				fmt.Fprintf(w, "plot: %s\n", plotPath)
			}
			if !r.Pass {
				return errMismatch
			}
			return nil
		},
	}
	mf.register(c)
	c.Flags().Float64Var(&tol.Atol, "atol", tol.Atol, "absolute tolerance")
	c.Flags().Float64Var(&tol.Rtol, "rtol", tol.Rtol, "relative tolerance")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON: {pass, max_abs_err, max_rel_err, model, tensors: [{name, shape, max_abs_err, max_rel_err}]}")
	c.Flags().StringVar(&plotPath, "plot", "", "draw the output's max abs error per time step to `FILE` (.svg or .png)")
	return c
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

// printReport prints the per-tensor table and the verdict.
func printReport(w io.Writer, model, ref string, r *parity.Report) {
	m := r.Model
	prefix := ""
	if m.Prefix != "" {
		prefix = fmt.Sprintf(" under %q", m.Prefix)
	}
	fmt.Fprintf(w, "model      %s: %s%s, %s\n", model, m.Module, prefix, strings.ToLower(m.DType))
	fmt.Fprintf(w, "reference  %s\n\n", ref)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tSHAPE\tMAX ABS ERR\tMAX REL ERR\tMISMATCHES\tRESULT")
	for _, t := range r.Tensors {
		result := "pass"
		if !t.Pass {
			result = "FAIL"
		}
		if t.Error != "" {
			result += ": " + t.Error
		}
		fmt.Fprintf(tw, "%s\t%v\t%.3g\t%.3g\t%d\t%s\n", t.Name, t.Shape, t.MaxAbsErr, t.MaxRelErr, t.Mismatches, result)
	}
	tw.Flush()
	verdict := "PASS: Go matches PyTorch"
	if !r.Pass {
		verdict = "FAIL: Go differs from PyTorch"
	}
	fmt.Fprintf(w, "\n%s within atol %g, rtol %g (max abs err %.3g, max rel err %.3g)\n", verdict, r.Atol, r.Rtol, r.MaxAbsErr, r.MaxRelErr)
}
