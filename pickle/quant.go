package pickle

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Quantization holds the parameters of a quantized tensor: a stored integer q stands
// for the real value (q - zero point) × scale, with one scale and zero point for the
// whole tensor (scheme per_tensor_affine) or one per index of dimension Axis
// (per_channel_affine, per_channel_affine_float_qparams).
//
// Leaves yields a quantized tensor NAME as its integers under NAME and its parameters
// as NAME.scale and NAME.zero_point: a float64 and an int64 value per tensor, or the
// Scales and ZeroPoints tensors per channel, with NAME.axis (an int64) beside them.
type Quantization struct {
	DType  string // the torch dtype: "qint8", "quint8" or "qint32"
	Scheme string // "per_tensor_affine", "per_channel_affine" or "per_channel_affine_float_qparams"

	Scale     float64 // per tensor
	ZeroPoint int64   // per tensor

	Scales     *Tensor // per channel: F64 (F32 for float_qparams), one per index of Axis
	ZeroPoints *Tensor // per channel: I64 (F32 for float_qparams)
	Axis       int     // per channel
}

// PerChannel reports whether the parameters are per channel.
func (q *Quantization) PerChannel() bool { return q.Scales != nil }

// rebuildQTensor implements torch._utils._rebuild_qtensor (storage,
// storage_offset, size, stride, quantizer_params, requires_grad,
// backward_hooks).
func (r *reader) rebuildQTensor(c *pyClass, args []any) (any, error) {
	if len(args) != 7 {
		return nil, fmt.Errorf("%s: expected 7 arguments, got %d", c, len(args))
	}
	t, err := viewOf(c, args[0], args[1], args[2], args[3])
	if err != nil {
		return nil, err
	}
	if t.Storage.qdtype == "" {
		return nil, fmt.Errorf("%s: storage %q is a %s storage, not a quantized one", c, t.Storage.key, t.Storage.DType)
	}
	rg, ok := args[5].(bool)
	if !ok && args[5] != nil {
		return nil, fmt.Errorf("%s: requires_grad is %s, not a bool", c, typeName(args[5]))
	}
	t.RequiresGrad = rg
	q, err := quantizerParams(args[4], t.Shape)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", c, err)
	}
	q.DType = t.Storage.qdtype
	t.Quantization = q
	if err := t.checkBounds(); err != nil {
		return nil, err
	}
	return &tensorVal{t: t}, nil
}

// quantizerParams reads (qscheme, scale, zero_point) or (qscheme, scales,
// zero_points, axis), checked against the tensor's shape as torch checks them.
func quantizerParams(v any, shape []int) (*Quantization, error) {
	items, ok := iterItems(v)
	if !ok || len(items) == 0 {
		return nil, fmt.Errorf("quantizer parameters are %s, not a tuple", typeName(v))
	}
	scheme, ok := items[0].(*pyClass)
	if !ok || scheme.kind != gConstant {
		return nil, fmt.Errorf("qscheme is %s", typeName(items[0]))
	}
	q := &Quantization{Scheme: scheme.name}
	switch scheme.name {
	case "per_tensor_affine":
		if len(items) != 3 {
			return nil, fmt.Errorf("per_tensor_affine takes (qscheme, scale, zero_point), got %d items", len(items))
		}
		scale, ok := toFloat(items[1])
		if !ok {
			return nil, fmt.Errorf("scale is %s, not a float", typeName(items[1]))
		}
		zp, ok := toInt64(items[2])
		if !ok {
			return nil, fmt.Errorf("zero_point is %s, not an int", typeName(items[2]))
		}
		q.Scale, q.ZeroPoint = scale, zp
		return q, nil
	case "per_channel_affine", "per_channel_affine_float_qparams":
		if len(items) != 4 {
			return nil, fmt.Errorf("%s takes (qscheme, scales, zero_points, axis), got %d items", scheme.name, len(items))
		}
		axis, ok := toInt64(items[3])
		if !ok || axis < 0 || axis >= int64(len(shape)) {
			return nil, fmt.Errorf("per-channel axis %v out of range for size %v", items[3], shape)
		}
		q.Axis = int(axis)
		float := scheme.name == "per_channel_affine_float_qparams"
		var err error
		scaleType, zpType := F64, I64
		if float {
			scaleType, zpType = F32, F32
		}
		if q.Scales, err = channelParams(items[1], scaleType, "scales"); err != nil {
			return nil, err
		}
		if q.ZeroPoints, err = channelParams(items[2], zpType, "zero_points"); err != nil {
			return nil, err
		}
		n := shape[axis]
		if q.Scales.NumElements() != n || q.ZeroPoints.NumElements() != n || len(q.Scales.Shape) != 1 || len(q.ZeroPoints.Shape) != 1 {
			return nil, fmt.Errorf("per-channel scales %v and zero_points %v must both hold size[axis] = %d values", q.Scales.Shape, q.ZeroPoints.Shape, n)
		}
		if isFloating(q.ZeroPoints.DType) {
			// torch.save writes per_channel_affine for both per-channel schemes; the
			// quantizer torch rebuilds is the float_qparams one when the zero points are
			// floating point (make_per_channel_affine_quantizer).
			q.Scheme = "per_channel_affine_float_qparams"
		}
		return q, nil
	}
	return nil, fmt.Errorf("unsupported qscheme torch.%s", scheme.name)
}

// channelParams returns per-channel parameters: a tensor as the file holds it, or a
// list of numbers (as torch before 1.6 wrote them) as a tensor of dtype dt.
func channelParams(v any, dt DType, what string) (*Tensor, error) {
	if tv, ok := v.(*tensorVal); ok {
		if tv.t.Quantization != nil {
			return nil, fmt.Errorf("per-channel %s are a quantized tensor", what)
		}
		return tv.t, nil
	}
	items, ok := iterItems(v)
	if !ok {
		return nil, fmt.Errorf("per-channel %s are %s, not a tensor or list", what, typeName(v))
	}
	data := make([]byte, 0, len(items)*dt.Size())
	for _, it := range items {
		switch dt {
		case I64:
			n, ok := toInt64(it)
			if !ok {
				return nil, fmt.Errorf("per-channel %s: item is %s, not an int", what, typeName(it))
			}
			data = binary.LittleEndian.AppendUint64(data, uint64(n))
		default:
			f, ok := toFloat(it)
			if !ok {
				return nil, fmt.Errorf("per-channel %s: item is %s, not a float", what, typeName(it))
			}
			if dt == F32 {
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(f)))
			} else {
				data = binary.LittleEndian.AppendUint64(data, math.Float64bits(f))
			}
		}
	}
	return NewTensor(dt, []int{len(items)}, data)
}

// toFloat converts a Python float or int to float64.
func toFloat(v any) (float64, bool) {
	if f, ok := v.(float64); ok {
		return f, true
	}
	if n, ok := toInt64(v); ok {
		return float64(n), true
	}
	return 0, false
}

// quantizationParts returns the leaves of a quantized tensor's parameters.
func quantizationParts(q *Quantization) []Leaf {
	if q.PerChannel() {
		return []Leaf{{Name: "scale", Value: q.Scales}, {Name: "zero_point", Value: q.ZeroPoints}, {Name: "axis", Value: int64(q.Axis)}}
	}
	return []Leaf{{Name: "scale", Value: q.Scale}, {Name: "zero_point", Value: q.ZeroPoint}}
}
