package convert

import (
	"encoding/json"

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
	Models  []string     `json:"models,omitempty"`
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
}

// ValueInfo is a non-tensor leaf of a checkpoint.
type ValueInfo struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// Inspect lists what cp holds, without reading any tensor data.
func Inspect(cp *Checkpoint) *Inventory {
	inv := &Inventory{File: cp.Path, Format: cp.Format, Globals: cp.Globals, Tensors: []TensorInfo{}, Values: []ValueInfo{}}
	if inv.Globals == nil {
		inv.Globals = []string{}
	}
	byStorage := map[*pickle.Storage][]int{}
	for _, l := range cp.Leaves {
		t, ok := l.Value.(*pickle.Tensor)
		if !ok {
			inv.Values = append(inv.Values, ValueInfo{Name: l.Name, Value: jsonvalue.Append(nil, l.Value)})
			continue
		}
		ti := TensorInfo{Name: l.Name, DType: string(t.DType), Shape: t.Shape, Bytes: t.NumBytes(),
			Offset: t.Offset, Strides: t.Strides, Contiguous: t.IsContiguous()}
		if t.Storage != nil {
			ti.Storage, ti.Device = t.Storage.Key(), t.Storage.Device
			byStorage[t.Storage] = append(byStorage[t.Storage], len(inv.Tensors))
		}
		inv.Bytes += ti.Bytes
		inv.Tensors = append(inv.Tensors, ti)
	}
	for _, idx := range byStorage {
		if len(idx) > 1 {
			for _, i := range idx {
				inv.Tensors[i].SharedBy = len(idx)
			}
		}
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
	inv.Shared = export.SharedGroups(cp.Leaves)
	if len(inv.Shared) == 0 && len(cp.Shared) > 0 {
		inv.Shared, inv.SharedCopies = cp.Shared, true
	}
	inv.Shards = cp.Shards
	for _, c := range candidates(cp) {
		arch := "(unrecognized shapes)"
		if cfg, err := infer(c, Options{}); err == nil {
			arch = c.describe(cfg)
			if c.module == nil && cfg.Mode == rnn.RNNTanh {
				arch += " (tanh unless --nonlinearity relu)"
			}
		}
		inv.Models = append(inv.Models, quote(c.prefix)+" "+arch)
	}
	return inv
}

func quote(s string) string { return string(jsonvalue.AppendString(nil, s)) }

// Prefixes returns the name prefixes of the recurrent modules in cp, as Options.Prefix
// takes them.
func Prefixes(cp *Checkpoint) []string {
	var out []string
	for _, c := range candidates(cp) {
		out = append(out, c.prefix)
	}
	return out
}
