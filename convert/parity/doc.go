// Package parity checks that a model loaded by package convert computes what PyTorch
// computed, and gives a port's own Go code the same verdict.
//
// Check runs the recurrent module of a checkpoint on a reference file's input and
// initial states and compares every result the file holds, element by element. A
// reference is what a notebook exports, by the schema of RefInput:
//
//	torch.save({"input": x, "h0": (h0, c0), "output": y, "h_n": (hn, cn)}, "ref.pt")
//
// Any entry outside the schema is an error (*ReferenceError) naming the closest known
// name, unless Options.Ignore leaves it out: a verdict covers exactly what its Report
// says it compared, and says where each initial state came from.
//
// The verdict. An element passes when |go - ref| <= Atol + Rtol*|ref|, with
// torch.testing.assert_close's tolerance for the dtypes compared (DefaultTolerance); a
// value that is not finite passes only against an equal one (Tolerance.Matches).
// Every tensor is also measured against the float64 truth: the model computed again in
// float64 from the same weights and inputs by code of this package (gonum's BLAS),
// independent of package rnn's kernels. For a model computed below float64, a tensor
// beyond its tolerance passes when Go and the reference are both rounding noise around
// that truth (the truth rule: TruthFactor, TruthFloor, TruthCap, TruthNoiseRuns); a
// reference made from other weights or another configuration, a wrong result and wrong
// weights in the checkpoint still fail, each tensor saying which rule decided it and why.
// A float64 model has no higher precision to be judged by: its tolerance decides.
//
// A cell (nn.RNNCell, LSTMCell, GRUCell) is checked as its own forward runs: one step,
// or a sequence (steps, batch, input_size) it steps through, its truth the same cell in
// float64. A whole model (convert.Options.Whole, or a pickled Sequential: the Embedding,
// LayerNorm, Linear, Dropout and activation layers around the recurrent module, from
// token ids to logits) is judged by the truth of every layer, computed in float64 as its
// module's forward defines it.
//
// A failing check tries the usual porting mistakes (Mistake) that apply to the model
// (those of its recurrent module, made in the whole model around it; a whole model's
// square Linear weights transposed) and names those that reproduce the reference, and
// what a reference saved wrongly (its output's last time step alone; results computed in
// train mode, with dropout between the layers).
//
// Compare and NewReport give the same rules and the same table (Report.WriteText) to any
// result a port computes, and Truth the float64 truth of a loaded model, so that a Go
// test checks a whole model, from token ids to logits, against what PyTorch exported.
// Run runs a model on an input file read by the reference schema's rules.
package parity
