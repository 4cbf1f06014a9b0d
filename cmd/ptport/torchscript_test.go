package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const torch2 = "../../testdata/pickle/torch2/"

// TestTorchScript: check passes on scripted and traced RNN, LSTM and GRU modules
// (torch.jit.save) against PyTorch's outputs, with the config from the weights and the
// flags for what only the TorchScript code holds (batch_first, nonlinearity); inspect
// lists their state_dict names; convert writes them; a quantized TorchScript archive is
// refused with exit 2.
func TestTorchScript(t *testing.T) {
	cases := []struct {
		name  string
		flags []string
		mode  string
	}{
		{"script_lstm", []string{"--batch-first"}, "LSTM"},
		{"script_rnn_relu", []string{"--nonlinearity", "relu"}, "RNN_RELU"},
		{"script_gru", nil, "GRU"},
		{"trace_lstm", nil, "LSTM"},
		{"trace_gru", []string{"--batch-first"}, "GRU"},
		{"trace_rnn", nil, "RNN_TANH"},
		{"script_wrapped_lstm", []string{"--batch-first"}, "LSTM"},
	}
	for _, tc := range cases {
		args := append([]string{"check", torch2 + tc.name + ".pt", torch2 + tc.name + ".ref.pt", "--json"}, tc.flags...)
		code, out, errs := runCLI(t, args...)
		var r struct {
			Pass  bool `json:"pass"`
			Model struct {
				Mode string `json:"mode"`
			} `json:"model"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || !r.Pass || r.Model.Mode != tc.mode {
			t.Errorf("%s: exit %d, %s %s", tc.name, code, out, errs)
		}
	}
	// Without the nonlinearity the code holds, the relu RNN does not match.
	if code, _, _ := runCLI(t, "check", torch2+"script_rnn_relu.pt", torch2+"script_rnn_relu.ref.pt"); code != 1 {
		t.Errorf("script_rnn_relu as tanh: exit %d, want 1", code)
	}
	code, out, errs := runCLI(t, "inspect", torch2+"script_lstm.pt", "--json")
	if code != 0 || !strings.Contains(out, `"format": "torchscript"`) || !strings.Contains(out, `"weight_hh_l1_reverse"`) || strings.Contains(out, "_flat_weights") {
		t.Errorf("inspect: exit %d: %s %s", code, out, errs)
	}
	dst := filepath.Join(t.TempDir(), "lstm.safetensors")
	if code, _, errs := runCLI(t, "convert", torch2+"script_lstm.pt", "-o", dst); code != 0 {
		t.Errorf("convert: exit %d: %s", code, errs)
	} else if fi, err := os.Stat(dst); err != nil || fi.Size() < 4320 {
		t.Errorf("convert wrote %v (%v)", fi, err)
	}
	code, _, errs = runCLI(t, "inspect", torch2+"script_quantized.pt")
	if code != 2 || !strings.Contains(errs, "TorchScript code") {
		t.Errorf("quantized TorchScript: exit %d: %s", code, errs)
	}
}
