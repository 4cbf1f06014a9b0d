package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert/bench"
)

func benchCmd() *cobra.Command {
	var mf modelFlags
	var seq, batch int
	var minTime time.Duration
	c := &cobra.Command{
		Use:   "bench MODEL",
		Short: "Time the Go forward pass of a model on random input",
		Long: `bench loads the recurrent module in MODEL and times its Go forward pass on random input of
--seq steps and --batch sequences (0: one unbatched sequence), reporting the median. A cell
steps through the --seq steps; with --whole, the whole model runs, from random token ids
for an Embedding.

With --json: {"ns_per_forward", "min_ns", "max_ns", "iterations", "seq", "batch", "model"}.`,
		Example: `  ptport bench model.pt
  ptport bench lstm.pt --seq 100 --batch 32 --json`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeInputs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := mf.loadModel(cmd, args[0])
			if err != nil {
				return err
			}
			meter := newMeter(cmd.ErrOrStderr(), "timing "+escape(m.Info().Module), 0, 0)
			r, err := bench.Forward(cmd.Context(), m, seq, batch, minTime)
			meter.stop()
			if err != nil {
				return inFile(args[0], err)
			}
			if jsonMode(cmd) {
				return printJSON(cmd, r)
			}
			timed := r.Model.Module
			if r.Model.Whole && len(r.Model.Layers) > 0 { // what ran, as check's "whole" line names it
				modules := make([]string, len(r.Model.Layers))
				for i, l := range r.Model.Layers {
					modules[i] = l.Module
				}
				timed = strings.Join(modules, " -> ")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s, %s, seq %d, batch %d: %.4g ms per forward (median of %d; min %.4g ms, max %.4g ms)\n",
				timed, r.Model.DType, seq, batch, r.NsPerForward/1e6, r.Iterations, r.MinNs/1e6, r.MaxNs/1e6)
			return nil
		},
	}
	mf.register(c)
	c.Flags().IntVar(&seq, "seq", 100, "sequence length `T` (steps)")
	c.Flags().IntVar(&batch, "batch", 1, "batch size `B` (0: unbatched input)")
	c.Flags().DurationVar(&minTime, "time", time.Second, "time `D` to spend measuring (1s, 500ms)")
	return c
}
