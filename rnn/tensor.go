package rnn

import "fmt"

// Float is the element type of a Model: float32 or float64 (or a type defined on them).
type Float interface{ ~float32 | ~float64 }

// Tensor is a dense row-major array: element (i0, i1, ..., ik) is at
// Data[((i0*Shape[1]+i1)*Shape[2]+...)*Shape[k]+ik]. len(Data) equals the product of Shape.
type Tensor[T Float] struct {
	Data  []T
	Shape []int
}

// newTensor returns a zero tensor of the given shape.
func newTensor[T Float](shape ...int) *Tensor[T] {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return &Tensor[T]{Data: make([]T, n), Shape: append([]int(nil), shape...)}
}

// check reports whether t is non-nil and its Data length matches its Shape.
func (t *Tensor[T]) check(name string) error {
	if t == nil {
		return fmt.Errorf("rnn: %s is nil", name)
	}
	n := 1
	for _, s := range t.Shape {
		if s < 0 {
			return fmt.Errorf("rnn: %s has a negative dimension in shape %v", name, t.Shape)
		}
		if s > 0 && n > maxElems/s {
			return fmt.Errorf("rnn: %s shape %v is too large", name, t.Shape)
		}
		n *= s
	}
	if len(t.Data) != n {
		return fmt.Errorf("rnn: %s has %d elements, shape %v needs %d", name, len(t.Data), t.Shape, n)
	}
	return nil
}

// maxElems bounds the number of elements of any tensor a Model reads or makes.
const maxElems = 1 << 40

// shapeString formats a shape as PyTorch prints a torch.Size in its messages: [a, b, c].
func shapeString(s []int) string {
	b := []byte{'['}
	for i, v := range s {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Append(b, v)
	}
	return string(append(b, ']'))
}

// tupleString formats a shape as a Python tuple: (a, b, c).
func tupleString(s []int) string {
	b := []byte{'('}
	for i, v := range s {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Append(b, v)
	}
	if len(s) == 1 {
		b = append(b, ',')
	}
	return string(append(b, ')'))
}
