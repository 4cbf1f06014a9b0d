package convert

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/internal/export"
	"github.com/ptport/ptport/convert/internal/jsonvalue"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// Inventory is what a checkpoint holds, as "ptport inspect" shows it.
type Inventory struct {
	File    string       `json:"file"`
	Format  string       `json:"format"`
	Tensors []TensorInfo `json:"tensors"`
	Values  []ValueInfo  `json:"values"`
	Globals []string     `json:"globals"`
	Bytes   int64        `json:"bytes"` // of all tensors' elements
	// Models lists the recurrent modules and cells found, each as its prefix, quoted as
	// Go quotes a string (strconv.Quote), and its architecture.
	Models []string `json:"models,omitempty"`
	// UnstoredNonlinearity lists the prefixes of the plain RNNs among Models whose
	// nonlinearity the file does not store (those of a state_dict): they load as tanh,
	// unless Options.Nonlinearity says relu.
	UnstoredNonlinearity []string `json:"unstored_nonlinearity,omitempty"`
	// WeightsOnly says what torch.load(weights_only=True) of torch 2.6 and
	// later would do with a file torch.save wrote (nil for other formats).
	WeightsOnly *WeightsOnlyInfo `json:"weights_only,omitempty"`
	// Shared lists the groups of tensors that share a storage, such as tied weights: in
	// a file torch wrote, by their storages; in a file ptport wrote in a format that
	// holds copies (safetensors, npz, JSON), as its metadata records its source's.
	Shared [][]string `json:"shared,omitempty"`
	// SharedCopies reports that the groups of Shared are copies in this file.
	SharedCopies bool `json:"shared_copies,omitempty"`
	// Shards counts the files of a sharded checkpoint.
	Shards int `json:"shards,omitempty"`
	// ShardOf, for a file that is one shard of a sharded checkpoint, says so (see
	// ShardError); its tensors are part of a model.
	ShardOf string `json:"shard_of,omitempty"`
	// TorchScript describes a TorchScript archive (nil for other files).
	TorchScript *TorchScriptInfo `json:"torchscript,omitempty"`
	// Whole lists the whole models that Load finds (see Model.Layers): around each
	// recurrent module with modules beside it, and a pickled Sequential without one.
	Whole []WholeInfo `json:"whole,omitempty"`
	// AsData lists the classes and functions ("module.name") that
	// torch.load(weights_only=True) refuses and that the file holds as data: the
	// classes of instances that are not modules (whose leaves NAME.__class__ name
	// them), those whose calls it records (NAME.__call__), and references to them as
	// values. A .pt output holds them as plain data (see pickle.Write).
	AsData []string `json:"as_data,omitempty"`
}

// WholeInfo is a whole model that Load finds, from what the file holds alone (its
// shapes and pickled modules; no tensor data is read).
type WholeInfo struct {
	// Prefix is the recurrent module's (Model.Prefix), or the pickled Sequential's
	// when it holds none.
	Prefix string `json:"prefix"`
	// Layers are the model's modules in order, as Model.Layers gives them; nil when
	// the model around the recurrent module is not known.
	Layers []Layer `json:"layers,omitempty"`
	// Unknown says why the model around the recurrent module is not known (modules
	// beside it that fit no place, or several that fit one).
	Unknown string `json:"unknown,omitempty"`
	// Sequential marks a pickled Sequential without a recurrent module, which runs
	// whole (Model.Whole) unasked.
	Sequential bool `json:"sequential,omitempty"`
}

// TorchScriptInfo describes a TorchScript archive (torch.jit.save): its modules'
// tensors are read as data; its code is not read, so what only the code holds (a
// recurrent module's batch_first, an RNN's nonlinearity) comes from flags.
type TorchScriptInfo struct {
	// Class is the TorchScript class of the archive's root module, such as
	// "__torch__.torch.nn.modules.rnn.LSTM".
	Class string `json:"class"`
	// Constants counts the tensors of constants.pkl, which the code uses and which are
	// not among the module's tensors.
	Constants int `json:"constants"`
}

// WeightsOnlyInfo is what torch.load(weights_only=True) (torch 2.6 and later)
// would do with a checkpoint.
type WeightsOnlyInfo struct {
	Loads bool `json:"loads"`
	// Refuses lists the globals it refuses, "module.name" as the file spells
	// them: numpy values, instances of user classes, whole modules.
	Refuses []string `json:"refuses"`
	// Refusal is the first of its rules the file breaks: a global it
	// refuses, an opcode it does not run, ...; empty when it loads.
	Refusal string `json:"refusal,omitempty"`
}

// TensorInfo describes one tensor of a checkpoint.
type TensorInfo struct {
	Name       string `json:"name"`
	DType      string `json:"dtype"`
	Shape      []int  `json:"shape"`
	Bytes      int64  `json:"bytes"`
	Storage    string `json:"storage"`        // the storage's record key
	Offset     int    `json:"storage_offset"` // in elements
	Strides    []int  `json:"strides"`
	Contiguous bool   `json:"contiguous"`
	Device     string `json:"device"`
	// SharedBy counts the tensors that view the same storage, this one included, when
	// there are several.
	SharedBy int `json:"shared_by,omitempty"`

	// Quantization describes a quantized tensor, whose stored integers (of DType) are
	// this tensor; its parameters are the leaves NAME.scale and NAME.zero_point.
	Quantization *QuantizationInfo `json:"quantization,omitempty"`
	// Conj and Neg are torch's lazy conjugate and negative bits, which every reading
	// and export applies.
	Conj bool `json:"conj,omitempty"`
	Neg  bool `json:"neg,omitempty"`
	// NoData marks a tensor of torch's meta device: a dtype and a shape, no data (Bytes
	// is 0).
	NoData bool `json:"no_data,omitempty"`
	// PartOf names the tensor stored as several leaves that this one is a part of.
	PartOf *PartInfo `json:"part_of,omitempty"`
}

// QuantizationInfo describes a quantized tensor: a stored integer q stands for
// (q - zero point) × scale.
type QuantizationInfo struct {
	DType  string `json:"dtype"`  // the torch dtype: qint8, quint8 or qint32
	Scheme string `json:"scheme"` // per_tensor_affine, per_channel_affine or per_channel_affine_float_qparams
	// Scale and ZeroPoint are those of a per-tensor scheme (JSON numbers; NaN and
	// infinities as strings).
	Scale     json.RawMessage `json:"scale,omitempty"`
	ZeroPoint json.RawMessage `json:"zero_point,omitempty"`
	// For a per-channel scheme: the dimension the parameters run along, their number,
	// and the range of each (absent when the parameters could not be read, or number
	// more than 2^20).
	Axis       *int            `json:"axis,omitempty"`
	Channels   int             `json:"channels,omitempty"`
	ScaleRange json.RawMessage `json:"scale_range,omitempty"`      // [min, max]
	ZeroRange  json.RawMessage `json:"zero_point_range,omitempty"` // [min, max]
}

// PartInfo names the tensor stored as several leaves that a leaf is a part of.
type PartInfo struct {
	Name string `json:"name"` // that tensor's name
	// Kind is "quantized", "nested" or the sparse layout: "sparse_coo", "sparse_csr",
	// "sparse_csc", "sparse_bsr" or "sparse_bsc".
	Kind string `json:"kind"`
	Part string `json:"part"` // "indices", "values", "scale", ...
}

// ValueInfo is a non-tensor leaf of a checkpoint.
type ValueInfo struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
	// PartOf names the tensor stored as several leaves that this value is a part of
	// (a sparse tensor's layout and size, a quantized tensor's scale).
	PartOf *PartInfo `json:"part_of,omitempty"`
}

// Inspect lists what cp holds, without reading any tensor data but the per-channel
// parameters of quantized tensors (at most 2^20 of each). It takes time as cp's leaves:
// a second or so for a million.
func Inspect(cp *Checkpoint) *Inventory {
	inv, _ := InspectContext(context.Background(), cp) // never stops
	return inv
}

// InspectContext is Inspect, stopping once ctx is done: it looks at ctx every few
// thousand leaves, modules and tensors weighed, and then returns an error that wraps
// ctx.Err(), naming cp's file, and no Inventory.
func InspectContext(ctx context.Context, cp *Checkpoint) (*Inventory, error) {
	if cp == nil {
		return nil, errors.New("convert: Inspect of a nil Checkpoint")
	}
	return ctxio.Read(ctx, cp.Path, func() (*Inventory, error) { return inspect(cp, &ctxio.Poller{Ctx: ctx}) })
}

func inspect(cp *Checkpoint, poll *ctxio.Poller) (*Inventory, error) {
	inv := &Inventory{File: cp.Path, Format: cp.Format, Globals: cp.Globals}
	if inv.Globals == nil {
		inv.Globals = []string{}
	}
	tensors := 0
	for _, l := range cp.Leaves {
		if _, ok := l.Value.(*pickle.Tensor); ok {
			tensors++
		}
	}
	// Made at their size, where growing them as the leaves came would take twice the
	// room: a file can hold a value in each of its bytes.
	inv.Tensors = make([]TensorInfo, 0, tensors)
	inv.Values = make([]ValueInfo, 0, len(cp.Leaves)-tensors)
	var values jsonArena
	viewers := map[*pickle.Storage]int{} // the tensors of each storage
	shared := false
	parts := partNamer{names: map[any]string{}}
	for _, l := range cp.Leaves {
		if err := poll.Step(); err != nil {
			return nil, err
		}
		t, ok := l.Value.(*pickle.Tensor)
		if !ok {
			inv.Values = append(inv.Values, ValueInfo{Name: l.Name, Value: values.append(l.Value), PartOf: parts.of(l)})
			continue
		}
		ti := TensorInfo{Name: l.Name, DType: string(t.DType), Shape: t.Shape, Bytes: t.NumBytes(),
			Offset: t.Offset, Strides: t.Strides, Contiguous: t.IsContiguous()}
		if t.Storage != nil {
			ti.Storage, ti.Device = t.Storage.Key(), t.Storage.Device
			viewers[t.Storage]++
			shared = shared || viewers[t.Storage] > 1
		}
		describeTensor(&ti, t)
		if t.Quantization != nil {
			parts.names[t] = l.Name
		}
		ti.PartOf = parts.of(l)
		inv.Bytes += ti.Bytes
		inv.Tensors = append(inv.Tensors, ti)
	}
	if shared {
		i := 0
		for _, l := range cp.Leaves {
			if err := poll.Step(); err != nil {
				return nil, err
			}
			if t, ok := l.Value.(*pickle.Tensor); ok {
				if n := viewers[t.Storage]; n > 1 && t.Storage != nil {
					inv.Tensors[i].SharedBy = n
				}
				i++
			}
		}
		inv.Shared = export.SharedGroups(cp.Leaves)
	}
	if cp.GlobalInfo != nil || cp.Format == "zip" || cp.Format == "legacy" || cp.Format == "tar" {
		wo := &WeightsOnlyInfo{Loads: cp.WeightsOnlyRefusal == nil, Refuses: []string{}}
		for _, g := range cp.GlobalInfo {
			if !g.WeightsOnly {
				wo.Refuses = append(wo.Refuses, g.Name)
			}
		}
		if cp.WeightsOnlyRefusal != nil {
			wo.Refusal = cp.WeightsOnlyRefusal.Error()
		}
		inv.WeightsOnly = wo
	}
	if len(inv.Shared) == 0 && len(cp.Shared) > 0 {
		inv.Shared, inv.SharedCopies = cp.Shared, true
	}
	inv.Shards = cp.Shards
	inv.TorchScript = torchScriptInfo(cp)
	var err error
	if inv.AsData, err = asData(cp, poll); err != nil {
		return nil, err
	}
	t, cands, err := survey(cp, poll)
	if err != nil {
		return nil, err
	}
	if s, ok := sequentialModel(t, cands, Options{}); ok {
		if layers, err := t.sequentialLayers(s, nil, Options{}); err == nil {
			inv.Whole = append(inv.Whole, WholeInfo{Prefix: s, Layers: layerInfos(layers), Sequential: len(cands) == 0})
		}
	}
	for _, c := range cands {
		if err := poll.Step(); err != nil {
			return nil, err
		}
		arch := "(unrecognized shapes)"
		if cfg, err := infer(c, Options{}); err == nil {
			switch layers, err := t.around(coreLayer(c, cfg), Options{}); {
			case err != nil:
				inv.Whole = append(inv.Whole, WholeInfo{Prefix: c.prefix, Unknown: err.Error()})
			case len(layers) > 1:
				inv.Whole = append(inv.Whole, WholeInfo{Prefix: c.prefix, Layers: layerInfos(layers)})
			}
			arch = c.describe(cfg)
			if c.module == nil && cfg.Mode == rnn.RNNTanh {
				arch += " (tanh unless told relu: a state_dict does not store the nonlinearity)"
				inv.UnstoredNonlinearity = append(inv.UnstoredNonlinearity, c.prefix)
			}
		}
		inv.Models = append(inv.Models, strconv.Quote(c.prefix)+" "+arch)
	}
	return inv, nil
}

// A jsonArena holds the JSON of many small values in a few large buffers, where each
// value's own buffer would take at least 8 bytes (Go's least size class), 24 with its
// capacity rounded up, for the 1 to 4 bytes of a small int, None or a bool.
type jsonArena struct{ buf []byte }

// jsonChunk is the size of an arena's buffers; a value larger than a quarter of it has
// a buffer of its own.
const jsonChunk = 64 << 10

// append returns the JSON of v (see jsonvalue.Append), in the arena's buffer. The
// result's capacity is its length: appending to it copies it.
func (a *jsonArena) append(v any) json.RawMessage {
	start := len(a.buf)
	b := jsonvalue.Append(a.buf, v)
	if cap(b) == cap(a.buf) && a.buf != nil {
		a.buf = b
		return b[start:len(b):len(b)]
	}
	// It did not fit in what is left of the buffer.
	raw := b[start:]
	if len(raw) > jsonChunk/4 {
		return append(json.RawMessage(nil), raw...)
	}
	a.buf = append(make([]byte, 0, jsonChunk), raw...)
	return a.buf[:len(raw):len(raw)]
}

func quote(s string) string { return string(jsonvalue.AppendString(nil, s)) }

// Prefixes returns the name prefixes of the recurrent modules in cp, as Options.Prefix
// takes them.
func Prefixes(cp *Checkpoint) []string {
	var out []string
	_, cands, _ := survey(cp, &ctxio.Poller{})
	for _, c := range cands {
		out = append(out, c.prefix)
	}
	return out
}

// describeTensor notes what a plain strided tensor would not show: quantization,
// lazy bits, no data.
func describeTensor(ti *TensorInfo, t *pickle.Tensor) {
	ti.Conj, ti.Neg = t.Conj, t.Neg
	if _, err := t.Storage.ReadAt(nil, 0); errors.Is(err, pickle.ErrNoData) {
		ti.NoData, ti.Bytes = true, 0
	}
	q := t.Quantization
	if q == nil {
		return
	}
	qi := &QuantizationInfo{DType: q.DType, Scheme: q.Scheme}
	if !q.PerChannel() {
		qi.Scale = jsonvalue.Append(nil, q.Scale)
		qi.ZeroPoint = jsonvalue.Append(nil, q.ZeroPoint)
	} else {
		axis := q.Axis
		qi.Axis, qi.Channels = &axis, q.Scales.NumElements()
		qi.ScaleRange = valueRange(q.Scales)
		qi.ZeroRange = valueRange(q.ZeroPoints)
	}
	ti.Quantization = qi
}

// maxRangeValues bounds the per-channel parameters Inspect reads.
const maxRangeValues = 1 << 20

// valueRange returns [min, max] of a small tensor's values, or nil when it cannot be
// read or holds more than maxRangeValues.
func valueRange(t *pickle.Tensor) json.RawMessage {
	if t == nil || t.NumElements() == 0 || t.NumElements() > maxRangeValues {
		return nil
	}
	v, err := t.Float64s()
	if err != nil {
		return nil
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	switch t.DType {
	case pickle.I64, pickle.I32:
		return jsonvalue.Append(nil, pickle.List{int64(lo), int64(hi)})
	case pickle.F32:
		return jsonvalue.Append(nil, pickle.List{float32(lo), float32(hi)})
	}
	return jsonvalue.Append(nil, pickle.List{lo, hi})
}

// partNamer names the tensors stored as several leaves, as their leaves meet them.
type partNamer struct{ names map[any]string }

// of returns what l is a part of, or nil.
func (p *partNamer) of(l pickle.Leaf) *PartInfo {
	of := l.Of()
	if of == nil {
		return nil
	}
	name, ok := p.names[of]
	if !ok {
		// The first leaf met of a sparse or nested tensor is a part itself: NAME.PART.
		name = strings.TrimSuffix(l.Name, "."+l.Part())
		p.names[of] = name
	}
	kind := "quantized"
	switch x := of.(type) {
	case *pickle.SparseTensor:
		kind = x.Layout
	case *pickle.NestedTensor:
		kind = "nested"
	}
	return &PartInfo{Name: name, Kind: kind, Part: l.Part()}
}

// torchScriptInfo describes a TorchScript archive, or returns nil.
func torchScriptInfo(cp *Checkpoint) *TorchScriptInfo {
	if cp.Format != string(pickle.FormatTorchScript) {
		return nil
	}
	ts := &TorchScriptInfo{}
	if o, ok := cp.Root.(*pickle.Object); ok {
		ts.Class = o.Module + "." + o.Name
	}
	if c, ok := cp.Constants.(pickle.Tuple); ok {
		for _, v := range c {
			if _, ok := v.(*pickle.Tensor); ok {
				ts.Constants++
			}
		}
	}
	return ts
}

// asData lists the globals that torch.load(weights_only=True) refuses and that cp's
// leaves hold as data: classes of inert objects, and references. It stops with poll's
// error.
func asData(cp *Checkpoint, poll *ctxio.Poller) ([]string, error) {
	refused := map[string]bool{}
	for _, g := range cp.GlobalInfo {
		if !g.WeightsOnly {
			refused[g.Name] = true
		}
	}
	if len(refused) == 0 {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, l := range cp.Leaves {
		if err := poll.Step(); err != nil {
			return nil, err
		}
		var name string
		switch v := l.Value.(type) {
		case string:
			if k := l.Name[strings.LastIndexByte(l.Name, '.')+1:]; k == pickle.ClassKey || k == pickle.CallKey {
				name = v
			}
		case pickle.Global:
			name = v.String()
		}
		if refused[name] && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// layerInfos are the layers as Model.Layers gives them.
func layerInfos(layers []*layer) []Layer {
	out := make([]Layer, len(layers))
	for i, l := range layers {
		out[i] = Layer{Prefix: l.prefix, Module: l.String()}
	}
	return out
}
