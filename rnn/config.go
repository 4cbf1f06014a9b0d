package rnn

import (
	"errors"
	"fmt"
)

// Mode is the kind of recurrent cell.
type Mode int

// The modes of torch.nn.RNN (nonlinearity "tanh" or "relu"), torch.nn.LSTM and torch.nn.GRU.
const (
	RNNTanh Mode = iota
	RNNReLU
	LSTM
	GRU
)

// String returns the name PyTorch's ATen uses for the mode: "RNN_TANH", "RNN_RELU", "LSTM"
// or "GRU".
func (m Mode) String() string {
	switch m {
	case RNNTanh:
		return "RNN_TANH"
	case RNNReLU:
		return "RNN_RELU"
	case LSTM:
		return "LSTM"
	case GRU:
		return "GRU"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Gates returns the number of gates stacked in the rows of the mode's weights: 1 for the
// plain RNNs, 4 for LSTM (i, f, g, o) and 3 for GRU (r, z, n). It returns 0 for an unknown
// mode.
func (m Mode) Gates() int {
	switch m {
	case RNNTanh, RNNReLU:
		return 1
	case LSTM:
		return 4
	case GRU:
		return 3
	}
	return 0
}

// Config describes a recurrent network as the constructor arguments of torch.nn.RNN,
// torch.nn.LSTM and torch.nn.GRU do. Dropout is not part of it: a Model computes inference
// only, where PyTorch's dropout between layers is the identity.
type Config struct {
	Mode          Mode
	InputSize     int
	HiddenSize    int
	NumLayers     int // >= 1
	Bias          bool
	BatchFirst    bool
	Bidirectional bool
	ProjSize      int // LSTM only; 0 = none, else 0 < ProjSize < HiddenSize
}

// maxDim bounds every size of a Config, so that products of sizes cannot overflow int.
const maxDim = 1 << 24

// Validate reports whether c describes a network PyTorch can build.
func (c Config) Validate() error {
	if c.Mode.Gates() == 0 {
		return fmt.Errorf("rnn: unknown mode %d", int(c.Mode))
	}
	if c.InputSize <= 0 || c.InputSize > maxDim {
		return fmt.Errorf("rnn: input size must be in [1, %d], got %d", maxDim, c.InputSize)
	}
	if c.HiddenSize <= 0 || c.HiddenSize > maxDim {
		return fmt.Errorf("rnn: hidden size must be in [1, %d], got %d", maxDim, c.HiddenSize)
	}
	if c.NumLayers <= 0 || c.NumLayers > 1<<16 {
		return fmt.Errorf("rnn: number of layers must be in [1, %d], got %d", 1<<16, c.NumLayers)
	}
	if c.ProjSize != 0 {
		if c.Mode != LSTM {
			return errors.New("rnn: proj_size argument is only supported for LSTM, not RNN or GRU")
		}
		if c.ProjSize < 0 {
			return fmt.Errorf("rnn: proj_size should be a positive integer or zero to disable projections, got %d", c.ProjSize)
		}
		if c.ProjSize >= c.HiddenSize {
			return fmt.Errorf("rnn: proj_size has to be smaller than hidden_size, got proj_size %d and hidden_size %d", c.ProjSize, c.HiddenSize)
		}
	}
	return nil
}

// directions returns 2 for a bidirectional network, else 1.
func (c Config) directions() int {
	if c.Bidirectional {
		return 2
	}
	return 1
}

// outSize returns the size of a direction's output (and of h): ProjSize when set, else
// HiddenSize.
func (c Config) outSize() int {
	if c.ProjSize > 0 {
		return c.ProjSize
	}
	return c.HiddenSize
}

// layerInput returns the input width of layer k.
func (c Config) layerInput(k int) int {
	if k == 0 {
		return c.InputSize
	}
	return c.directions() * c.outSize()
}

// Param is the name and shape of one parameter as torch.nn.RNN/LSTM/GRU's state_dict holds it.
type Param struct {
	Name  string
	Shape []int
}

// Params returns the parameters of c with PyTorch's names and shapes, in the order of
// PyTorch's _flat_weights_names: for each layer k, for each direction (suffix "_reverse"
// for the second), weight_ih_l{k}, weight_hh_l{k}, then bias_ih_l{k} and bias_hh_l{k}
// when c.Bias, then weight_hr_l{k} when c.ProjSize > 0. With G gates (Mode.Gates), H the
// hidden size and P the output size (ProjSize, or H when zero): weight_ih is (G*H, in),
// where in is InputSize for layer 0 and D*P above it; weight_hh is (G*H, P); the biases
// are (G*H); weight_hr is (P, H). c is assumed valid.
func (c Config) Params() []Param {
	g, h, p := c.Mode.Gates(), c.HiddenSize, c.outSize()
	var ps []Param
	for k := 0; k < c.NumLayers; k++ {
		for d := 0; d < c.directions(); d++ {
			sfx := fmt.Sprintf("_l%d", k)
			if d == 1 {
				sfx += "_reverse"
			}
			ps = append(ps,
				Param{"weight_ih" + sfx, []int{g * h, c.layerInput(k)}},
				Param{"weight_hh" + sfx, []int{g * h, p}})
			if c.Bias {
				ps = append(ps,
					Param{"bias_ih" + sfx, []int{g * h}},
					Param{"bias_hh" + sfx, []int{g * h}})
			}
			if c.ProjSize > 0 {
				ps = append(ps, Param{"weight_hr" + sfx, []int{p, h}})
			}
		}
	}
	return ps
}
