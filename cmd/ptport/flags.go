package main

import (
	"encoding/json"
	"io"

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
	load         loadFlags
}

func (f *modelFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.prefix, "prefix", "", "use the recurrent module whose parameter names start with `P` (when a file holds several)")
	c.Flags().StringVar(&f.nonlinearity, "nonlinearity", "", "tanh or relu, for a plain RNN (default: the pickled module's, else tanh)")
	c.Flags().BoolVar(&f.batchFirst, "batch-first", false, "input and output are (batch, seq, feature), as batch_first=True")
	c.Flags().BoolVar(&f.whole, "whole", false, "run the whole model (the Embedding, recurrent module and head around it, or the pickled Sequential), from token ids to its output")
	f.load.register(c)
}

// loadFlags are the flags of every command that reads checkpoints: how the globals
// of their pickles are judged.
type loadFlags struct{ allowObjects, strict bool }

func (f *loadFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&f.allowObjects, "allow-objects", false, "also read calls of functions and classes outside torch, numpy and the standard library, as inert records (nothing from the file is run; code-running globals stay refused)")
	c.Flags().BoolVar(&f.strict, "strict", false, "read exactly what torch.load(weights_only=True) of torch 2.6+ loads, and refuse the rest")
	c.MarkFlagsMutuallyExclusive("allow-objects", "strict")
}

// options are the pickle options the flags give.
func (f *loadFlags) options() *pickle.Options {
	return &pickle.Options{AllowObjects: f.allowObjects, Strict: f.strict}
}

func (f *modelFlags) options() convert.Options {
	return convert.Options{Prefix: f.prefix, Nonlinearity: f.nonlinearity, BatchFirst: f.batchFirst, Whole: f.whole}
}

// loadModel opens path and loads the model the flags select. The checkpoint stays open
// for the model's lifetime, which is the command's.
func (f *modelFlags) loadModel(path string) (*convert.Model, error) {
	cp, err := convert.Open(path, f.load.options())
	if err != nil {
		return nil, err
	}
	return convert.Load(cp, f.options())
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// toleranceFlags are --atol and --rtol: each, when given, replaces that part of the
// default tolerance, which follows the dtypes compared (parity.DefaultTolerance).
type toleranceFlags struct {
	atol, rtol float64
	c          *cobra.Command
}

func (f *toleranceFlags) register(c *cobra.Command, when string) {
	f.c = c
	c.Flags().Float64Var(&f.atol, "atol", 0, "absolute tolerance"+when+" (default: by dtype, as torch.testing.assert_close: 1e-5, 1e-7 for float64)")
	c.Flags().Float64Var(&f.rtol, "rtol", 0, "relative tolerance"+when+" (default: by dtype: 1.3e-6 for float32, 1e-7 float64, 1e-3 float16, 1.6e-2 bfloat16)")
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
