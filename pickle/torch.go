package pickle

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"

	"github.com/nlpodyssey/gopickle/types"
)

// rebuildTensor implements torch._utils._rebuild_tensor (storage, offset,
// size, stride), _rebuild_tensor_v2 (..., requires_grad, backward_hooks[,
// metadata]) and _rebuild_tensor_v3 (..., requires_grad, backward_hooks,
// dtype[, metadata]). The metadata torch 2.x writes for tensors with lazy bits,
// {'conj': True} and {'neg': True}, sets Conj and Neg.
func (r *reader) rebuildTensor(c *pyClass, args []any) (any, error) {
	minArgs, maxArgs := 4, 4
	switch c.kind {
	case gRebuildTensorV2:
		minArgs, maxArgs = 6, 7
	case gRebuildTensorV3:
		minArgs, maxArgs = 7, 8
	}
	if len(args) < minArgs || len(args) > maxArgs {
		return nil, fmt.Errorf("%s: expected %d to %d arguments, got %d", c, minArgs, maxArgs, len(args))
	}
	t, err := viewOf(c, args[0], args[1], args[2], args[3])
	if err != nil {
		return nil, err
	}
	if t.Storage.qdtype != "" {
		return nil, fmt.Errorf("%s: storage %q holds a quantized (%s) tensor, which only _rebuild_qtensor builds", c, t.Storage.key, t.Storage.qdtype)
	}
	if c.kind != gRebuildTensor {
		rg, ok := args[4].(bool)
		if !ok && args[4] != nil {
			return nil, fmt.Errorf("%s: requires_grad is %s, not a bool", c, typeName(args[4]))
		}
		t.RequiresGrad = rg
	}
	if c.kind == gRebuildTensorV3 {
		dt, err := dtypeOf(args[6])
		if err != nil {
			return nil, fmt.Errorf("%s: %v", c, err)
		}
		t.DType = dt
	}
	if len(args) == maxArgs && c.kind != gRebuildTensor {
		if err := t.setMetadata(args[maxArgs-1]); err != nil {
			return nil, fmt.Errorf("%s: %v", c, err)
		}
	}
	if err := t.checkBounds(); err != nil {
		return nil, err
	}
	return &tensorVal{t: t}, nil
}

// viewOf checks the (storage, storage_offset, size, stride) arguments every
// rebuild function of a strided tensor takes and returns the view.
func viewOf(c *pyClass, storage, offset, size, stride any) (*Tensor, error) {
	s, ok := storage.(*Storage)
	if !ok {
		return nil, fmt.Errorf("%s: storage argument is %s", c, typeName(storage))
	}
	off, ok := toInt64(offset)
	if !ok {
		return nil, fmt.Errorf("%s: storage offset: %v", c, intError(offset))
	}
	if off < 0 {
		return nil, fmt.Errorf("%s: negative storage offset %d", c, off)
	}
	shape, err := intTuple(size)
	if err != nil {
		return nil, fmt.Errorf("%s: size: %v", c, err)
	}
	strides, err := intTuple(stride)
	if err != nil {
		return nil, fmt.Errorf("%s: stride: %v", c, err)
	}
	if len(shape) != len(strides) {
		return nil, fmt.Errorf("%s: %d sizes but %d strides", c, len(shape), len(strides))
	}
	o, ok := asInt(off)
	if !ok {
		return nil, fmt.Errorf("%s: storage offset %d is out of the range of a %d-bit int", c, off, strconv.IntSize)
	}
	return &Tensor{DType: s.DType, Shape: shape, Strides: strides, Offset: o, Storage: s}, nil
}

// setMetadata applies the metadata dict of _rebuild_tensor_v2/v3: the lazy
// conjugate and negative bits. A bit this package does not know, set true,
// is an error: the values would be wrong without it.
func (t *Tensor) setMetadata(v any) error {
	if v == nil {
		return nil
	}
	items, ok := dictItems(v)
	if !ok {
		return fmt.Errorf("tensor metadata is %s, not a dict", typeName(v))
	}
	for _, e := range items {
		key, ok := e.Key.(string)
		if !ok {
			return fmt.Errorf("tensor metadata key is %s, not a string", typeName(e.Key))
		}
		on, ok := e.Value.(bool)
		if !ok {
			return fmt.Errorf("tensor metadata %q is %s, not a bool", key, typeName(e.Value))
		}
		switch key {
		case "conj":
			t.Conj = on
		case "neg":
			t.Neg = on
		default:
			if on {
				return fmt.Errorf("unsupported tensor metadata %q", key)
			}
		}
	}
	if t.Conj && !t.DType.IsComplex() {
		return fmt.Errorf("the conjugate bit is set on a %s tensor", t.DType)
	}
	if t.Neg && !negatable(t.DType) {
		return fmt.Errorf("the negative bit is set on a %s tensor", t.DType)
	}
	return nil
}

// dtypeOf returns the DType of a torch dtype value.
func dtypeOf(v any) (DType, error) {
	c, ok := v.(*pyClass)
	if !ok || c.kind != gDType {
		return "", fmt.Errorf("dtype argument is %s", typeName(v))
	}
	if c.dtype == "" {
		return "", fmt.Errorf("unsupported dtype %s", c)
	}
	return c.dtype, nil
}

// intTuple converts a tuple or list of ints (a torch.Size) to []int.
func intTuple(v any) ([]int, error) {
	items, ok := iterItems(v)
	if !ok {
		return nil, fmt.Errorf("expected a tuple of ints, got %s", typeName(v))
	}
	out := make([]int, len(items))
	for i, it := range items {
		n, ok := toInt64(it)
		if !ok {
			return nil, fmt.Errorf("item %d: %v", i, intError(it))
		}
		if out[i], ok = asInt(n); !ok {
			return nil, fmt.Errorf("item %d is %d, out of the range of a %d-bit int", i, n, strconv.IntSize)
		}
	}
	return out, nil
}

// intError says why v, where an int belongs, is not one torch could take: an int64
// holds every size, stride and offset of a torch tensor.
func intError(v any) error {
	if b, ok := v.(*big.Int); ok && b != nil {
		return fmt.Errorf("%v is out of the range of a 64-bit int", b)
	}
	return fmt.Errorf("%s is not an int", typeName(v))
}

// checkBounds checks the view against the storage's length, as torch's
// set_ does (see checkView). The storage's bytes need not be resolved yet.
func (t *Tensor) checkBounds() error {
	e := int64(t.DType.Size())
	if e == 0 {
		return fmt.Errorf("tensor has unknown dtype %q", t.DType)
	}
	se := uint64(t.Storage.DType.Size())
	if se == 0 || t.Storage.Len < 0 {
		return fmt.Errorf("storage %q is invalid", t.Storage.key)
	}
	hi, nb := bits.Mul64(uint64(t.Storage.Len), se)
	if hi != 0 || nb > 1<<62 {
		return fmt.Errorf("storage %q is too large", t.Storage.key)
	}
	return checkView(t.Shape, t.Strides, t.Offset, e, int64(nb), fmt.Sprintf("storage %q (%d bytes)", t.Storage.key, nb))
}

// maxTensorBytes is the most bytes the elements of a tensor take.
const maxTensorBytes = 1 << 62

// checkView checks a view (offset, shape, strides) of elements of e bytes on storage, a
// storage of nb bytes, as torch's set_ checks it (c10's computeStorageNbytes): no size
// and no stride is negative, and every element lies in the storage. A view with no
// element (a size of 0) reads nothing, so that its strides and offset are not
// checked against the storage, as torch does not check them; its other sizes must
// still have a product an int holds (the largest stride of its contiguous layout). The
// elements of a view take at most 2^62 bytes.
func checkView(shape, strides []int, offset int, e, nb int64, storage string) error {
	if len(strides) != len(shape) {
		return fmt.Errorf("%d strides for %d dimensions", len(strides), len(shape))
	}
	if offset < 0 {
		return fmt.Errorf("negative storage offset %d", offset)
	}
	for i, d := range shape {
		if d < 0 {
			return fmt.Errorf("negative size %d in %v", d, shape)
		}
		if strides[i] < 0 {
			return fmt.Errorf("negative stride %d in %v", strides[i], strides)
		}
	}
	n, ok := numel(shape)
	if !ok {
		msg := fmt.Sprintf("size %v: the product of its sizes other than 0 is more than %d, the largest 64-bit int", shape, int64(math.MaxInt64))
		if strconv.IntSize == 32 {
			msg += fmt.Sprintf(", or a stride of its contiguous layout more than %d, the largest 32-bit int", math.MaxInt32)
		}
		return errors.New(msg)
	}
	if n == 0 {
		return nil
	}
	if hi, lo := bits.Mul64(uint64(n), uint64(e)); hi != 0 || lo > maxTensorBytes {
		return fmt.Errorf("size %v: %d elements of %d bytes take more than 2^62 bytes", shape, n, e)
	}
	// The last element is at offset + Σ (size-1)×stride; its end must be in the storage.
	last, carry := uint64(offset), uint64(0)
	for i, d := range shape {
		hi, lo := bits.Mul64(uint64(d-1), uint64(strides[i]))
		var c uint64
		last, c = bits.Add64(last, lo, 0)
		carry |= hi | c
	}
	hi, end := bits.Mul64(last, uint64(e))
	if end, c := bits.Add64(end, uint64(e), 0); carry != 0 || hi != 0 || c != 0 || end > uint64(nb) {
		reach := strconv.FormatUint(last, 10)
		if carry != 0 {
			reach = "beyond 2^64"
		}
		return fmt.Errorf("view (offset %d, size %v, stride %v) reaches element %s, which exceeds %s", offset, shape, strides, reach, storage)
	}
	return nil
}

// rebuildParameter implements torch._utils._rebuild_parameter (data,
// requires_grad, backward_hooks) and _rebuild_parameter_with_state (...,
// state).
func rebuildParameter(c *pyClass, args []any) (any, error) {
	want := 3
	if c.kind == gRebuildParameterWithState {
		want = 4
	}
	if len(args) != want {
		return nil, fmt.Errorf("%s: expected %d arguments, got %d", c, want, len(args))
	}
	return newParameter(args[:2])
}

// newParameter implements torch.nn.Parameter(data, requires_grad=True).
func newParameter(args []any) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("torch.nn.parameter.Parameter without data (an uninitialized parameter) is not supported")
	}
	tv, ok := args[0].(*tensorVal)
	if !ok {
		return nil, fmt.Errorf("torch.nn.parameter.Parameter: data is %s, not a tensor", typeName(args[0]))
	}
	t := *tv.t
	t.RequiresGrad = true
	if len(args) > 1 {
		rg, ok := args[1].(bool)
		if !ok {
			return nil, fmt.Errorf("torch.nn.parameter.Parameter: requires_grad is %s, not a bool", typeName(args[1]))
		}
		t.RequiresGrad = rg
	}
	return &tensorVal{&t, true}, nil
}

// rebuildFromType implements torch._tensor._rebuild_from_type_v2 (func,
// new_type, args, state): the tensor func(*args) builds, as new_type.
// Attributes in state are not kept.
func rebuildFromType(c *pyClass, args []any) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("%s: expected 4 arguments, got %d", c, len(args))
	}
	fn, ok := args[0].(*pyClass)
	if !ok {
		return nil, fmt.Errorf("%s: func is %s", c, typeName(args[0]))
	}
	fargs, ok := args[2].(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%s: args is %s, not a tuple", c, typeName(args[2]))
	}
	switch fn.kind {
	case gRebuildTensor, gRebuildTensorV2, gRebuildTensorV3, gRebuildParameter,
		gRebuildParameterWithState, gRebuildDeviceFromCPU, gRebuildUnsupported, gUser, gShipped,
		gRebuildQTensor, gRebuildSparse, gRebuildSparseCSR, gRebuildNested, gRebuildMeta,
		gRebuildWrapper, gRebuildFromNumpy:
	default:
		return nil, fmt.Errorf("%s: func %s is not a tensor rebuild function", c, fn)
	}
	v, err := fn.Call(*fargs...)
	if err != nil {
		return nil, err
	}
	if nt, ok := args[1].(*pyClass); ok && nt.kind == gParameter {
		if tv, ok := v.(*tensorVal); ok {
			return &tensorVal{tv.t, true}, nil
		}
	}
	return v, nil
}

// dictItems returns the entries of a dict or OrderedDict as the unpickler
// built it.
func dictItems(v any) ([]types.DictEntry, bool) {
	switch d := v.(type) {
	case *pyDict:
		out := make([]types.DictEntry, len(d.keys))
		for i, k := range d.keys {
			out[i] = types.DictEntry{Key: k, Value: d.vals[i]}
		}
		return out, true
	case *types.Dict:
		return *d, true
	case *types.OrderedDict:
		out := make([]types.DictEntry, 0, d.Len())
		for el := d.List.Front(); el != nil; el = el.Next() {
			if e, ok := el.Value.(*types.OrderedDictEntry); ok {
				out = append(out, types.DictEntry{Key: e.Key, Value: e.Value})
			}
		}
		return out, true
	}
	return nil, false
}

// tensorClassDTypes are the dtypes of torch.Tensor and the legacy tensor
// classes, whose cls.__new__(cls) makes an empty tensor of it (torch.Tensor's
// is the default dtype, float32).
var tensorClassDTypes = map[string]DType{
	"Tensor": F32, "FloatTensor": F32, "DoubleTensor": F64, "HalfTensor": F16, "BFloat16Tensor": BF16,
	"LongTensor": I64, "IntTensor": I32, "ShortTensor": I16, "CharTensor": I8, "ByteTensor": U8,
	"BoolTensor": BOOL,
}

// emptyTensor implements NEWOBJ of torch.Tensor or a legacy tensor class,
// cls.__new__(cls): an empty CPU tensor, which a BUILD then sets
// (Tensor.__setstate__: set_(storage, offset, size, stride)).
func emptyTensor(c *pyClass, args []any) (any, error) {
	dt, ok := tensorClassDTypes[c.name]
	if !ok || c.module != "torch" && c.module != "torch._tensor" {
		return nil, fmt.Errorf("%s cannot be instantiated", c)
	}
	if len(args) > 0 {
		return nil, fmt.Errorf("%s.__new__ with arguments (the legacy constructor) is not supported", c)
	}
	s := &Storage{DType: dt, Device: "cpu", src: memSource(nil)}
	return &tensorVal{t: &Tensor{DType: dt, Shape: []int{0}, Strides: []int{1}, Storage: s}}, nil
}

// setState implements BUILD on a tensor or a Parameter, as
// Tensor.__setstate__ does: a state of 4 items is set_(storage,
// storage_offset, size, stride), the tensor becoming that view; 5 items are
// a legacy Variable (data, ..., requires_grad at 3); 3 items are
// (requires_grad, _, backward_hooks). torch.load reads the tensor the state
// makes, whatever rebuilt it first.
func (tv *tensorVal) setState(state any) error {
	items, ok := iterItems(state)
	if _, isSet := state.(*pySet); !ok || isSet {
		return fmt.Errorf("BUILD state of a tensor is %s, not a tuple", typeName(state))
	}
	t := tv.t
	if t.Quantization != nil {
		return fmt.Errorf("BUILD on a quantized tensor is not supported")
	}
	switch len(items) {
	case 4:
		v, err := viewOf(&pyClass{module: "torch.Tensor", name: "set_"}, items[0], items[1], items[2], items[3])
		if err != nil {
			return err
		}
		if v.Storage.DType != t.DType && v.Storage.DType != U8 {
			return fmt.Errorf("torch.Tensor.set_: a storage of %s for a %s tensor (torch.load fails on it too)", v.Storage.DType, t.DType)
		}
		v.DType, v.RequiresGrad, v.Conj, v.Neg = t.DType, t.RequiresGrad, t.Conj, t.Neg
		if err := v.checkBounds(); err != nil {
			return err
		}
		*t = *v
		return nil
	case 5:
		d, ok := items[0].(*tensorVal)
		if !ok {
			return fmt.Errorf("BUILD state of a tensor: data is %s, not a tensor", typeName(items[0]))
		}
		rg := t.RequiresGrad
		*t = *d.t
		t.RequiresGrad = rg
		items = []any{items[3], items[4], items[2]}
	case 3:
	default:
		return fmt.Errorf("BUILD state of a tensor has %d items (Tensor.__setstate__ takes 3, 4 or 5)", len(items))
	}
	rg, ok := items[0].(bool)
	if !ok {
		return fmt.Errorf("BUILD state of a tensor: requires_grad is %s, not a bool", typeName(items[0]))
	}
	t.RequiresGrad = rg
	return nil
}
