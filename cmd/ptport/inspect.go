package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
)

func inspectCmd() *cobra.Command {
	var load loadFlags
	c := &cobra.Command{
		Use:   "inspect FILE",
		Short: "List a checkpoint's tensors, values and the globals it references",
		Long: `inspect lists what a checkpoint holds without reading tensor data: its container format,
every tensor's name, dtype, shape, size and storage (tensors viewing one storage are
marked shared), the non-tensor values (epoch, config, ...), the globals the pickle
references and which of them torch.load(weights_only=True) would refuse, and the
recurrent modules ptport can run. FILE "-" is standard input. A sharded checkpoint's
index is listed as one checkpoint; a shard on its own is listed with a note.

With --json: {"file", "format", "tensors": [{"name", "dtype", "shape", "bytes", "storage",
...}], "values", "globals", "weights_only": {"loads", "refuses", "refusal"}, "bytes",
"models", "shared", "shards"}.`,
		Example: `  ptport inspect model.pt
  ptport inspect checkpoint.pth --json | jq '.tensors[].name'
  curl -s https://example.com/model.pt | ptport inspect -`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeInputs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cp, done, err := openCheckpoint(cmd.Context(), cmd, args[0], load.options())
			var shard *convert.ShardError
			if errors.As(err, &shard) {
				// a shard alone: list it, saying what it is
				cp, err = convert.OpenShard(args[0], load.options())
				done = func() { cp.Close() }
			}
			if err != nil {
				return err
			}
			defer done()
			inv := convert.Inspect(cp)
			if shard != nil {
				inv.ShardOf = shard.Error()
			}
			if jsonMode(cmd) {
				return printJSON(cmd, inv)
			}
			w := cmd.OutOrStdout()
			// Names, values, keys and globals come from the file: printed escaped.
			fmt.Fprintf(w, "%s: %s format, %d tensors (%d bytes), %d values\n", escape(inv.File), inv.Format, len(inv.Tensors), inv.Bytes, len(inv.Values))
			if shard != nil {
				fmt.Fprintf(w, "note: %s\n", escape(shard.Error()))
			}
			if len(inv.Tensors) > 0 {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "\nNAME\tDTYPE\tSHAPE\tBYTES\tSTORAGE\tLAYOUT")
				for _, t := range inv.Tensors {
					layout := "contiguous"
					if !t.Contiguous {
						layout = fmt.Sprintf("strides %v", t.Strides)
					}
					if t.Offset != 0 {
						layout += fmt.Sprintf(", offset %d", t.Offset)
					}
					if t.SharedBy > 0 {
						layout += fmt.Sprintf(", storage shared by %d tensors", t.SharedBy)
					}
					if t.Device != "" && t.Device != "cpu" {
						layout += ", saved on " + escape(t.Device)
					}
					fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%s\t%s\n", escape(t.Name), escape(string(t.DType)), t.Shape, t.Bytes, escape(t.Storage), layout)
				}
				tw.Flush()
			}
			if len(inv.Values) > 0 {
				fmt.Fprintln(w, "\nvalues:")
				for _, v := range inv.Values {
					fmt.Fprintf(w, "  %s = %s\n", escape(v.Name), escape(fmt.Sprintf("%s", v.Value)))
				}
			}
			if len(inv.Shared) > 0 {
				if inv.SharedCopies {
					fmt.Fprintln(w, "\nshared storages in the source, copies here (tied weights):")
				} else {
					fmt.Fprintln(w, "\nshared storages (tied weights):")
				}
				for _, g := range inv.Shared {
					names := make([]string, len(g))
					for i, n := range g {
						names[i] = escape(n)
					}
					fmt.Fprintf(w, "  %s\n", strings.Join(names, ", "))
				}
			}
			if len(inv.Models) > 0 {
				fmt.Fprintln(w, "\nrecurrent modules (prefix, architecture):")
				for _, m := range inv.Models {
					fmt.Fprintf(w, "  %s\n", escape(fmt.Sprint(m)))
				}
			}
			fmt.Fprintf(w, "\nglobals: %s\n", strings.Join(escapeAll(inv.Globals), ", "))
			if wo := inv.WeightsOnly; wo != nil {
				switch {
				case wo.Loads:
					fmt.Fprintln(w, "torch.load(weights_only=True) loads it")
				case len(wo.Refuses) > 0:
					fmt.Fprintf(w, "weights_only=True would refuse: %s\n", strings.Join(escapeAll(wo.Refuses), ", "))
				default:
					fmt.Fprintf(w, "weights_only=True would refuse it: %s\n", escape(wo.Refusal))
				}
			}
			return nil
		},
	}
	load.register(c)
	return c
}
