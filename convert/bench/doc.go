// Package bench times the forward pass of a model loaded by package convert: the model
// alone, on random input of a chosen length and batch, with no file input or output in
// the timing, reporting the median of at least five passes.
//
// It measures; it asserts nothing. The comparisons with PyTorch and ONNX Runtime are made
// by the project's benchmark scripts, which run both sides on the same machine.
package bench
