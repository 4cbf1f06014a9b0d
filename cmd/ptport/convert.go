package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// convertResult is what convert prints with --json.
type convertResult struct {
	Input   string     `json:"input"`
	Output  string     `json:"output"`
	Format  string     `json:"format"`
	Files   []string   `json:"files"` // what was written: the output, or its shards and index
	Tensors int        `json:"tensors"`
	Values  int        `json:"values"`
	Bytes   int64      `json:"bytes"` // of tensor data, as written
	Shared  [][]string `json:"shared,omitempty"`
	// Widened are the tensors the format holds in a wider dtype than theirs (an npz's
	// BF16 tensors, as float32), which ptport reads back as theirs.
	Widened []string `json:"widened,omitempty"`
	Seconds float64  `json:"seconds"`
	// AsData are the classes and functions torch.load(weights_only=True) refuses
	// that a .pt output holds as plain data (dicts naming their class, names).
	AsData []string `json:"as_data,omitempty"`
	// WeightsOnly is what torch.load(weights_only=True) would do with a .pt output.
	WeightsOnly *convert.WeightsOnlyInfo `json:"weights_only,omitempty"`
}

func convertCmd() *cobra.Command {
	var out, to, maxShard string
	var load loadFlags
	var sf selectionFlags
	c := &cobra.Command{
		Use:   "convert IN -o OUT",
		Short: "Convert a checkpoint to safetensors, npz, JSON or .pt",
		Long: `convert writes every tensor of IN, C-contiguous and byte-exact, under its dotted name to
OUT, in the format OUT's extension names (or --to). Non-tensor values such as epoch are
kept as typed JSON: in safetensors' __metadata__ under "ptport.values", in an npz as the
string array "__metadata__", in JSON under "values". NumPy has no bfloat16: an npz holds
BF16 tensors widened exactly to float32 (numpy.load gives float32) and records their
dtype, so that ptport reads them back as BF16 (convert says so). The output appears whole or not at
all (its folder is created if need be): Ctrl-C or SIGTERM stops the conversion and leaves
nothing behind (exit status 130 or 143), and temporaries of a convert that was killed
are removed by the next ptport writing to that folder.

IN may be a sharded checkpoint's index (model.safetensors.index.json,
pytorch_model.bin.index.json): its shards are read as one checkpoint. A shard alone
(pytorch_model-00001-of-00003.bin) is converted only to an output named as the same
shard (model-00001-of-00003.safetensors), which stays a part that check and run refuse
alone: it holds part of a model. IN "-" is standard input; OUT "-" is standard output
(name the format with --to).

To take just the model out of a training checkpoint, as load_state_dict(strict=True)
wants it:
  --select PATH        keep the subtree at a dotted path (model_state_dict, state_dict),
                       named relative to it; repeatable
  --strip-prefix P     remove P from the names that start with it (module. for
                       DataParallel, model. for Lightning; whole components: module
                       strips as module. does); repeatable, applied in order
  --exclude GLOB       leave out the names matching GLOB (after the above); repeatable
A path, prefix or pattern that matches no name is an error naming it. A .pt output of
a selection is a flat dict of the names, as a state_dict is.

An instance of a class that is not a module (argparse.Namespace, Lightning's
AttributeDict, a user's config class) is read as data, as every output keeps it: a leaf
NAME.__class__ names its class ("module.Name"; NAME.__call__ names what a call's record
called), its attributes and items are leaves under NAME. A .pt output must load with
torch.load(weights_only=True), which refuses such classes, so it holds plain data in
their place: the instance as a dict whose first key "__class__" names its class,
followed by its attributes and items (so every name stays the same and the object can
be rebuilt); a whole module as its state_dict; a reference to a class or function that
weights_only refuses as its name. convert says what it turned into data and whether
weights_only would still refuse the output (numpy scalars stay numpy scalars, as
torch.save writes them). --select state_dict or --exclude leave such values out.

Tensors sharing a storage (tied weights) are written once in .pt; safetensors, npz and
JSON cannot alias, so there they are copies, and the metadata "ptport.shared" lists them
(inspect shows them).

--max-shard-size SIZE (5GB, 500MB, 2GiB) splits a safetensors output as Hugging Face
does: STEM-00001-of-0000N.safetensors and OUT.index.json, with metadata.total_size and
weight_map. Everything that fits one shard is written to OUT alone.

With --json: {"input", "output", "format", "files", "tensors", "values", "bytes" (of
tensor data, as written), "shared", "widened" (the tensors an npz holds as float32),
"seconds", "as_data", "weights_only": {"loads", "refuses", "refusal"}} (the last two
for .pt outputs).`,
		Example: `  ptport convert model.pt -o model.safetensors
  ptport convert checkpoint.pth -o weights.npz
  ptport convert train.ckpt -o model.safetensors --select state_dict --strip-prefix model.
  ptport convert dp.pt -o model.pt --strip-prefix module. --exclude '*.num_batches_tracked'
  ptport convert big.pt -o out/model.safetensors --max-shard-size 5GB
  ptport convert model.pt -o - --to safetensors | ssh host 'cat > model.safetensors'`,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeInputs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := outputFormat(out, to)
			if err != nil {
				return err
			}
			if err := stdoutTaken(cmd, "-o", out); err != nil {
				return err
			}
			var shardSize int64
			if maxShard != "" {
				if shardSize, err = parseSize(maxShard); err != nil {
					return fmt.Errorf("--max-shard-size: %w", err)
				}
				if out == stdio {
					return fmt.Errorf("--max-shard-size writes several files; -o - is one stream")
				}
			}
			ctx := cmd.Context()
			start := time.Now()
			cp, done, err := openCheckpoint(ctx, cmd, args[0], load.options())
			var shard *convert.ShardError
			if errors.As(err, &shard) {
				if cp, err = openShard(ctx, shard, out, shardSize, load.options()); err == nil {
					done = func() { cp.Close() }
				}
			}
			if err != nil {
				return err
			}
			defer done()
			if sel := sf.selection(true); !sel.IsZero() {
				if cp, err = cp.Select(sel); err != nil {
					return err
				}
			}
			inv, err := convert.InspectContext(ctx, cp)
			if err != nil {
				return err
			}
			res := convertResult{Input: cp.Path, Output: out, Format: string(format),
				Tensors: len(inv.Tensors), Values: len(inv.Values), Bytes: convert.DataBytes(format, cp), Shared: inv.Shared,
				Widened: convert.Widened(format, cp)}
			if out == stdio {
				if err := convert.Encode(ctx, cmd.OutOrStdout(), format, cp); err != nil {
					return stoppedIn(ctx, cp.Path, inFile(cp.Path, err))
				}
				res.Files = []string{stdio}
			} else {
				if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
					return inFile(out, err)
				}
				m := newMeter(cmd.ErrOrStderr(), "converting "+escape(filepath.Base(cp.Path)), progressTotal(format, cp), 0)
				res.Files, err = convert.ExportFiles(ctx, out, format, cp, convert.ExportOptions{MaxShardSize: shardSize, Progress: m.set})
				m.stop()
				if err != nil {
					about := out // nothing written, whole or in part
					fe, le := (*pickle.FormatError)(nil), (*pickle.LimitError)(nil)
					if errors.As(err, &fe) || errors.As(err, &le) {
						about = cp.Path // the input: found corrupt, or past a limit of its reading, as it was read
					}
					return stoppedIn(ctx, about, inFile(about, err))
				}
			}
			res.Seconds = time.Since(start).Seconds()
			if format == convert.PT {
				res.AsData = inv.AsData
				if out != stdio {
					res.WeightsOnly = weightsOnlyOf(ctx, out)
				}
			}
			if jsonMode(cmd) {
				return printJSON(cmd, res)
			}
			what := outputName(out)
			if len(res.Files) > 1 {
				what = fmt.Sprintf("%s (%s and the index)", escape(res.Files[len(res.Files)-1]), count(len(res.Files)-1, "shard", "shards"))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %s (%s), %s in %.3fs\n",
				what, count(res.Tensors, "tensor", "tensors"), bytesText(res.Bytes), count(res.Values, "value", "values"), res.Seconds)
			if n := len(res.Widened); n > 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), widenedNote(what+" holds", n))
			}
			if len(res.AsData) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: torch.load(weights_only=True) refuses %s; %s holds them as plain data: an instance as a dict whose \"__class__\" (a call's record: \"__call__\") names its class, a reference as its name\n",
					strings.Join(escapeAll(res.AsData), ", "), what)
			}
			if wo := res.WeightsOnly; wo != nil && !wo.Loads {
				hint := ""
				if slices.ContainsFunc(wo.Refuses, func(g string) bool { return strings.HasPrefix(g, "numpy.") }) {
					hint = " (numpy scalars stay numpy scalars, as torch.save writes them: torch.serialization.add_safe_globals allows them, --exclude leaves them out)"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "note: torch.load(weights_only=True) of torch 2.6 would refuse %s: %s%s\n", what, escape(weightsOnlyText(wo)), hint)
			}
			if shard != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: %s is shard %d of %d: it holds part of a model, and so does %s\n",
					escape(shard.File), shard.Shard, shard.Shards, what)
			}
			if len(res.Shared) > 0 && format != convert.PT {
				fmt.Fprintf(cmd.ErrOrStderr(), "tensors sharing a storage (tied weights) are copies in %s, listed in its metadata (inspect shows them)\n", format)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "the output `FILE` (required; - for standard output)")
	c.Flags().StringVar(&to, "to", "", "output `FORMAT`: "+formatList()+" (default: from OUT's extension)")
	c.Flags().StringVar(&maxShard, "max-shard-size", "", "split a safetensors output into shards of at most `SIZE` (5GB, 500MB, 2GiB) and an index")
	sf.register(c)
	load.register(c)
	c.MarkFlagRequired("output")
	c.RegisterFlagCompletionFunc("to", completeWords(formatNames()...))
	c.RegisterFlagCompletionFunc("output", completeFiles(outputExts...))
	c.RegisterFlagCompletionFunc("max-shard-size", completeWords("500MB", "1GB", "2GB", "5GB", "10GB"))
	return c
}

// widenedNote is the note that the npz output or outputs that holders names ("m.npz
// holds", "2 outputs hold") hold n BF16 tensors widened to float32.
func widenedNote(holders string, n int) string {
	return fmt.Sprintf("note: NumPy has no bfloat16: %s %s widened exactly to float32 (numpy.load gives float32; ptport reads BF16 back)",
		holders, count(n, "BF16 tensor", "BF16 tensors"))
}

// progressTotal is what the meter of a conversion counts the bytes written up to: the
// tensors' data, which the binary formats write about as it is; nothing (no bar, no
// time left) for JSON, whose text is some three times larger and not known before it
// is written.
func progressTotal(f convert.Format, cp *convert.Checkpoint) int64 {
	if f == convert.JSON {
		return 0
	}
	return convert.DataBytes(f, cp)
}

// openShard opens the shard that convert was given alone, when the output out is named
// as the same shard, so that what it writes stays a part: a shard is a file of tensors,
// but never a whole model.
func openShard(ctx context.Context, se *convert.ShardError, out string, maxShard int64, opts *pickle.Options) (*convert.Checkpoint, error) {
	k, n, named := shardPlace(out)
	if named && k == se.Shard && n == se.Shards && maxShard == 0 {
		cp, err := convert.OpenShardContext(ctx, se.File, opts)
		if err != nil {
			return nil, inFile(se.File, allowObjectsHint(err, opts, func(o *pickle.Options) error {
				cp, err := convert.OpenShardContext(ctx, se.File, o)
				if err == nil {
					cp.Close()
				}
				return err
			}))
		}
		return cp, nil
	}
	ext := filepath.Ext(out)
	stem := strings.TrimSuffix(filepath.Base(out), ext)
	if named || out == stdio {
		stem = "STEM"
	}
	if out == stdio {
		ext = ".safetensors"
	}
	part := fmt.Sprintf("to convert this part alone, write it to a file named as the same shard, such as %s-%05d-of-%05d%s", stem, se.Shard, se.Shards, ext)
	if maxShard > 0 {
		part = "a shard alone is converted to one file, without --max-shard-size"
	}
	msg := fmt.Sprintf("%s is shard %d of %d of a sharded checkpoint, not a whole one: ", se.File, se.Shard, se.Shards)
	if se.Stray {
		msg = fmt.Sprintf("%s is named like shard %d of %d of a sharded checkpoint, but its index beside it, %s, does not name it: a shard of another save left in this folder (move it out or, %s), or a whole checkpoint named like a shard (rename it)", se.File, se.Shard, se.Shards, se.Index, part)
	} else if se.IndexFound {
		msg += fmt.Sprintf("convert its index %s for the whole model; %s", se.Index, part)
	} else {
		msg += fmt.Sprintf("its index %s is not beside it; %s (a whole checkpoint named like a shard: rename it)", se.Index, part)
	}
	return nil, inFile(se.File, errors.New(msg))
}

// shardName matches a shard's base name, STEM-0000K-of-0000N.EXT or STEM-0000K-of-0000N.G.EXT,
// as the library names and recognizes shards.
var shardName = regexp.MustCompile(`^.+-(\d{5})-of-(\d{5})(?:\.\d{1,4})?\.[A-Za-z0-9]+$`)

// shardPlace returns K and N of a path whose base name is a shard's (1 of 1 included:
// the place of the one shard an index names), with ok false for any other name.
func shardPlace(path string) (k, n int, ok bool) {
	m := shardName.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return 0, 0, false
	}
	k, _ = strconv.Atoi(m[1])
	n, _ = strconv.Atoi(m[2])
	return k, n, k >= 1 && k <= n
}

// weightsOnlyOf says what torch.load(weights_only=True) would do with the .pt file at
// path, or nil when it cannot be read back (or ctx stops the reading).
func weightsOnlyOf(ctx context.Context, path string) *convert.WeightsOnlyInfo {
	cp, err := convert.OpenContext(ctx, path, nil)
	if err != nil {
		return nil
	}
	defer cp.Close()
	inv, err := convert.InspectContext(ctx, cp)
	if err != nil {
		return nil
	}
	return inv.WeightsOnly
}

// weightsOnlyText is what refuses a file: its globals, or the rule it breaks.
func weightsOnlyText(wo *convert.WeightsOnlyInfo) string {
	if len(wo.Refuses) > 0 {
		return strings.Join(wo.Refuses, ", ")
	}
	return wo.Refusal
}
