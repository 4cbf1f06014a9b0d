package rnn

import (
	"fmt"
	"math"
)

// Float is the element type of a Model and of the layers: float32 or float64 (or a type
// defined on them).
type Float interface{ ~float32 | ~float64 }

// Elem is the element type of a Tensor: a Float, or int64 for the indices an Embedding
// looks up (PyTorch's LongTensor).
type Elem interface{ Float | ~int64 }

// Tensor is a dense row-major array: element (i0, i1, ..., ik) is at
// Data[((i0*Shape[1]+i1)*Shape[2]+...)*Shape[k]+ik]. len(Data) equals the product of Shape;
// a Tensor with no dimensions holds one value.
type Tensor[T Elem] struct {
	Data  []T
	Shape []int
}

// NewTensor returns a Tensor of the given shape over data, which it uses, not copies. It
// is an error if a dimension is negative or len(data) is not the product of shape.
func NewTensor[T Elem](data []T, shape ...int) (*Tensor[T], error) {
	t := &Tensor[T]{Data: data, Shape: append([]int(nil), shape...)}
	if err := t.check("tensor"); err != nil {
		return nil, err
	}
	return t, nil
}

// newTensor returns a zero tensor of the given shape.
func newTensor[T Elem](shape ...int) *Tensor[T] {
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

// maxElems bounds the number of elements of any tensor a Model reads or makes, so that
// byte sizes fit an int on 32-bit platforms too.
const maxElems = min(1<<40, math.MaxInt/8)

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
