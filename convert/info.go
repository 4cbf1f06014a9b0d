package convert

import "strings"

// ModelInfo describes a loaded model, as the reports of ptport show it.
type ModelInfo struct {
	Prefix        string `json:"prefix"`
	Module        string `json:"module"` // e.g. "LSTM(8, 16, num_layers=2)"
	Mode          string `json:"mode"`
	InputSize     int    `json:"input_size"`
	HiddenSize    int    `json:"hidden_size"`
	ProjSize      int    `json:"proj_size"`
	NumLayers     int    `json:"num_layers"`
	Bidirectional bool   `json:"bidirectional"`
	Bias          bool   `json:"bias"`
	BatchFirst    bool   `json:"batch_first"`
	DType         string `json:"dtype"`
	Cell          bool   `json:"cell,omitempty"`
	// Layers are the whole model's modules (Model.Layers); Whole reports that Forward
	// runs them all.
	Layers []Layer `json:"layers,omitempty"`
	Whole  bool    `json:"whole,omitempty"`
}

// Info describes the model. Module is the recurrent module's, or, for a model without
// one, the Sequential's.
func (m *Model) Info() ModelInfo {
	c := m.Config
	info := ModelInfo{Prefix: m.Prefix, Module: c.String(), Mode: c.Mode.String(),
		InputSize: c.InputSize, HiddenSize: c.HiddenSize, ProjSize: c.ProjSize,
		NumLayers: c.NumLayers, Bidirectional: c.Bidirectional, Bias: c.Bias,
		BatchFirst: c.BatchFirst, DType: string(m.DType), Cell: m.Cell, Layers: m.Layers, Whole: m.Whole}
	switch {
	case m.Cell:
		info.Module = cellConfig(c).String()
	case c.InputSize == 0:
		var mods []string
		for _, l := range m.Layers {
			mods = append(mods, l.Module)
		}
		info.Module, info.Mode = "Sequential("+strings.Join(mods, ", ")+")", ""
	}
	return info
}
