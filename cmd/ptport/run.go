package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/pickle"
)

// runResult is what run prints with --json.
type runResult struct {
	Output string            `json:"output"`
	Format string            `json:"format"`
	Model  convert.ModelInfo `json:"model"`
	Shapes map[string][]int  `json:"shapes"`
	// InitialState says where each initial state came from, as check's does.
	InitialState parity.InitialState `json:"initial_state,omitzero"`
	Seconds      float64             `json:"seconds"`
}

func runCmd() *cobra.Command {
	var mf modelFlags
	var out, to string
	var ignore []string
	c := &cobra.Command{
		Use:   "run MODEL INPUT -o OUT",
		Short: "Run the Go model on an input and write output, h_n and c_n",
		Long: `run loads the recurrent module (or cell) in MODEL, runs it in Go on INPUT and writes
"output", "h_n" and, for an LSTM, "c_n" to OUT (.safetensors, .npz, .json or .pt, by
extension or --to). With --whole, or for a pickled Sequential without a recurrent module,
it runs the whole model and writes its "output" (and "h_n", "c_n" when its last layer is
recurrent).

INPUT is a reference-style file (a dict with "input" and optionally "h0", "c0", or h0 as
the tuple (h0, c0), and "batch_first", "nonlinearity"), read by the rules of check's
reference: an LSTM's h0 needs its c0, the input and states must be floating point (token
ids for --whole with an Embedding), any entry outside the schema is an error (the results
"output", "h_n", "c_n" are left out; --ignore leaves out others, but not input). Or INPUT is a file holding a single tensor, the
input. A cell takes one step, (batch, input_size) or (input_size), or a sequence (steps,
batch, input_size) that it steps through. MODEL or INPUT "-" is standard
input; OUT "-" is standard output (name the format with --to).

With --json: {"output", "format", "model", "shapes": {"output", "h_n", "c_n"} (what was
written), "initial_state": {"h0", "c0"} (the entry each came from, or "zeros"), "seconds"}.`,
		Example: `  ptport run model.pt input.pt -o out.safetensors
  ptport run lstm.pt ref.pt -o out.npz --batch-first`,
		Args:              usageArgs(cobra.ExactArgs(2)),
		ValidArgsFunction: completeInputs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := outputFormat(out, to)
			if err != nil {
				return err
			}
			if err := stdoutTaken(cmd, "-o", out); err != nil {
				return err
			}
			if args[0] == stdio && args[1] == stdio {
				return fmt.Errorf("MODEL and INPUT cannot both be standard input")
			}
			start := time.Now()
			model, doneModel, err := openCheckpoint(cmd.Context(), cmd, args[0], mf.load.options())
			if err != nil {
				return err
			}
			defer doneModel()
			in, done, err := openCheckpoint(cmd.Context(), cmd, args[1], mf.load.options())
			if err != nil {
				return err
			}
			defer done()
			meter := newMeter(cmd.ErrOrStderr(), "running "+escape(model.Path), 0, 0)
			o, err := parity.Run(cmd.Context(), model, in, parity.Options{Load: mf.options(), Ignore: ignore})
			meter.stop()
			if err != nil {
				if cmd.Context().Err() != nil {
					return stoppedIn(cmd.Context(), model.Path, err)
				}
				var le *pickle.LimitError
				if errors.As(err, &le) {
					err = inFile(in.Path, err) // the input's size is what the limit judged
				}
				return withHints(aboutNamed(err, in.Path, model.Path), swapArguments)
			}
			m, y, hn, cn := o.Model, o.Output, o.HN, o.CN
			res := runResult{Output: out, Format: string(format), Model: m.Info(), Shapes: map[string][]int{}, InitialState: o.InitialState}
			leaves := []pickle.Leaf{{Name: parity.RefOutput, Value: y}}
			res.Shapes[parity.RefOutput] = y.Shape
			shapes := fmt.Sprintf("output %v", y.Shape)
			if hn != nil {
				leaves = append(leaves, pickle.Leaf{Name: parity.RefHN, Value: hn})
				res.Shapes[parity.RefHN] = hn.Shape
				shapes += fmt.Sprintf(", h_n %v", hn.Shape)
			}
			if cn != nil {
				leaves = append(leaves, pickle.Leaf{Name: parity.RefCN, Value: cn})
				res.Shapes[parity.RefCN] = cn.Shape
				shapes += fmt.Sprintf(", c_n %v", cn.Shape)
			}
			result := convert.FromLeaves(out, leaves)
			if out == stdio {
				err = convert.Encode(cmd.Context(), cmd.OutOrStdout(), format, result)
			} else if err = os.MkdirAll(filepath.Dir(out), 0o755); err == nil {
				err = convert.Export(cmd.Context(), out, format, result)
			}
			if err != nil {
				target := out
				if out == stdio {
					target = model.Path
				}
				return stoppedIn(cmd.Context(), target, inFile(out, err))
			}
			res.Seconds = time.Since(start).Seconds()
			if jsonMode(cmd) {
				return printJSON(cmd, res)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %s\n", outputName(out), shapes)
			return nil
		},
	}
	mf.register(c)
	c.Flags().StringVarP(&out, "output", "o", "", "the output `FILE` (required; its folder is created if need be; - for standard output)")
	c.Flags().StringVar(&to, "to", "", "output `FORMAT`: "+formatList()+" (default: from OUT's extension)")
	c.Flags().StringSliceVar(&ignore, "ignore", nil, "leave the entries `NAMES` of INPUT out (comma separated, or the flag repeated)")
	c.MarkFlagRequired("output")
	c.RegisterFlagCompletionFunc("to", completeWords(formatNames()...))
	c.RegisterFlagCompletionFunc("output", completeFiles(outputExts...))
	return c
}
