// Package plot draws where a parity check's errors arise: the largest absolute error of
// the output against PyTorch's at each time step, per direction, and against the float64
// truth, on a log scale, beside the tolerance, titled with the check's diagnosis.
//
// Reading it: where |Go - truth| stays at rounding level (1e-7 in float32) while
// |Go - PyTorch| is large, Go computes the checkpoint's model right and the reference
// was made otherwise: with other weights, or one of the mistakes the diagnosis names. An
// error from the first step is a difference in what every step computes (batch_first,
// the nonlinearity, transposed weights, the gate order, the biases, an ignored h0); an
// error that is rounding at the first step and grows from the second, from a zero h0,
// is in the recurrence (weight_hh). Where |Go - truth| is itself large, Go's result is
// wrong.
//
// It is the only package of ptport that imports gonum.org/v1/plot, with its fonts and
// image, PDF and LaTeX back ends, so that a program which loads and runs a model links
// none of them.
package plot
