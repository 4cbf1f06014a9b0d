package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/pickle"
)

// runResult is what run prints with --json.
type runResult struct {
	Output  string            `json:"output"`
	Format  string            `json:"format"`
	Model   convert.ModelInfo `json:"model"`
	Shapes  map[string][]int  `json:"shapes"`
	Seconds float64           `json:"seconds"`
}

func runCmd() *cobra.Command {
	var mf modelFlags
	var out, to string
	c := &cobra.Command{
		Use:   "run MODEL INPUT -o OUT",
		Short: "Run the Go model on an input and write output, h_n and c_n",
		Long: `run loads the recurrent module (or cell) in MODEL, runs it in Go on INPUT and writes
"output", "h_n" and, for an LSTM, "c_n" to OUT (.safetensors, .npz, .json or .pt, by
extension or --to). With --whole, or for a pickled Sequential without a recurrent module,
it runs the whole model and writes its "output" (and "h_n", "c_n" when its last layer is
recurrent).

INPUT is a reference-style file (a dict with "input" and optionally "h0", "c0") or a file
holding a single tensor. A cell takes one step, (batch, input_size) or (input_size), or a
sequence (steps, batch, input_size) that it steps through. MODEL or INPUT "-" is standard
input; OUT "-" is standard output (name the format with --to).

With --json: {"output", "format", "model", "shapes": {"output", "h_n", "c_n"}, "seconds"}.`,
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
			m, err := mf.loadModel(cmd, args[0])
			if err != nil {
				return err
			}
			in, done, err := openCheckpoint(cmd.Context(), cmd, args[1], mf.load.options())
			if err != nil {
				return err
			}
			defer done()
			x, h0, c0, err := parity.Inputs(in)
			if err != nil {
				return err
			}
			meter := newMeter(cmd.ErrOrStderr(), "running "+escape(m.Info().Module), 0, 0)
			y, hn, cn, err := m.Forward(x, h0, c0)
			meter.stop()
			if err != nil {
				return inFile(in.Path, fmt.Errorf("%s: %w", escape(in.Path), err))
			}
			res := runResult{Output: out, Format: string(format), Model: m.Info(), Shapes: map[string][]int{}}
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
			} else {
				err = convert.Export(cmd.Context(), out, format, result)
			}
			if err != nil {
				return inFile(out, fmt.Errorf("%s: %w", escape(out), err))
			}
			res.Seconds = time.Since(start).Seconds()
			if jsonMode(cmd) {
				return printJSON(cmd, res)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %s\n", escape(out), shapes)
			return nil
		},
	}
	mf.register(c)
	c.Flags().StringVarP(&out, "output", "o", "", "the output `FILE` (required; - for standard output)")
	c.Flags().StringVar(&to, "to", "", "output format: "+formatList()+" (default: from OUT's extension)")
	c.MarkFlagRequired("output")
	c.RegisterFlagCompletionFunc("to", completeWords(formatNames()...))
	c.RegisterFlagCompletionFunc("output", completeFiles(outputExts...))
	return c
}
