package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

func inspectCmd() *cobra.Command {
	var load loadFlags
	c := &cobra.Command{
		Use:   "inspect FILE...",
		Short: "List a checkpoint's tensors, values and the globals it references",
		Long: `inspect lists what a checkpoint holds without reading tensor data: its container format,
every tensor's name, dtype, shape, size and storage (tensors viewing one storage are
marked shared), the non-tensor values (epoch, config, ...), the globals the pickle
references and which of them torch.load(weights_only=True) would refuse, and the
recurrent modules ptport can run, with the whole model around each (the Embedding,
recurrent module and Linear of a state_dict, a pickled Sequential) as check, run and
bench --whole run it. It marks quantized tensors (their scheme, scale and
zero point), tensors with torch's lazy conjugate or negative bit, meta tensors (a
shape, no data), the parts of quantized, sparse and nested tensors, and TorchScript
archives. FILE "-" is standard input. A sharded checkpoint's index is listed as one
checkpoint; a shard on its own is listed with a note.

Several files are listed in order, a section each (separated by an empty line). A file
that cannot be read is reported in its place (on standard error; with --json, as its
{"error", "file"} object) and the others are still listed; the exit status is then 2.

With --json, one object per file, one after the other (as "go list -json" prints
them; jq reads them as a stream; a single file gives a single object): {"file", "format", "tensors": [{"name", "dtype", "shape", "bytes", "storage",
..., "quantization", "conj", "neg", "no_data", "part_of"}], "values", "globals",
"weights_only": {"loads", "refuses", "refusal"}, "torchscript": {"class", "constants"},
"bytes", "models", "unstored_nonlinearity" (the plain RNNs whose nonlinearity a
state_dict does not store), "whole": [{"prefix", "layers": [{"prefix", "module"}],
"unknown", "sequential"}], "shared", "shared_copies" (the file holds copies of them),
"shards" (of an index), "shard_of" (a shard's note), "as_data"}.`,
		Example: `  ptport inspect model.pt
  ptport inspect runs/*.pt
  ptport inspect checkpoint.pth --json | jq '.tensors[].name'
  curl -s https://example.com/model.pt | ptport inspect -`,
		Args:              usageArgs(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeInputs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if i := slices.Index(args, stdio); i >= 0 && slices.Contains(args[i+1:], stdio) {
				return &usageError{errors.New("inspect: - (standard input) given twice\nUsage: " + cmd.UseLine())}
			}
			failed, listed := false, false
			for _, path := range args {
				if err := cmd.Context().Err(); err != nil {
					return stoppedIn(cmd.Context(), path, err)
				}
				err := inspectFile(cmd, path, load.options(), listed)
				switch {
				case err == nil:
					listed = true
				case len(args) == 1 || cmd.Context().Err() != nil:
					return stoppedIn(cmd.Context(), path, err)
				default: // in its place, and on with the others
					report(cmd.OutOrStdout(), cmd.ErrOrStderr(), jsonMode(cmd), err)
					failed = true
				}
			}
			if failed {
				return &exitError{code: 2, err: errors.New("some files could not be read"), silent: true}
			}
			return nil
		},
	}
	load.register(c)
	return c
}

// inspectFile prints what the checkpoint at path holds: text (after an empty line when
// another follows) or, with --json, one JSON object.
func inspectFile(cmd *cobra.Command, path string, opts *pickle.Options, follows bool) error {
	cp, done, err := openCheckpoint(cmd.Context(), cmd, path, opts)
	var shard *convert.ShardError
	if errors.As(err, &shard) {
		// a shard alone: list it, saying what it is
		if cp, err = convert.OpenShardContext(cmd.Context(), path, opts); err != nil {
			err = inFile(path, err)
		} else {
			done = func() { cp.Close() }
		}
	}
	if err != nil {
		return err
	}
	inv, err := convert.InspectContext(cmd.Context(), cp)
	// The listing needs nothing more of the file: closing it first lets its tree and
	// leaves go while the listing is made, which can take as much room.
	done()
	if err != nil {
		return inFile(path, err)
	}
	if shard != nil {
		inv.ShardOf = shard.Error()
	}
	// The listing is written whole once made (seconds for a million tensors), or not at
	// all when the command is stopped while it is made. json.Encoder makes the whole
	// document before its one Write.
	if jsonMode(cmd) {
		return writeJSON(wholeWriter{cmd, path}, inv)
	}
	var out bytes.Buffer
	if follows {
		fmt.Fprintln(&out)
	}
	printInventory(&out, inv, shard)
	if err := cmd.Context().Err(); err != nil {
		return inFile(path, err)
	}
	_, err = out.WriteTo(cmd.OutOrStdout())
	return err
}

// A wholeWriter writes to cmd's standard output, unless cmd was stopped: then it
// writes nothing and returns the error of stopping, in the file at path.
type wholeWriter struct {
	cmd  *cobra.Command
	path string
}

func (w wholeWriter) Write(p []byte) (int, error) {
	if err := w.cmd.Context().Err(); err != nil {
		return 0, inFile(w.path, err)
	}
	return w.cmd.OutOrStdout().Write(p)
}

// printInventory prints inv as inspect's text; shard, when not nil, is why the file is
// part of a sharded checkpoint.
func printInventory(w io.Writer, inv *convert.Inventory, shard *convert.ShardError) {
	// Names, values, keys and globals come from the file: printed escaped.
	fmt.Fprintf(w, "%s: %s format, %s (%s), %s\n", escape(inv.File), inv.Format, count(len(inv.Tensors), "tensor", "tensors"), count64(inv.Bytes, "byte", "bytes"), count(len(inv.Values), "value", "values"))
	if shard != nil {
		fmt.Fprintf(w, "note: %s\n", escape(shard.Error()))
	}
	if ts := inv.TorchScript; ts != nil {
		fmt.Fprintln(w, torchScriptNote(ts))
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
			if t.Device != "" && t.Device != "cpu" && !t.NoData {
				layout += ", saved on " + escape(t.Device)
			}
			layout += tensorNotes(t)
			fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%s\t%s\n", escape(t.Name), escape(string(t.DType)), t.Shape, t.Bytes, escape(t.Storage), layout)
		}
		tw.Flush()
	}
	if len(inv.Values) > 0 {
		fmt.Fprintln(w, "\nvalues:")
		for _, v := range inv.Values {
			fmt.Fprintf(w, "  %s = %s%s\n", escape(v.Name), escape(fmt.Sprintf("%s", v.Value)), partNote(v.PartOf))
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
		if len(inv.UnstoredNonlinearity) > 0 {
			fmt.Fprintln(w, "  (to run such an RNN as relu: --nonlinearity relu)")
		}
	}
	for _, m := range inv.Whole {
		printWhole(w, m)
	}
	switch {
	case len(inv.Globals) > 0:
		fmt.Fprintf(w, "\nglobals: %s\n", strings.Join(escapeAll(inv.Globals), ", "))
	case inv.WeightsOnly != nil: // a pickle that names none
		fmt.Fprintln(w, "\nglobals: none")
	}
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
}

// tensorNotes describes what the layout of a tensor does not: quantization, lazy bits,
// no data, and the tensor it is a part of.
func tensorNotes(t convert.TensorInfo) string {
	var s string
	if q := t.Quantization; q != nil {
		s += fmt.Sprintf(", quantized %s %s", escape(q.DType), escape(q.Scheme))
		if q.Axis == nil {
			s += fmt.Sprintf(" scale %s zero_point %s", q.Scale, q.ZeroPoint)
		} else {
			s += fmt.Sprintf(" along dim %d (%d channels", *q.Axis, q.Channels)
			if q.ScaleRange != nil && q.ZeroRange != nil {
				s += fmt.Sprintf(", scales in %s, zero points in %s", q.ScaleRange, q.ZeroRange)
			}
			s += ")"
		}
	}
	if t.Conj {
		s += ", conjugate bit (applied)"
	}
	if t.Neg {
		s += ", negative bit (applied)"
	}
	if t.NoData {
		s += ", meta tensor: shape only, no data"
	}
	return s + partNote(t.PartOf)
}

// partNote names the tensor a leaf is a part of.
func partNote(p *convert.PartInfo) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf(", %s of the %s tensor %s", escape(p.Part), escape(p.Kind), escape(p.Name))
}

// torchScriptNote says what inspect reads of a TorchScript archive.
func torchScriptNote(ts *convert.TorchScriptInfo) string {
	s := "a TorchScript archive"
	if ts.Class != "" {
		s += " of " + escape(ts.Class)
	}
	s += ": its tensors are read as data and its code is not read (give batch_first and nonlinearity as flags)"
	switch {
	case ts.Constants == 1:
		s += "; 1 constant tensor of its code is not listed"
	case ts.Constants > 1:
		s += fmt.Sprintf("; %d constant tensors of its code are not listed", ts.Constants)
	}
	return s
}

// printWhole prints a whole model that Load finds, a module a line.
func printWhole(w io.Writer, m convert.WholeInfo) {
	if m.Unknown != "" {
		fmt.Fprintf(w, "\nthe model around %s is not known: %s\n", escape(strconv.Quote(m.Prefix)), escape(m.Unknown))
		return
	}
	at, runs := "at "+escape(strconv.Quote(m.Prefix)), "check, run and bench --whole run it"
	if m.Prefix == "" {
		at = "at the root"
	}
	if m.Sequential {
		runs = "check, run and bench run it"
	}
	fmt.Fprintf(w, "\nwhole model %s (%s):\n", at, runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range m.Layers {
		fmt.Fprintf(tw, "  %s\t%s\n", escape(l.Prefix), escape(l.Module))
	}
	tw.Flush()
}
