package convert

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
}

// Info describes the model.
func (m *Model) Info() ModelInfo {
	c := m.Config
	return ModelInfo{Prefix: m.Prefix, Module: describe(c), Mode: c.Mode.String(),
		InputSize: c.InputSize, HiddenSize: c.HiddenSize, ProjSize: c.ProjSize,
		NumLayers: c.NumLayers, Bidirectional: c.Bidirectional, Bias: c.Bias,
		BatchFirst: c.BatchFirst, DType: string(m.DType)}
}
