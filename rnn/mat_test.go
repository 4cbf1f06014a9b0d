package rnn

import (
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestGonum(t *testing.T) {
	x, err := NewTensor([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	d, err := x.Dense()
	if err != nil {
		t.Fatal(err)
	}
	if r, c := d.Dims(); r != 2 || c != 3 || d.At(1, 0) != 4 || d.At(0, 2) != 3 {
		t.Errorf("Dense: %v", mat.Formatted(d))
	}
	d.Set(0, 0, 9) // a copy
	if x.Data[0] != 1 {
		t.Error("Dense shares the tensor's memory")
	}
	back := FromMatrix[float32](d)
	if !slices.Equal(back.Shape, []int{2, 3}) || !slices.Equal(back.Data, []float32{9, 2, 3, 4, 5, 6}) {
		t.Errorf("FromMatrix: %v", back)
	}
	// Views and transposes: strides and At.
	sub := d.Slice(0, 2, 1, 3)
	if got := FromMatrix[float64](sub); !slices.Equal(got.Data, []float64{2, 3, 5, 6}) {
		t.Errorf("FromMatrix of a slice: %v", got.Data)
	}
	if got := FromMatrix[float64](d.T()); !slices.Equal(got.Shape, []int{3, 2}) || !slices.Equal(got.Data, []float64{9, 4, 2, 5, 3, 6}) {
		t.Errorf("FromMatrix of a transpose: %v", got)
	}
	v, err := (&Tensor[int64]{Data: []int64{7, -1}, Shape: []int{2}}).VecDense()
	if err != nil || v.Len() != 2 || v.AtVec(1) != -1 {
		t.Errorf("VecDense of int64s: %v %v", v, err)
	}
	if got := FromVector[float32](mat.NewVecDense(3, []float64{1, 2, 3}).SliceVec(1, 3)); !slices.Equal(got.Data, []float32{2, 3}) || !slices.Equal(got.Shape, []int{2}) {
		t.Errorf("FromVector: %v", got)
	}
	if got := FromMatrix[float32](&mat.Dense{}); len(got.Data) != 0 || !slices.Equal(got.Shape, []int{0, 0}) {
		t.Errorf("FromMatrix of an empty matrix: %v", got)
	}
	for _, tc := range []struct {
		t   *Tensor[float32]
		vec bool
		msg string
	}{
		{newTensor[float32](2, 3, 1), false, "2-D tensor"},
		{newTensor[float32](0, 3), false, "no empty dimension"},
		{newTensor[float32](2, 3), true, "1-D tensor"},
		{newTensor[float32](0), true, "not empty"},
		{&Tensor[float32]{Data: []float32{1}, Shape: []int{2}}, true, "has 1 elements"},
	} {
		var err error
		if tc.vec {
			_, err = tc.t.VecDense()
		} else {
			_, err = tc.t.Dense()
		}
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: %v, want an error containing %q", tc.t.Shape, err, tc.msg)
		}
	}
	if _, err := NewTensor([]float64{1, 2, 3}, 2, 2); err == nil || !strings.Contains(err.Error(), "has 3 elements, shape [2 2] needs 4") {
		t.Errorf("NewTensor with too few values: %v", err)
	}
	if _, err := NewTensor([]float64{}, 2, -1); err == nil {
		t.Error("NewTensor accepted a negative dimension")
	}
	if s, err := NewTensor([]int64{5}); err != nil || len(s.Shape) != 0 {
		t.Errorf("NewTensor of a scalar: %v %v", s, err)
	}
}
