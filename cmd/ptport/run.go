package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/pickle"
)

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
sequence (steps, batch, input_size) that it steps through.`,
		Example: `  ptport run model.pt input.pt -o out.safetensors
  ptport run lstm.pt ref.pt -o out.npz --batch-first`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := outputFormat(out, to)
			if err != nil {
				return err
			}
			m, err := mf.loadModel(args[0])
			if err != nil {
				return err
			}
			in, err := convert.Open(args[1], mf.load.options())
			if err != nil {
				return err
			}
			defer in.Close()
			x, h0, c0, err := parity.Inputs(in)
			if err != nil {
				return err
			}
			y, hn, cn, err := m.Forward(x, h0, c0)
			if err != nil {
				return fmt.Errorf("%s: %w", args[1], err)
			}
			leaves := []pickle.Leaf{{Name: parity.RefOutput, Value: y}}
			shapes := fmt.Sprintf("output %v", y.Shape)
			if hn != nil {
				leaves = append(leaves, pickle.Leaf{Name: parity.RefHN, Value: hn})
				shapes += fmt.Sprintf(", h_n %v", hn.Shape)
			}
			if cn != nil {
				leaves = append(leaves, pickle.Leaf{Name: parity.RefCN, Value: cn})
				shapes += fmt.Sprintf(", c_n %v", cn.Shape)
			}
			if err := convert.Export(cmd.Context(), out, format, convert.FromLeaves(out, leaves)); err != nil {
				return fmt.Errorf("%s: %w", out, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %s\n", out, shapes)
			return nil
		},
	}
	mf.register(c)
	c.Flags().StringVarP(&out, "output", "o", "", "the output `FILE` (required)")
	c.Flags().StringVar(&to, "to", "", "output format: safetensors, npz, json or pt (default: from OUT's extension)")
	c.MarkFlagRequired("output")
	return c
}
