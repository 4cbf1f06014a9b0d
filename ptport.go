// Package ptport reads the checkpoints PyTorch writes, runs the recurrent models in them
// natively in Go, and proves that Go computes what PyTorch computes.
//
// The work is split by concern: package pickle reads .pt files safely and lazily,
// package rnn runs RNN, LSTM and GRU models, and package convert joins them: it opens a
// checkpoint, finds a model's weights in it and exports checkpoints to other formats.
// Beside it, convert/safetensors, convert/npz and convert/ptjson are the file formats,
// convert/parity checks a model against reference tensors, and convert/plot,
// convert/batch and convert/bench draw, convert many files and time. The command ptport
// (cmd/ptport) is their command-line face.
//
// This package holds the notebook example that "ptport check" runs with no arguments:
// torch.nn.RNN(2, 4, 1) with the notebook's weights and the reference tensors PyTorch
// computed for it (see testdata/notebook/gen.py).
package ptport

import _ "embed"

// NotebookModel is the notebook example's state_dict, as torch.save wrote it.
//
//go:embed testdata/notebook/model.pt
var NotebookModel []byte

// NotebookReference is the notebook example's reference tensors (input, h0, output,
// h_n), as torch.save wrote them.
//
//go:embed testdata/notebook/reference.pt
var NotebookReference []byte
