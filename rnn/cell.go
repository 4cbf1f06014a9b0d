package rnn

import (
	"fmt"
	"strings"
)

// CellConfig describes a recurrent cell as the constructor arguments of torch.nn.RNNCell
// (Mode RNNTanh or RNNReLU, for its nonlinearity), torch.nn.LSTMCell and torch.nn.GRUCell
// do.
type CellConfig struct {
	Mode       Mode
	InputSize  int
	HiddenSize int
	Bias       bool
}

// Validate reports whether c describes a cell PyTorch can build.
func (c CellConfig) Validate() error {
	return c.model().Validate()
}

// model returns the one-layer network that computes what the cell computes.
func (c CellConfig) model() Config {
	return Config{Mode: c.Mode, InputSize: c.InputSize, HiddenSize: c.HiddenSize, NumLayers: 1, Bias: c.Bias}
}

// name returns the name of the PyTorch module: RNNCell, LSTMCell or GRUCell.
func (c CellConfig) name() string {
	switch c.Mode {
	case LSTM:
		return "LSTMCell"
	case GRU:
		return "GRUCell"
	}
	return "RNNCell"
}

// Params returns the parameters of c with PyTorch's names and shapes, in state_dict
// order: weight_ih (G*H, InputSize), weight_hh (G*H, H), then, when c.Bias, bias_ih and
// bias_hh (G*H), with G gates (Mode.Gates) and H the hidden size. These are the
// parameters of a one-layer module without the "_l0" suffix. c is assumed valid.
func (c CellConfig) Params() []Param {
	ps := c.model().Params()
	for i := range ps {
		ps[i].Name = strings.TrimSuffix(ps[i].Name, "_l0")
	}
	return ps
}

// Cell is a recurrent cell ready to run: torch.nn.RNNCell, LSTMCell or GRUCell. It
// computes what a one-layer network of the same mode computes for one time step (ATen's
// rnn_tanh_cell, rnn_relu_cell, lstm_cell and gru_cell are the functions its layers run
// at each step), with the same kernels. A Cell is immutable and safe for concurrent use.
type Cell[T Float] struct {
	cfg CellConfig
	m   *Model[T]
}

// NewCell checks c and params and returns a Cell holding its own copy of the weights.
// params maps PyTorch's parameter names (CellConfig.Params) to their values, row-major in
// PyTorch's shapes, as state_dict() holds them. Every missing, unexpected or mis-sized
// parameter is an error.
func NewCell[T Float](c CellConfig, params map[string][]T) (*Cell[T], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkParams(c.Params(), params); err != nil {
		return nil, fmt.Errorf("rnn: parameters of %s: %w", c.name(), err)
	}
	return newCell(c, params, opsFor[T]()), nil
}

// newCell builds a cell from checked parameters for the kernel set o.
func newCell[T Float](c CellConfig, params map[string][]T, o *ops[T]) *Cell[T] {
	layer := make(map[string][]T, len(params))
	for k, v := range params {
		layer[k+"_l0"] = v
	}
	return &Cell[T]{cfg: c, m: build(c.model(), layer, o)}
}

// Config returns the configuration the Cell was built with.
func (c *Cell[T]) Config() CellConfig { return c.cfg }

// Forward computes one step as the module's forward does: x is (N, InputSize), or
// (InputSize) unbatched; h and, for LSTMCell, cx are (N, HiddenSize), or (HiddenSize)
// unbatched, and nil means zeros (an LSTMCell takes both or neither, as its hx tuple).
// It returns h' and, for LSTMCell, c' (nil otherwise), in new tensors shaped as h.
// Forward does not modify its arguments.
func (c *Cell[T]) Forward(x, h, cx *Tensor[T]) (hy, cy *Tensor[T], err error) {
	if !c.made() {
		return nil, nil, fmt.Errorf("rnn: Forward on a Cell not made by NewCell")
	}
	N, batched, err := c.checkInput(x)
	if err != nil {
		return nil, nil, err
	}
	if c.cfg.Mode == LSTM && (h == nil) != (cx == nil) {
		return nil, nil, fmt.Errorf("rnn: LSTMCell: h and c must be given together")
	}
	if c.cfg.Mode != LSTM && cx != nil {
		return nil, nil, fmt.Errorf("rnn: %s: c is given but %s has no cell state", c.cfg.name(), c.cfg.name())
	}
	for i, s := range []*Tensor[T]{h, cx} {
		if err := c.checkHidden(s, i, N, batched); err != nil {
			return nil, nil, err
		}
	}
	H := c.cfg.HiddenSize
	shape := []int{H}
	if batched {
		shape = []int{N, H}
	}
	hy = newTensor[T](shape...)
	if c.cfg.Mode == LSTM {
		cy = newTensor[T](shape...)
	}
	if N == 0 {
		return hy, cy, nil
	}
	j := job[T]{L: 1, N: N, x: x.Data, out: hy.Data, hn: hy.Data}
	if h != nil {
		j.h0 = h.Data
	}
	if cx != nil {
		j.c0 = cx.Data
	}
	if cy != nil {
		j.cn = cy.Data
	}
	c.m.run(&j)
	return hy, cy, nil
}

// checkInput checks a cell's input with PyTorch's messages and returns its batch size and
// whether it is batched.
func (c *Cell[T]) checkInput(x *Tensor[T]) (N int, batched bool, err error) {
	if err := x.check("input"); err != nil {
		return 0, false, err
	}
	nd := len(x.Shape)
	if nd != 1 && nd != 2 {
		return 0, false, fmt.Errorf("rnn: %s: Expected input to be 1-D or 2-D but received %d-D tensor", c.cfg.name(), nd)
	}
	if in := x.Shape[nd-1]; in != c.cfg.InputSize {
		return 0, false, fmt.Errorf("rnn: %s: input has inconsistent input_size: got %d expected %d", c.cfg.name(), in, c.cfg.InputSize)
	}
	if nd == 2 {
		return x.Shape[0], true, nil
	}
	return 1, false, nil
}

// checkHidden checks state i (0 for h, 1 for c) of a cell against an input of N rows, with
// PyTorch's messages (which name them hidden0 and hidden1).
func (c *Cell[T]) checkHidden(s *Tensor[T], i, N int, batched bool) error {
	if s == nil {
		return nil
	}
	arg := [2]string{"h", "c"}[i]
	if err := s.check(arg); err != nil {
		return err
	}
	shape := s.Shape
	want := 1
	if batched {
		want = 2
	}
	if len(shape) != want {
		return fmt.Errorf("rnn: %s: for %d-D input, %s should be %d-D but got %d-D tensor", c.cfg.name(), want, arg, want, len(shape))
	}
	if batched && shape[0] != N {
		return fmt.Errorf("rnn: %s: Input batch size %d doesn't match hidden%d batch size %d", c.cfg.name(), N, i, shape[0])
	}
	if hs := shape[len(shape)-1]; hs != c.cfg.HiddenSize {
		return fmt.Errorf("rnn: %s: hidden%d has inconsistent hidden_size: got %d, expected %d", c.cfg.name(), i, hs, c.cfg.HiddenSize)
	}
	return nil
}
