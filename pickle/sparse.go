package pickle

import (
	"fmt"
	"strings"
)

// SparseTensor is a sparse tensor (torch.sparse_coo_tensor and the compressed layouts)
// as the file stores it: its components, which are ordinary strided tensors.
//
// Leaves yields a sparse tensor NAME as its components, named as torch's accessors
// name them: NAME.indices and NAME.values (sparse_coo); NAME.crow_indices,
// NAME.col_indices and NAME.values (sparse_csr, sparse_bsr); NAME.ccol_indices,
// NAME.row_indices and NAME.values (sparse_csc, sparse_bsc); and beside them
// NAME.layout (the layout's name, a string) and NAME.size (the dense shape, a tuple of
// ints: NAME.size.0, NAME.size.1, ...).
type SparseTensor struct {
	Layout string // "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr" or "sparse_bsc"
	Shape  []int  // the dense shape

	Indices *Tensor // sparse_coo: the [sparse dims, nnz] indices

	// Coalesced reports that the file marks the sparse_coo indices coalesced (sorted,
	// without duplicates), as torch 2.x records is_coalesced().
	Coalesced bool

	// The compressed layouts: crow_indices and col_indices (csr, bsr) or ccol_indices
	// and row_indices (csc, bsc).
	CompressedIndices, PlainIndices *Tensor

	Values *Tensor
}

// compressedNames returns the names of a compressed layout's index tensors.
func compressedNames(layout string) (compressed, plain string) {
	if layout == "sparse_csc" || layout == "sparse_bsc" {
		return "ccol_indices", "row_indices"
	}
	return "crow_indices", "col_indices"
}

func (s *SparseTensor) parts() []Leaf {
	size := make(Tuple, len(s.Shape))
	for i, d := range s.Shape {
		size[i] = int64(d)
	}
	out := []Leaf{{Name: "layout", Value: s.Layout}, {Name: "size", Value: size}}
	if s.Layout == "sparse_coo" {
		return append(out, Leaf{Name: "indices", Value: s.Indices}, Leaf{Name: "values", Value: s.Values})
	}
	c, p := compressedNames(s.Layout)
	return append(out, Leaf{Name: c, Value: s.CompressedIndices}, Leaf{Name: p, Value: s.PlainIndices},
		Leaf{Name: "values", Value: s.Values})
}

// NestedTensor is a nested tensor (torch.nested) as the file stores it: one buffer of
// values and, for each constituent tensor, its size, strides and offset in the buffer.
//
// Leaves yields a nested tensor NAME as NAME.values (the 1-d buffer), NAME.sizes and
// NAME.strides (I64, one row per constituent) and NAME.storage_offsets (I64).
type NestedTensor struct {
	Values, Sizes, Strides, StorageOffsets *Tensor
}

func (n *NestedTensor) parts() []Leaf {
	return []Leaf{{Name: "values", Value: n.Values}, {Name: "sizes", Value: n.Sizes},
		{Name: "strides", Value: n.Strides}, {Name: "storage_offsets", Value: n.StorageOffsets}}
}

// rebuildSparse implements torch._utils._rebuild_sparse_tensor (layout, data) of
// torch 2.x, for every layout, and _rebuild_sparse_csr_tensor (layout, data) of torch
// 1.10 to 1.13.
func rebuildSparse(c *pyClass, args []any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("%s: expected (layout, data), got %d arguments", c, len(args))
	}
	lc, ok := args[0].(*pyClass)
	if !ok || lc.kind != gConstant || !strings.HasPrefix(lc.name, "sparse_") {
		return nil, fmt.Errorf("%s: layout is %s", c, typeName(args[0]))
	}
	data, ok := iterItems(args[1])
	if !ok {
		return nil, fmt.Errorf("%s: data is %s, not a tuple", c, typeName(args[1]))
	}
	s := &SparseTensor{Layout: lc.name}
	tensor := func(i int, what string) (*Tensor, error) {
		tv, ok := data[i].(*tensorVal)
		if !ok {
			return nil, fmt.Errorf("%s: %s are %s, not a tensor", c, what, typeName(data[i]))
		}
		if tv.t.Quantization != nil {
			return nil, fmt.Errorf("%s: %s are a quantized tensor", c, what)
		}
		return tv.t, nil
	}
	var err error
	switch s.Layout {
	case "sparse_coo":
		if c.kind != gRebuildSparse || (len(data) != 3 && len(data) != 4) {
			return nil, fmt.Errorf("%s: sparse_coo data is (indices, values, size[, is_coalesced]), got %d items", c, len(data))
		}
		if s.Indices, err = tensor(0, "indices"); err != nil {
			return nil, err
		}
		if s.Values, err = tensor(1, "values"); err != nil {
			return nil, err
		}
		if s.Shape, err = intTuple(data[2]); err != nil {
			return nil, fmt.Errorf("%s: size: %v", c, err)
		}
		if len(data) == 4 {
			on, ok := data[3].(bool)
			if !ok && data[3] != nil {
				return nil, fmt.Errorf("%s: is_coalesced is %s, not a bool", c, typeName(data[3]))
			}
			s.Coalesced = on
		}
		if len(s.Indices.Shape) != 2 || len(s.Values.Shape) < 1 || s.Indices.Shape[0]+len(s.Values.Shape)-1 != len(s.Shape) ||
			s.Indices.Shape[1] != s.Values.Shape[0] {
			return nil, fmt.Errorf("%s: indices %v and values %v do not describe a tensor of size %v", c, s.Indices.Shape, s.Values.Shape, s.Shape)
		}
	case "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc":
		if len(data) != 4 || (c.kind == gRebuildSparseCSR && s.Layout != "sparse_csr") {
			return nil, fmt.Errorf("%s: %s data is (compressed_indices, plain_indices, values, size), got %d items", c, s.Layout, len(data))
		}
		cn, pn := compressedNames(s.Layout)
		if s.CompressedIndices, err = tensor(0, cn); err != nil {
			return nil, err
		}
		if s.PlainIndices, err = tensor(1, pn); err != nil {
			return nil, err
		}
		if s.Values, err = tensor(2, "values"); err != nil {
			return nil, err
		}
		if s.Shape, err = intTuple(data[3]); err != nil {
			return nil, fmt.Errorf("%s: size: %v", c, err)
		}
		if len(s.CompressedIndices.Shape) < 1 || len(s.PlainIndices.Shape) != len(s.CompressedIndices.Shape) || len(s.Shape) < 2 {
			return nil, fmt.Errorf("%s: %s %v and %s %v do not describe a tensor of size %v", c, cn, s.CompressedIndices.Shape, pn, s.PlainIndices.Shape, s.Shape)
		}
	default:
		return nil, fmt.Errorf("%s: unsupported layout torch.%s", c, s.Layout)
	}
	for _, t := range []*Tensor{s.Indices, s.CompressedIndices, s.PlainIndices} {
		if t != nil && t.DType != I64 && t.DType != I32 {
			return nil, fmt.Errorf("%s: %s indices are %s, not integers", c, s.Layout, t.DType)
		}
	}
	return s, nil
}

// rebuildNested implements torch._utils._rebuild_nested_tensor (buffer, sizes,
// strides, storage_offsets).
func rebuildNested(c *pyClass, args []any) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("%s: expected (buffer, sizes, strides, storage_offsets), got %d arguments", c, len(args))
	}
	var ts [4]*Tensor
	for i, a := range args {
		tv, ok := a.(*tensorVal)
		if !ok || tv.t.Quantization != nil {
			return nil, fmt.Errorf("%s: argument %d is %s, not a tensor", c, i+1, typeName(a))
		}
		ts[i] = tv.t
	}
	n := &NestedTensor{Values: ts[0], Sizes: ts[1], Strides: ts[2], StorageOffsets: ts[3]}
	if len(n.Values.Shape) != 1 || len(n.Sizes.Shape) != 2 || !equalInts(n.Sizes.Shape, n.Strides.Shape) ||
		len(n.StorageOffsets.Shape) != 1 || n.StorageOffsets.Shape[0] != n.Sizes.Shape[0] ||
		n.Sizes.DType != I64 || n.Strides.DType != I64 || n.StorageOffsets.DType != I64 {
		return nil, fmt.Errorf("%s: buffer %v, sizes %v %s, strides %v %s and offsets %v %s do not describe a nested tensor",
			c, n.Values.Shape, n.Sizes.Shape, n.Sizes.DType, n.Strides.Shape, n.Strides.DType, n.StorageOffsets.Shape, n.StorageOffsets.DType)
	}
	return n, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
