package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/pickle"
)

// modelFlags are the flags of every command that loads a model.
type modelFlags struct {
	prefix       string
	nonlinearity string
	batchFirst   bool
	whole        bool
	outputLimit  int64
	load         loadFlags
	c            *cobra.Command
}

// outputFlag names the flag that sets convert.Options.OutputLimit.
const outputFlag = "output-limit"

func (f *modelFlags) register(c *cobra.Command) {
	f.c = c
	c.Flags().StringVar(&f.prefix, "prefix", "", "use the recurrent module whose parameter names start with `P` (when a file holds several)")
	c.Flags().StringVar(&f.nonlinearity, "nonlinearity", "", "tanh or relu, for a plain RNN (default: the pickled module's, else tanh)")
	c.Flags().BoolVar(&f.batchFirst, "batch-first", false, "input and output are (batch, seq, feature), as batch_first=True; =false, given, must agree with the file's batch_first too")
	c.Flags().BoolVar(&f.whole, "whole", false, "run the whole model (the Embedding, recurrent module and head around it, or the pickled Sequential), from token ids to its output")
	c.Flags().Var((*limitValue)(&f.outputLimit), outputFlag, "compute at most `SIZE` in a forward pass (the input's rows times the model's widest dimension: 1GiB, 500MB); -1: no limit (default: 64 times the bytes of the input's storage and of the model's weights, at least 256 MiB)")
	f.load.register(c)
	c.RegisterFlagCompletionFunc("nonlinearity", completeWords("tanh", "relu"))
	c.RegisterFlagCompletionFunc("prefix", completePrefixes)
}

// completePrefixes completes --prefix with the recurrent modules of the command's first
// argument.
func completePrefixes(c *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cp, err := convert.OpenContext(c.Context(), args[0], nil)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer cp.Close()
	var out []string
	for _, p := range convert.Prefixes(cp) {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// loadFlags are the flags of every command that reads checkpoints: how the globals
// of their pickles are judged.
type loadFlags struct {
	allowObjects, strict bool
	expandLimit          int64
}

// expandFlag names the flag that sets pickle.Options.ExpandLimit.
const expandFlag = "expand-limit"

func (f *loadFlags) register(c *cobra.Command) {
	c.Flags().Var((*limitValue)(&f.expandLimit), expandFlag, "materialise at most `SIZE` of a file's expanded views (zero-stride views larger than their storage: 1GiB, 500MB) in all; -1: no limit (default: 64 times the file's size, at least 16 MiB)")
	c.Flags().BoolVar(&f.allowObjects, "allow-objects", false, "also read calls of functions and classes outside torch, numpy and the standard library, as inert records (nothing from the file is run; code-running globals stay refused)")
	c.Flags().BoolVar(&f.strict, "strict", false, "read exactly what torch.load(weights_only=True) of torch 2.10+ loads, and refuse the rest")
	c.MarkFlagsMutuallyExclusive("allow-objects", "strict")
}

// options are the pickle options the flags give.
func (f *loadFlags) options() *pickle.Options {
	return &pickle.Options{AllowObjects: f.allowObjects, Strict: f.strict, ExpandLimit: f.expandLimit}
}

func (f *modelFlags) options() convert.Options {
	return convert.Options{Prefix: f.prefix, Nonlinearity: f.nonlinearity, BatchFirst: f.batchFirst,
		BatchFirstSet: f.c != nil && f.c.Flags().Changed("batch-first"), Whole: f.whole, OutputLimit: f.outputLimit}
}

// loadModel opens path ("-": standard input) and loads the model the flags select. The
// checkpoint stays open for the model's lifetime, which is the command's.
func (f *modelFlags) loadModel(c *cobra.Command, path string) (*convert.Model, error) {
	cp, _, err := openCheckpoint(c.Context(), c, path, f.load.options())
	if err != nil {
		return nil, err
	}
	m, err := convert.Load(cp, f.options())
	return m, aboutNamed(err, cp.Path)
}

// selectionFlags are the flags that take part of a checkpoint: convert's and batch's.
type selectionFlags struct {
	paths, strip, exclude []string
}

func (f *selectionFlags) register(c *cobra.Command) {
	c.Flags().StringArrayVar(&f.paths, "select", nil, "keep the subtree at the dotted `PATH` (model_state_dict, state_dict), named relative to it; repeatable")
	c.Flags().StringArrayVar(&f.strip, "strip-prefix", nil, "remove the prefix `P` from the names that start with it (module, model: whole components, as module. and model.); repeatable")
	c.Flags().StringArrayVar(&f.exclude, "exclude", nil, "leave out the names matching `GLOB` ('*.num_batches_tracked'); repeatable")
	c.RegisterFlagCompletionFunc("strip-prefix", completeWords("module.", "model.", "_orig_mod."))
	c.RegisterFlagCompletionFunc("select", completeWords("state_dict", "model_state_dict", "model", "module", "net"))
}

// selection is the flags' selection; requireMatch makes a prefix or pattern that
// matches nothing an error (convert's one file), not a no-op (batch's many).
func (f *selectionFlags) selection(requireMatch bool) convert.Selection {
	return convert.Selection{Paths: f.paths, StripPrefixes: f.strip, Exclude: f.exclude, RequireMatch: requireMatch}
}

// parseSize parses a size as Hugging Face's max_shard_size takes it: an integer or a
// decimal number of bytes, with a decimal (KB, MB, GB, TB) or binary (KiB, MiB, GiB,
// TiB) unit, in any case, or none.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		scale  float64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"b", 1},
	}
	num, scale := strings.ToLower(strings.TrimSpace(s)), 1.0
	for _, u := range units {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, scale = strings.TrimSpace(rest), u.scale
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a size (5GB, 500MB, 2GiB)", s)
	}
	n := v * scale
	if n < 1 {
		return 0, errors.New("the size must be at least one byte")
	}
	if n > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(n), nil
}

// limitValue is the value of --expand-limit or --output-limit: a size as parseSize
// reads it, or -1 for no limit. Zero, the flag's default, means the library's default.
type limitValue int64

func (v *limitValue) String() string {
	if *v == 0 {
		return ""
	}
	return strconv.FormatInt(int64(*v), 10)
}
func (v *limitValue) Type() string { return "SIZE" }
func (v *limitValue) Set(s string) error {
	if strings.TrimSpace(s) == "-1" {
		*v = -1
		return nil
	}
	n, err := parseSize(s)
	if err != nil {
		return fmt.Errorf("%w; -1: no limit", err)
	}
	*v = limitValue(n)
	return nil
}

// toleranceFlags are --atol and --rtol: each, when given, replaces that part of the
// default tolerance, which follows the dtypes compared (parity.DefaultTolerance).
type toleranceFlags struct {
	atol, rtol float64
	c          *cobra.Command
}

func (f *toleranceFlags) register(c *cobra.Command, when string) {
	f.c = c
	c.Flags().Var((*tolValue)(&f.atol), "atol", "absolute tolerance"+when+" (default: by dtype, as torch.testing.assert_close: 1e-5, 1e-7 for float64)")
	c.Flags().Var((*tolValue)(&f.rtol), "rtol", "relative tolerance"+when+" (default: by dtype: 1.3e-6 for float32, 1e-7 float64, 1e-3 float16, 1.6e-2 bfloat16)")
}

// tolValue is the value of --atol or --rtol: a finite number, zero or more (a negative or
// NaN tolerance would make the comparison mean nothing, and an infinite one has no JSON
// form; a large number lets everything pass).
type tolValue float64

func (v *tolValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *tolValue) Type() string   { return "float" }
func (v *tolValue) Set(s string) error {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("not a number")
	}
	if !(x >= 0 && x <= math.MaxFloat64) {
		return errors.New("a tolerance is a finite number, zero or more")
	}
	*v = tolValue(x)
	return nil
}

// tolerance returns the tolerance the flags give; nil when neither was given.
func (f *toleranceFlags) tolerance() func(got, want pickle.DType) parity.Tolerance {
	atol, rtol := f.c.Flags().Changed("atol"), f.c.Flags().Changed("rtol")
	if !atol && !rtol {
		return nil
	}
	return func(got, want pickle.DType) parity.Tolerance {
		t := parity.DefaultTolerance(got, want)
		if atol {
			t.Atol = f.atol
		}
		if rtol {
			t.Rtol = f.rtol
		}
		return t
	}
}
