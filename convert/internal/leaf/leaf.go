package leaf

import "github.com/ptport/ptport/pickle"

// Split separates tensors from the other leaves, keeping the order of each.
func Split(leaves []pickle.Leaf) (tensors, values []pickle.Leaf) {
	for _, l := range leaves {
		if _, ok := l.Value.(*pickle.Tensor); ok {
			tensors = append(tensors, l)
		} else {
			values = append(values, l)
		}
	}
	return tensors, values
}

// CountTensors is the number of tensor leaves.
func CountTensors(leaves []pickle.Leaf) int {
	n := 0
	for _, l := range leaves {
		if _, ok := l.Value.(*pickle.Tensor); ok {
			n++
		}
	}
	return n
}

// Strides are the C-order strides of shape, in elements.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = n
		n *= shape[i]
	}
	return s
}
