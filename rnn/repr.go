package rnn

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The String methods spell configurations as PyTorch prints the modules (their repr),
// with the nonlinearity of a relu RNN shown, which PyTorch's repr leaves out.

// String spells c as PyTorch's module repr: LSTM(8, 16, num_layers=2, batch_first=True).
func (c Config) String() string {
	name := map[Mode]string{RNNTanh: "RNN", RNNReLU: "RNN", LSTM: "LSTM", GRU: "GRU"}[c.Mode]
	if name == "" {
		name = c.Mode.String()
	}
	s := fmt.Sprintf("%s(%d, %d", name, c.InputSize, c.HiddenSize)
	if c.NumLayers != 1 {
		s += fmt.Sprintf(", num_layers=%d", c.NumLayers)
	}
	if c.Mode == RNNReLU {
		s += ", nonlinearity='relu'"
	}
	if !c.Bias {
		s += ", bias=False"
	}
	if c.BatchFirst {
		s += ", batch_first=True"
	}
	if c.Bidirectional {
		s += ", bidirectional=True"
	}
	if c.ProjSize > 0 {
		s += fmt.Sprintf(", proj_size=%d", c.ProjSize)
	}
	return s + ")"
}

// String spells c as PyTorch's module repr: RNNCell(3, 4, bias=False, nonlinearity=relu).
func (c CellConfig) String() string {
	s := fmt.Sprintf("%s(%d, %d", c.name(), c.InputSize, c.HiddenSize)
	if !c.Bias {
		s += ", bias=False"
	}
	if c.Mode == RNNReLU {
		s += ", nonlinearity=relu"
	}
	return s + ")"
}

// String spells c as PyTorch's module repr: Embedding(65, 32, padding_idx=0).
func (c EmbeddingConfig) String() string {
	s := fmt.Sprintf("Embedding(%d, %d", c.NumEmbeddings, c.EmbeddingDim)
	if c.PaddingIdx != nil {
		s += fmt.Sprintf(", padding_idx=%d", *c.PaddingIdx)
	}
	if c.MaxNorm > 0 {
		s += ", max_norm=" + pyFloat(c.MaxNorm)
	}
	if c.NormType != 0 && c.NormType != 2 {
		s += ", norm_type=" + pyFloat(c.NormType)
	}
	return s + ")"
}

// String spells c as PyTorch's module repr: Linear(in_features=128, out_features=65,
// bias=True).
func (c LinearConfig) String() string {
	return fmt.Sprintf("Linear(in_features=%d, out_features=%d, bias=%s)", c.InFeatures, c.OutFeatures, pyBool(c.Bias))
}

// String spells c as PyTorch's module repr: LayerNorm((64,), eps=1e-05,
// elementwise_affine=True).
func (c LayerNormConfig) String() string {
	s := fmt.Sprintf("LayerNorm(%s, eps=%s, elementwise_affine=%s", tupleString(c.NormalizedShape), pyFloat(c.Eps), pyBool(c.ElementwiseAffine))
	if c.ElementwiseAffine && !c.Bias {
		s += ", bias=False"
	}
	return s + ")"
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// pyFloat formats x as Python's repr of a float does: 1.0, 0.2, 1e-05.
func pyFloat(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e16 {
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	s := strconv.FormatFloat(x, 'g', -1, 64)
	if i := strings.Index(s, "e"); i >= 0 && !strings.Contains(s[:i], ".") && len(s) > i+2 && s[i+1] == '-' && len(s) == i+3 {
		s = s[:i+2] + "0" + s[i+2:] // Python writes two exponent digits: 1e-05
	}
	return s
}
