package parity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// Outputs are what Run computed.
type Outputs struct {
	// Model is the model that ran, loaded with the options and the input file's
	// configuration values.
	Model *convert.Model
	// Output, HN and CN are the results, in the model's dtype; HN and CN are nil where
	// the model gives none (CN for all but an LSTM; both for a whole model whose last
	// layer is not recurrent).
	Output, HN, CN *pickle.Tensor
	// InitialState says where each initial state came from.
	InitialState InitialState
}

// Run runs the model of model on the inputs that in holds, as Check runs it on a
// reference's: the model found and loaded with opts.Load and in's configuration values
// (batch_first, nonlinearity), in's entries read by the reference schema (see RefInput)
// and held to the same rules: an LSTM's h0 needs its c0 and other modules take no c0, the
// states are floating point and so is the input (unless a whole model's first layer, an
// Embedding, takes token ids), a pickled module's attributes and in's configuration
// values agree, and the states' shapes fit the model's layers and directions. in may
// instead hold a single tensor, the input. The results a reference would hold (output,
// h_n, c_n) are left out; any other entry outside the schema is a *ReferenceError, unless
// opts.Ignore names it. opts.Tolerance is not used.
//
// The error is a *ReferenceError for inputs the model does not take, the loader's errors
// for a model that does not load, or, once ctx is done (the forward pass stops between
// time steps), an error that names model's file and wraps ctx.Err().
func Run(ctx context.Context, model, in *convert.Checkpoint, opts Options) (*Outputs, error) {
	if model == nil || in == nil {
		return nil, errors.New("parity: Run of a nil Checkpoint")
	}
	var r *reference
	var m *convert.Model
	var err error
	if t, ok := singleTensor(in); ok {
		if len(opts.Ignore) > 0 {
			// The one tensor is the input, which cannot be left out; any other name
			// names nothing.
			return nil, &ReferenceError{File: in.Path, Problems: []Problem{{Kind: ProblemNotIgnored, Entries: opts.Ignore,
				Msg: fmt.Sprintf("%s is to be ignored, but the file holds one tensor, the input the model runs on, and no entries to leave out", strings.Join(opts.Ignore, ", "))}}}
		}
		if m, err = convert.Load(model, opts.Load); err != nil {
			return nil, err
		}
		r = &reference{file: in.Path, input: entry{name: in.Leaves[0].Name, t: t}}
	} else if r, m, err = load(model, in, opts, false); err != nil {
		return nil, err
	}
	out := &Outputs{Model: m, InitialState: r.initialState(m)}
	if out.Output, out.HN, out.CN, err = m.ForwardContext(ctx, r.input.t, r.h0.t, r.c0.t); err != nil {
		return nil, stopped(ctx, model.Path, forwardError(r, m, err))
	}
	return out, nil
}

// singleTensor returns the tensor of a file that holds nothing else.
func singleTensor(cp *convert.Checkpoint) (*pickle.Tensor, bool) {
	if len(cp.Leaves) != 1 {
		return nil, false
	}
	t, ok := cp.Leaves[0].Value.(*pickle.Tensor)
	return t, ok
}
