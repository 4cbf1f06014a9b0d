// Package plot draws where a parity check's errors arise: the largest absolute error of
// the output at each time step, per direction, on a log scale, beside the tolerance.
// An error at the first step points at the weights or biases; one that grows with time
// points at the recurrence.
//
// It is the only package of ptport that imports gonum.org/v1/plot, with its fonts and
// image, PDF and LaTeX back ends, so that a program which loads and runs a model links
// none of them.
package plot
