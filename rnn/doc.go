// Package rnn runs the recurrent networks of PyTorch, torch.nn.RNN (tanh and relu),
// torch.nn.LSTM (with proj_size) and torch.nn.GRU, for inference, in float32 and float64,
// computing what PyTorch's CPU implementation (aten/src/ATen/native/RNN.cpp) computes.
//
// A Model is built by New from a Config and the parameters under their state_dict names
// and shapes (Config.Params); Forward takes the input and optional initial states with
// the shapes and meanings of the module's forward: any number of layers, bidirectional
// (the reverse direction runs over the reversed sequence; layer k+1 reads the
// concatenated [forward, reverse] outputs of layer k; rows of h_n and c_n are ordered
// layer 0 forward, layer 0 reverse, layer 1 forward, ...), with or without biases,
// batch_first, and unbatched 2-D input. The package knows nothing of files.
//
// Around the recurrent networks: the cells torch.nn.RNNCell, LSTMCell and GRUCell (Cell,
// built by NewCell), and the layers a model puts before and after them, torch.nn.Embedding,
// Linear, LayerNorm, Dropout and the activations Tanh, ReLU, Sigmoid, Softmax and
// LogSoftmax, each built from its configuration and its parameters under their
// state_dict names. A Sequential runs layers one after the other, a recurrent layer
// passing on its output as the custom modules of char-level models do.
//
// # Streaming
//
// A State (Model.NewState, Cell.NewState) keeps h and c between calls of Step, which
// consumes the next time step or steps of a sequence; a Stream (Sequential.NewStream)
// steps a whole Sequential, from token ids to logits. Stepping a sequence in parts of
// any lengths gives what Forward gives over the whole sequence, to the bit, and allocates
// nothing once warm. Forward and Step run each time step through the same code. A
// bidirectional network cannot be stepped (ErrNotStreamable).
//
// # Stopping
//
// Model.ForwardContext, Sequential.ForwardContext and State.StepContext stop a long pass
// once their context is done: they look at it between time steps and between parts of
// the input projections, a millisecond or less of work apart, never inside a kernel, and
// return an error wrapping ctx.Err() once every goroutine the pass started has ended. A
// stopped pass changes nothing the next one reads (a State is left as it was before the
// call); results are the same to the bit with a context or without. Forward is
// ForwardContext with context.Background(), and Step is StepContext.
//
// # Data
//
// A Tensor is a row-major []float32, []float64 or, for the indices an Embedding looks up,
// []int64, with a shape (NewTensor); Data holds the values.
//
// # Inference only
//
// Forward computes the module in eval mode: the dropout PyTorch applies between layers
// while training is the identity here, and Config has no dropout field.
//
// # What is computed
//
// For each layer and direction, as ATen does on the CPU, the input projection of every
// step is computed first as one matrix product, xw = x·W_ihᵀ + b_ih (the sum of products
// first, then the bias). Then, step by step, the recurrent product g = h·W_hhᵀ + b_hh
// (sum, then bias) is formed and:
//
//	RNN:  h' = tanh(g + xw)  or  relu(g + xw)
//	LSTM: gates = g + xw, split i f g o; c' = σ(f)·c + σ(i)·tanh(g); h' = σ(o)·tanh(c'),
//	      then h' = h'·W_hrᵀ with proj_size
//	GRU:  g and xw split r z n; r = σ(g_r + xw_r); z = σ(g_z + xw_z);
//	      n = tanh(xw_n + g_n·r); h' = (h - n)·z + n
//
// Each product and sum is rounded to the element type in that order, as ATen's tensor
// operations round them. What differs from PyTorch is the order of the terms inside each
// dot product (no two BLAS libraries agree on it), and the last few bits of tanh, exp
// and the sigmoid. Against PyTorch 1.13 the largest absolute difference measured over
// the fixtures in testdata/rnn and the differential test's random cases is below 1e-6 in
// float32 for hidden sizes up to 256 and below 1e-14 in float64; the tests require
// 1e-6 (float32, hidden <= 64), 2e-6 (float32, hidden <= 256) and 1e-12 (float64).
//
// Results are deterministic: they do not depend on GOMAXPROCS or on how the work is
// spread over goroutines, and in a batch of 3 sequences or more a sequence's result does
// not depend on the others. Batches of 1 or 2 sequences sum the recurrent products in
// another order (over 4 or 2 partial sums, which keeps a matrix-vector product from
// waiting on one chain of additions), so they can differ from a larger batch in the last
// bits.
//
// # Speed
//
// The weights are transposed and packed once, in New, into column panels that the matrix
// product reads contiguously. The kernels are in assembly, chosen at run time from the
// CPU's features (golang.org/x/sys/cpu): for the products a 6×64 AVX-512 tile or a 6×16
// AVX2/FMA tile in float32 (6×32 and 6×8 in float64); for tanh and the LSTM and GRU
// cells AVX-512 or AVX2/FMA kernels, in float32 and float64, which evaluate each
// sigmoid and tanh from one exponential (a polynomial after range reduction) and one
// division or refined reciprocal, to a few units in the last place (float32's tanh, as
// ATen's, to 0.3 of a unit in the root-mean-square). Without AVX2 and
// FMA, on other architectures, or with the purego build tag, every kernel is in Go, and
// evaluates tanh, exp and the sigmoid with package math in float64. The time loop allocates nothing: scratch buffers come from a pool and
// are reused. When the work is large enough and GOMAXPROCS allows, a batch is split over
// goroutines (each runs its rows through every layer without waiting for the others), or
// the two directions of a bidirectional layer run at once. A batch too small to split
// (below 6 sequences, and every State.Step) whose W_hh exceeds 1 MiB, more than a core's
// L2 cache holds beside the rest of a step, has each step's products split by columns
// instead: each core computes its share of W_hh's panels, which stays in its cache, and
// the cores meet at the end of each product. Each output is computed as one goroutine
// computes it, so this split too leaves every result unchanged to the bit.
package rnn
