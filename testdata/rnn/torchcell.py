"""PyTorch's recurrent cells, made by mode and stepped as the parity check steps them.

make_cell returns torch.nn.RNNCell (mode "tanh" or "relu"), LSTMCell ("lstm") or GRUCell
("gru"). step_cell runs a cell on a sequence (steps, batch, features), feeding h (and c)
back from step to step, or on one step, (batch, features) or (features). Every value is
PyTorch's, in the cell's dtype: testdata/parity's float64 truth of a float32 cell is the
same cell converted to float64, stepped on its inputs converted exactly.

The cells compute, for an input x and a state h (and c), with weight_ih and bias_ih
applied to x and weight_hh and bias_hh to h, their rows in blocks of hidden_size in the
order of the gates named, and the biases 0 when the cell has none:

    RNNCell   h' = act(W_ih x + b_ih + W_hh h + b_hh), act tanh or relu
    LSTMCell  gates i f g o:
              i = σ(W_ii x + b_ii + W_hi h + b_hi)   f = σ(W_if x + b_if + W_hf h + b_hf)
              g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = σ(W_io x + b_io + W_ho h + b_ho)
              c' = f c + i g   h' = o tanh(c')
    GRUCell   gates r z n:
              r = σ(W_ir x + b_ir + W_hr h + b_hr)   z = σ(W_iz x + b_iz + W_hz h + b_hz)
              n = tanh(W_in x + b_in + r (W_hn h + b_hn))
              h' = (1 - z) n + z h

An initial state of None is zeros. testdata/parity/gen.py, testdata/rnn/gen_layers.py and
scripts/rnn_difftest.py import this file by its folder's path.
"""
import collections

import torch


def make_cell(mode, inp, hidden, bias):
    """A new cell of mode ("tanh", "relu", "lstm" or "gru") with inp input features and
    hidden units, with biases or without; its weights are torch's initial ones, drawn from
    torch's global generator."""
    if mode in ("tanh", "relu"):
        return torch.nn.RNNCell(inp, hidden, bias=bias, nonlinearity=mode)
    if mode == "lstm":
        return torch.nn.LSTMCell(inp, hidden, bias=bias)
    if mode == "gru":
        return torch.nn.GRUCell(inp, hidden, bias=bias)
    raise ValueError("no cell of mode %r" % (mode,))


def step_cell(cell, x, h0=None, c0=None):
    """The cell's results on x from h0 (and c0, for an LSTMCell), without gradients: for a
    sequence (x of 3 dimensions, steps first), the output h after every step stacked and
    h_n the last; for one step, the output and h_n both h'. An LSTMCell's results hold
    c_n, its last c, too; it starts from zeros when h0 is None."""
    lstm = isinstance(cell, torch.nn.LSTMCell)
    h, c, hs = h0, c0, []
    with torch.no_grad():
        for xt in (x if x.dim() == 3 else [x]):
            if lstm:
                h, c = cell(xt, None if h is None else (h, c))
            else:
                h = cell(xt, h)
            hs.append(h)
    res = collections.OrderedDict(output=torch.stack(hs) if x.dim() == 3 else h, h_n=h)
    if lstm:
        res["c_n"] = c
    return res
