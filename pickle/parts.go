package pickle

import (
	"errors"
	"fmt"

	"github.com/nlpodyssey/gopickle/types"
)

// ErrNoData is wrapped by the error of reading a tensor that has a shape and no data:
// one on torch's meta device.
var ErrNoData = errors.New("the tensor has no data (it is on the meta device)")

// callTensorKind applies the globals of this file's kinds: the rebuild
// functions of quantized, sparse, nested, meta and numpy tensors, and the
// helpers TorchScript's data.pkl calls. ok is false for other kinds.
func (c *pyClass) callTensorKind(args []any) (v any, ok bool, err error) {
	switch c.kind {
	case gRebuildQTensor:
		v, err = c.r.rebuildQTensor(c, args)
	case gRebuildSparse, gRebuildSparseCSR:
		v, err = rebuildSparse(c, args)
	case gRebuildNested:
		v, err = rebuildNested(c, args)
	case gRebuildMeta:
		v, err = rebuildMeta(c, args)
	case gRebuildFromNumpy:
		v, err = rebuildFromNumpy(c, args)
	case gRebuildWrapper:
		err = fmt.Errorf("%s: a tensor subclass that keeps no data of its own (such as a DTensor or a FakeTensor) is not supported", c)
	case gJitList:
		if len(args) != 1 {
			return nil, true, fmt.Errorf("%s: expected 1 argument, got %d", c, len(args))
		}
		if _, isList := args[0].(*types.List); !isList {
			return nil, true, fmt.Errorf("%s: argument is %s, not a list", c, typeName(args[0]))
		}
		v = args[0]
	case gJitTypeTag:
		// restore_type_tag(value, type_str) returns value: the tag only
		// matters to TorchScript's own unpickler.
		if len(args) != 2 {
			return nil, true, fmt.Errorf("%s: expected (value, type), got %d arguments", c, len(args))
		}
		if _, isStr := args[1].(string); !isStr {
			return nil, true, fmt.Errorf("%s: type is %s, not a string", c, typeName(args[1]))
		}
		v = args[0]
	case gJitTensorFromID:
		// build_tensor_from_id(data) returns data when it is an int, else None.
		if len(args) != 1 {
			return nil, true, fmt.Errorf("%s: expected 1 argument, got %d", c, len(args))
		}
		if n, isInt := toInt64(args[0]); isInt {
			v = n
		}
	default:
		return nil, false, nil
	}
	return v, true, err
}

// rebuildMeta implements torch._utils._rebuild_meta_tensor_no_storage (dtype,
// size, stride, requires_grad): a tensor with a shape and no data.
func rebuildMeta(c *pyClass, args []any) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("%s: expected (dtype, size, stride, requires_grad), got %d arguments", c, len(args))
	}
	dt, err := dtypeOf(args[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %v", c, err)
	}
	shape, err := intTuple(args[1])
	if err != nil {
		return nil, fmt.Errorf("%s: size: %v", c, err)
	}
	strides, err := intTuple(args[2])
	if err != nil {
		return nil, fmt.Errorf("%s: stride: %v", c, err)
	}
	if len(shape) != len(strides) {
		return nil, fmt.Errorf("%s: %d sizes but %d strides", c, len(shape), len(strides))
	}
	rg, _ := args[3].(bool)
	// The storage a strided tensor of this view would need, so that the view
	// checks as any other; it has no source.
	n := int64(0)
	if count, ok := numel(shape); ok && count > 0 {
		n = 1
		for i, d := range shape {
			if strides[i] < 0 {
				return nil, fmt.Errorf("%s: negative stride in %v", c, strides)
			}
			n += int64(d-1) * int64(strides[i])
			if n > 1<<40 {
				return nil, fmt.Errorf("%s: view %v %v is too large", c, shape, strides)
			}
		}
	}
	s := &Storage{DType: dt, Len: n, Device: "meta"}
	t := &Tensor{DType: dt, Shape: shape, Strides: strides, Storage: s, RequiresGrad: rg}
	if err := t.checkBounds(); err != nil {
		return nil, fmt.Errorf("%s: %v", c, err)
	}
	return &tensorVal{t: t}, nil
}

// rebuildFromNumpy implements torch._utils._rebuild_device_tensor_from_numpy (data,
// dtype, device, requires_grad) for a numpy array of the tensor's own dtype (torch
// converts the array; a conversion is refused here).
func rebuildFromNumpy(c *pyClass, args []any) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("%s: expected (data, dtype, device, requires_grad), got %d arguments", c, len(args))
	}
	tv, ok := args[0].(*tensorVal)
	if !ok {
		return nil, fmt.Errorf("%s: data is %s, not a numpy array", c, typeName(args[0]))
	}
	dt, err := dtypeOf(args[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %v", c, err)
	}
	if dt != tv.t.DType {
		return nil, fmt.Errorf("%s: converting a %s array to %s is not supported", c, tv.t.DType, dt)
	}
	t := *tv.t
	t.RequiresGrad, _ = args[3].(bool)
	return &tensorVal{t: &t}, nil
}

// components returns the named parts that Leaves yields for a value stored
// as several tensors, and whether the value itself is a leaf too. ok is false
// for other values.
func components(v any) (self bool, parts []Leaf, ok bool) {
	switch x := v.(type) {
	case *Tensor:
		if x.Quantization != nil {
			return true, quantizationParts(x.Quantization), true
		}
		return true, nil, true
	case *SparseTensor:
		return false, x.parts(), true
	case *NestedTensor:
		return false, x.parts(), true
	}
	return false, nil, false
}

// composite walks a tensor, and the parts of a tensor stored as several:
// NAME, then NAME.PART for each part.
func (w *leafWalker) composite(v any, p leafPath, depth int) (bool, error) {
	self, parts, ok := components(v)
	if !ok {
		return false, nil
	}
	if !p.below {
		p = p.at("tensor")
	}
	if w.whole {
		return true, w.emit(p, v)
	}
	if self {
		if err := w.emit(p, v); err != nil {
			return true, err
		}
	}
	for _, part := range parts {
		w.part = &leafPart{of: v, name: part.Name}
		err := w.walk(part.Value, p.at(part.Name), depth+1)
		w.part = nil
		if err != nil {
			return true, err
		}
	}
	return true, nil
}
