package rnn

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// Dense returns a copy of t, which must be 2-D with no empty dimension, as a gonum
// matrix: element (i, j) of the matrix is element (i, j) of t, converted to float64.
func (t *Tensor[T]) Dense() (*mat.Dense, error) {
	if err := t.check("tensor"); err != nil {
		return nil, err
	}
	if len(t.Shape) != 2 || t.Shape[0] == 0 || t.Shape[1] == 0 {
		return nil, fmt.Errorf("rnn: a matrix needs a 2-D tensor with no empty dimension, got shape %v", t.Shape)
	}
	return mat.NewDense(t.Shape[0], t.Shape[1], toFloat64s(t.Data)), nil
}

// VecDense returns a copy of t, which must be 1-D and not empty, as a gonum vector.
func (t *Tensor[T]) VecDense() (*mat.VecDense, error) {
	if err := t.check("tensor"); err != nil {
		return nil, err
	}
	if len(t.Shape) != 1 || t.Shape[0] == 0 {
		return nil, fmt.Errorf("rnn: a vector needs a 1-D tensor that is not empty, got shape %v", t.Shape)
	}
	return mat.NewVecDense(t.Shape[0], toFloat64s(t.Data)), nil
}

func toFloat64s[T Elem](v []T) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// FromMatrix returns a 2-D tensor (r, c) holding a copy of the elements of the r×c
// matrix a, rounded to T.
func FromMatrix[T Float](a mat.Matrix) *Tensor[T] {
	r, c := a.Dims()
	t := newTensor[T](r, c)
	if d, ok := a.(mat.RawMatrixer); ok {
		raw := d.RawMatrix()
		for i := 0; i < r; i++ {
			row := raw.Data[i*raw.Stride : i*raw.Stride+c]
			for j, v := range row {
				t.Data[i*c+j] = T(v)
			}
		}
		return t
	}
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			t.Data[i*c+j] = T(a.At(i, j))
		}
	}
	return t
}

// FromVector returns a 1-D tensor holding a copy of the elements of v, rounded to T.
func FromVector[T Float](v mat.Vector) *Tensor[T] {
	n := v.Len()
	t := newTensor[T](n)
	for i := range t.Data {
		t.Data[i] = T(v.AtVec(i))
	}
	return t
}
