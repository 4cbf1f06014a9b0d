// Package convert turns what package pickle reads into what package rnn runs, and back
// into files.
//
// Open reads a checkpoint: a file torch.save wrote (zip, legacy or tar format), a
// safetensors file, an npz file or ptport's JSON export, told apart by their content,
// never by their names; OpenContext reads it until a context is done, as a service
// stops a request. Checkpoint.Tensor gives any of its tensors by name. Load finds
// the recurrent module's weights in it (an nn.RNN, LSTM or GRU, or a cell: RNNCell,
// LSTMCell, GRUCell; in a bare state_dict, a nested training checkpoint, under prefixed
// keys, or in a whole pickled module), infers its configuration from the shapes,
// validates every key strictly, as load_state_dict(strict=True) does, and builds it; the
// errors a caller branches on are *AmbiguousError and *ValidationError. Around the
// recurrent module Load finds the whole model when it can (a pickled nn.Sequential, or
// the Embedding, LayerNorm and Linear beside it, by their shapes), and a pickled
// nn.Sequential of layers alone is a model too. RNN, Cell and Sequential give the typed
// models of package rnn to keep and run, stepping included, and TensorOf turns what they
// compute back into tensors to write. Inspect lists what a checkpoint holds without
// reading tensor data. Export writes a checkpoint as safetensors, npz, JSON or .pt.
//
// Every output file is written atomically (WriteFile): to a temporary file beside the
// target, synced, then renamed, so an interrupted run leaves the old file or the complete
// new one, and a leftover temporary (IsTemp) is never mistaken for an output.
//
// The package links only what loading and running a model needs. The file formats have
// packages of their own (safetensors, npz, ptjson) that work on pickle leaves; the
// concerns a service does not need live beside them: parity (checking a model against
// PyTorch's reference tensors), plot (drawing a check's errors), batch (converting many
// files) and bench (timing a model).
package convert
