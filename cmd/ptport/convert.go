package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
)

func convertCmd() *cobra.Command {
	var out, to string
	var load loadFlags
	c := &cobra.Command{
		Use:   "convert IN -o OUT",
		Short: "Convert a checkpoint to safetensors, npz, JSON or .pt",
		Long: `convert writes every tensor of IN, C-contiguous and byte-exact, under its dotted name to
OUT, in the format OUT's extension names (or --to). Non-tensor values such as epoch are
kept as JSON: in safetensors' __metadata__ under "ptport.values", in an npz as the
string array "__metadata__", in JSON under "values". The output appears whole or not at
all.`,
		Example: `  ptport convert model.pt -o model.safetensors
  ptport convert checkpoint.pth -o weights.npz
  ptport convert model.pt -o model.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := outputFormat(out, to)
			if err != nil {
				return err
			}
			start := time.Now()
			cp, err := convert.Open(args[0], load.options())
			if err != nil {
				return err
			}
			defer cp.Close()
			if err := convert.Export(cmd.Context(), out, format, cp); err != nil {
				return fmt.Errorf("%s: %w", out, err)
			}
			inv := convert.Inspect(cp)
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d tensors (%d bytes), %d values in %.3fs\n",
				out, len(inv.Tensors), inv.Bytes, len(inv.Values), time.Since(start).Seconds())
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "the output `FILE` (required)")
	c.Flags().StringVar(&to, "to", "", "output format: safetensors, npz, json or pt (default: from OUT's extension)")
	load.register(c)
	c.MarkFlagRequired("output")
	return c
}

// outputFormat is the format --to names, or else the output's extension.
func outputFormat(out, to string) (convert.Format, error) {
	if to != "" {
		return convert.FormatOf(to)
	}
	return convert.FormatOf(out)
}
