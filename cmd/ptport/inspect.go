package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

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
					report(cmd.OutOrStdout(), cmd.ErrOrStderr(), jsonMode(cmd), false, err)
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
	// The listing is written as it is made, never held whole (it can take tens of bytes
	// for each byte of the file): nothing can fail once its first byte is written but
	// the writing, and the command's last look at its context is before that byte. A
	// command stopped while the file is read or listed writes nothing; one that began
	// writing writes the listing whole (a second Ctrl-C ends ptport at once).
	if err := cmd.Context().Err(); err != nil {
		return inFile(path, err)
	}
	w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
	if jsonMode(cmd) {
		if err := writeInventoryJSON(w, inv); err != nil {
			return err
		}
	} else {
		if follows {
			fmt.Fprintln(w)
		}
		printInventory(w, inv, shard)
	}
	return w.Flush()
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
		// The columns as text/tabwriter aligns them, from a first pass over the rows
		// for their widths, where a tabwriter would hold the whole table.
		header := tensorRow{"NAME", "DTYPE", "SHAPE", "BYTES", "STORAGE", "LAYOUT"}
		var widths [len(header) - 1]int
		header.widen(&widths)
		for _, t := range inv.Tensors {
			row := tensorCells(t)
			row.widen(&widths)
		}
		fmt.Fprintln(w)
		header.print(w, &widths)
		for _, t := range inv.Tensors {
			row := tensorCells(t)
			row.print(w, &widths)
		}
	}
	if len(inv.Values) > 0 {
		fmt.Fprintln(w, "\nvalues:")
		var line []byte
		for _, v := range inv.Values {
			line = append(append(line[:0], "  "...), escape(v.Name)...)
			line = append(line, " = "...)
			if plainText(v.Value) {
				// the common value, a short one to print as it is, printed without
				// making a string of it
				line = append(line, v.Value...)
			} else {
				line = append(line, escape(string(v.Value))...)
			}
			line = append(append(line, partNote(v.PartOf)...), '\n')
			w.Write(line)
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

// A tensorRow is the cells of a tensor's line in inspect's table: its name, dtype,
// shape, bytes, storage and layout.
type tensorRow [6]string

// tensorCells is t's row, what came from the file escaped.
func tensorCells(t convert.TensorInfo) tensorRow {
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
	return tensorRow{escape(t.Name), escape(string(t.DType)), fmt.Sprint(t.Shape), strconv.FormatInt(t.Bytes, 10), escape(t.Storage), layout}
}

// tablePadding is the room between a table's columns.
const tablePadding = 2

// widen makes each of widths, those of the columns but the last, at least as wide as
// r's cell and the padding after it (a character a column, as text/tabwriter counts).
func (r *tensorRow) widen(widths *[len(tensorRow{}) - 1]int) {
	for i := range widths {
		widths[i] = max(widths[i], utf8.RuneCountInString(r[i])+tablePadding)
	}
}

// print writes r as a line, each cell but the last padded with spaces to its column's
// width.
func (r *tensorRow) print(w io.Writer, widths *[len(tensorRow{}) - 1]int) {
	var line []byte
	for i, width := range widths {
		line = append(line, r[i]...)
		for n := utf8.RuneCountInString(r[i]); n < width; n++ {
			line = append(line, ' ')
		}
	}
	line = append(line, r[len(r)-1]...)
	w.Write(append(line, '\n'))
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

// writeInventoryJSON writes inv as writeJSON writes it, byte for byte, a record at a
// time, where encoding/json would make the whole document, twice (compact, then
// indented), before writing it: the document without tensors and values, and each
// tensor's and value's record in its place, indented as at its depth there.
func writeInventoryJSON(w io.Writer, inv *convert.Inventory) error {
	bare := *inv
	bare.Tensors, bare.Values = []convert.TensorInfo{}, []convert.ValueInfo{}
	var doc bytes.Buffer
	if err := writeJSON(&doc, &bare); err != nil {
		return err
	}
	// The two members as encoding/json indents them, empty. No string holds a
	// newline, so each is found at its place.
	rest := doc.Bytes()
	r := recordWriter{w: w}
	r.enc = json.NewEncoder(&r.buf)
	r.enc.SetEscapeHTML(false)
	r.enc.SetIndent(recordIndent, "  ")
	for _, member := range []string{"tensors", "values"} {
		empty := []byte("\n  \"" + member + "\": []")
		i := bytes.Index(rest, empty)
		if i < 0 {
			return fmt.Errorf("internal error: no %q in inspect's JSON", member)
		}
		at := i + len(empty) - 1 // before the closing bracket
		if _, err := w.Write(rest[:at]); err != nil {
			return err
		}
		rest = rest[at:]
		var err error
		if member == "tensors" {
			for i := range inv.Tensors {
				if err = r.tensor(i, &inv.Tensors[i]); err != nil {
					break
				}
			}
			err = r.close(len(inv.Tensors), err)
		} else {
			for i := range inv.Values {
				if err = r.value(i, &inv.Values[i]); err != nil {
					break
				}
			}
			err = r.close(len(inv.Values), err)
		}
		if err != nil {
			return err
		}
	}
	_, err := w.Write(rest)
	return err
}

// recordIndent is the indentation of a record of the document's tensors or values:
// the document's (writeJSON's) two spaces, twice.
const recordIndent = "    "

// A recordWriter writes the records of an array of writeInventoryJSON's document.
type recordWriter struct {
	w   io.Writer
	enc *json.Encoder // into buf, as writeJSON indents a record at its depth
	buf bytes.Buffer
}

// start begins the i-th record in buf.
func (r *recordWriter) start(i int) {
	r.buf.Reset()
	if i > 0 {
		r.buf.WriteByte(',')
	}
	r.buf.WriteString("\n" + recordIndent)
}

// encode appends v to buf as writeJSON encodes it at the depth of a record.
func (r *recordWriter) encode(v any) error {
	if err := r.enc.Encode(v); err != nil {
		return err
	}
	r.buf.Truncate(r.buf.Len() - 1) // Encode's newline
	return nil
}

func (r *recordWriter) tensor(i int, t *convert.TensorInfo) error {
	r.start(i)
	if err := r.encode(t); err != nil {
		return err
	}
	_, err := r.w.Write(r.buf.Bytes())
	return err
}

// value writes the i-th value's record: by hand when it is the common one, a plain name
// and no part, as encoding/json writes it; through the encoder otherwise.
func (r *recordWriter) value(i int, v *convert.ValueInfo) error {
	r.start(i)
	if v.PartOf != nil || !plainJSON(v.Name) || !trimmed(v.Value) {
		if err := r.encode(v); err != nil {
			return err
		}
	} else {
		const in = "\n" + recordIndent + "  "
		r.buf.WriteString("{" + in + `"name": "`)
		r.buf.WriteString(v.Name)
		r.buf.WriteString(`",` + in + `"value": `)
		if c := v.Value[0]; c == '[' || c == '{' {
			if err := json.Indent(&r.buf, v.Value, recordIndent+"  ", "  "); err != nil {
				return err
			}
		} else {
			r.buf.Write(v.Value)
		}
		r.buf.WriteString("\n" + recordIndent + "}")
	}
	_, err := r.w.Write(r.buf.Bytes())
	return err
}

// close ends an array of n records, after err, the error of writing them.
func (r *recordWriter) close(n int, err error) error {
	if err != nil || n == 0 {
		return err
	}
	_, err = io.WriteString(r.w, "\n  ")
	return err
}

// trimmed reports whether b is not empty and neither starts nor ends with JSON's
// white space, as jsonvalue writes values.
func trimmed(b []byte) bool {
	return len(b) > 0 && !strings.ContainsRune(" \t\r\n", rune(b[0])) && !strings.ContainsRune(" \t\r\n", rune(b[len(b)-1]))
}

// plainText reports whether escape leaves b, as a string, as it is: printable ASCII
// and short.
func plainText(b []byte) bool {
	if len(b) > maxPrinted {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// plainJSON reports whether encoding/json writes s as itself between quotes: printable
// ASCII but for the quote and the backslash.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
