// Package parity checks that a model loaded by package convert computes what PyTorch
// computed: it runs the model on a reference file's input and compares every output the
// file holds, element by element.
//
// A reference file is what a notebook exports:
//
//	torch.save({"input": x, "h0": h0, "c0": c0, "output": y, "h_n": hn, "c_n": cn}, "ref.pt")
//
// with h0, c0, h_n and c_n optional (the names are RefInput, RefH0, ...). An element
// passes when |go - ref| <= Atol + Rtol*|ref|, as torch.testing.assert_close; NaN
// matches NaN and equal infinities match. Check returns a Report: the verdict, the
// largest absolute and relative errors of each tensor and overall, and the model
// checked; a mismatch is a Report that does not pass, not an error. StepErrors gives
// the largest error of the output at each time step, which shows where a port diverges.
package parity
