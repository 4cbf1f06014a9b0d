#!/usr/bin/python3
"""Writes the parity fixtures of package rnn's cells and layers from real PyTorch.

Run from anywhere with /usr/bin/python3 (torch, numpy):

    /usr/bin/python3 testdata/rnn/gen_layers.py [OUTDIR]

OUTDIR defaults to the folder of this script; the files go to OUTDIR/cells and
OUTDIR/layers, in the safetensors layout gen.py writes (8-byte little-endian header
length, JSON header, raw little-endian data), with the case in __metadata__.

cells/*.safetensors: one torch.nn.RNNCell, LSTMCell or GRUCell.
  __metadata__  cell (JSON: mode, input_size, hidden_size, bias), dtype (F32, F64),
                stepped ("true": input is a sequence (L, N, in) or (L, in) that the
                cell steps through, feeding h (and c) back; "false": input is one step,
                (N, in) or (in))
  weight_ih, weight_hh, bias_ih, bias_hh   the parameters, state_dict names; the cases of
                hidden size 64 and 256 store none but param_seed and param_exp in the
                metadata instead: their parameters are gen.py's synth_params over the
                state_dict in order
  input, h0, c0  the arguments (h0, c0 absent when the cell started from None)
  h, c           what the cell returned: for a stepped case, stacked over the steps
                 ((L, N, H) or (L, H)); c for LSTMCell only

layers/*.safetensors: a sequence of layers run one after the other.
  __metadata__  layers (JSON list: one object per layer with its type, the PyTorch
                class name, and constructor arguments), dtype, width (the longest
                sum of products or reduction of the case, for the error bound)
  {i}.{name}    the parameters of layer i under their state_dict names
  input         float values, or int64 indices (I64) for a first Embedding
  output        what the layers returned

A case whose layers are all plain modules is run by torch.nn.Sequential; a case with a
recurrent module is run as the custom modules of char-level models run it: each
nn.RNN/LSTM/GRU passes on its output (out, h = rnn(x)), each cell its h, from zero
states. Every value is PyTorch's, computed in eval mode under no_grad in the case's
dtype. An Embedding with max_norm renormalizes its weight in place during forward: the
parameters stored are the ones it had before.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import synth_params, write_safetensors  # noqa: E402  synth_params: the large cases' parameters, which the Go test reproduces
from torchcell import make_cell  # noqa: E402

TORCH_DTYPE = {"F32": torch.float32, "F64": torch.float64}
ATEN_MODE = {"tanh": "RNN_TANH", "relu": "RNN_RELU", "lstm": "LSTM", "gru": "GRU"}


def np_of(t):
    return t.detach().cpu().numpy()


# ---- cells --------------------------------------------------------------------------

def cell_case(path, mode, inp, hidden, bias, dtype, stepped, batch, steps, give_h0, seed, synth_exp=None):
    torch.manual_seed(seed)
    cell = make_cell(mode, inp, hidden, bias).to(TORCH_DTYPE[dtype]).eval()
    g = torch.Generator().manual_seed(seed + 1)
    dt = TORCH_DTYPE[dtype]
    meta = dict(cell=json.dumps(dict(mode=ATEN_MODE[mode], input_size=inp, hidden_size=hidden, bias=bias)),
                dtype=dtype, stepped=str(stepped).lower())
    sd = cell.state_dict()
    if synth_exp is not None:
        vals = synth_params([(n, tuple(v.shape)) for n, v in sd.items()], seed, synth_exp)
        with torch.no_grad():
            for n in sd:
                getattr(cell, n).copy_(torch.from_numpy(vals[n]))
        meta["param_seed"] = seed
        meta["param_exp"] = synth_exp
    hshape = (batch, hidden) if batch else (hidden,)
    xshape = (batch, inp) if batch else (inp,)
    if stepped:
        xshape = (steps,) + xshape
    x = torch.randn(*xshape, generator=g).to(dt)
    tensors = {} if synth_exp is not None else {k: np_of(v) for k, v in cell.state_dict().items()}
    tensors["input"] = np_of(x)
    h = c = None
    if give_h0:
        h = (0.5 * torch.randn(*hshape, generator=g)).to(dt)
        tensors["h0"] = np_of(h)
        if mode == "lstm":
            c = (0.5 * torch.randn(*hshape, generator=g)).to(dt)
            tensors["c0"] = np_of(c)
    hs, cs = [], []
    with torch.no_grad():
        for xt in (x if stepped else [x]):
            if mode == "lstm":
                h, c = cell(xt, None if h is None else (h, c))
                cs.append(c)
            else:
                h = cell(xt, h)
            hs.append(h)
    if stepped:
        tensors["h"] = np_of(torch.stack(hs))
        if cs:
            tensors["c"] = np_of(torch.stack(cs))
    else:
        tensors["h"] = np_of(hs[0])
        if cs:
            tensors["c"] = np_of(cs[0])
    write_safetensors(path, tensors, meta)


def cells(outdir):
    n = 0
    for mode in ("tanh", "relu", "lstm", "gru"):
        for dtype in ("F32", "F64"):
            for i, (bias, batch, give_h0) in enumerate([(True, 3, True), (False, 0, False), (True, 0, True), (True, 1, False)]):
                seed = 100 + n
                name = "cell_%02d_%s_%s_%s" % (n, mode, dtype.lower(), "unbatched" if batch == 0 else "b%d" % batch)
                cell_case(os.path.join(outdir, name + "_steps.safetensors"), mode, 5, 9, bias, dtype, True, batch, 8, give_h0, seed)
                cell_case(os.path.join(outdir, name + "_one.safetensors"), mode, 5, 9, bias, dtype, False, batch, 1, give_h0, seed)
                n += 1
    # The float32 bounds at hidden sizes 64 and 256, with parameters made by synth_params.
    for hidden, exp in ((64, 3), (256, 4)):
        for mode in ("tanh", "lstm", "gru"):
            name = "cell_%02d_%s_f32_h%d_steps.safetensors" % (n, mode, hidden)
            cell_case(os.path.join(outdir, name), mode, 32, hidden, True, "F32", True, 3, 40 if hidden == 64 else 16, True, 100 + n, synth_exp=exp)
            n += 1
    return n


# ---- layers -------------------------------------------------------------------------

def describe(m):
    """The layer's type and constructor arguments, as the Go test builds it."""
    t = type(m).__name__
    if isinstance(m, torch.nn.Embedding):
        return dict(type=t, num_embeddings=m.num_embeddings, embedding_dim=m.embedding_dim,
                    padding_idx=m.padding_idx, max_norm=m.max_norm, norm_type=m.norm_type)
    if isinstance(m, torch.nn.Linear):
        return dict(type=t, in_features=m.in_features, out_features=m.out_features, bias=m.bias is not None)
    if isinstance(m, torch.nn.LayerNorm):
        return dict(type=t, normalized_shape=list(m.normalized_shape), eps=m.eps,
                    elementwise_affine=m.elementwise_affine, bias=m.elementwise_affine)
    if isinstance(m, torch.nn.Dropout):
        return dict(type=t, p=m.p)
    if isinstance(m, (torch.nn.Softmax, torch.nn.LogSoftmax)):
        return dict(type=t, dim=m.dim)
    if isinstance(m, (torch.nn.Tanh, torch.nn.ReLU, torch.nn.Sigmoid)):
        return dict(type=t)
    if isinstance(m, torch.nn.RNNBase):
        return dict(type=t, mode=m.mode if t != "RNN" else ATEN_MODE[m.nonlinearity], input_size=m.input_size,
                    hidden_size=m.hidden_size, num_layers=m.num_layers, bias=m.bias, batch_first=m.batch_first,
                    bidirectional=m.bidirectional, proj_size=m.proj_size)
    if isinstance(m, torch.nn.RNNCellBase):
        mode = {"LSTMCell": "LSTM", "GRUCell": "GRU"}.get(t) or ATEN_MODE[m.nonlinearity]
        return dict(type=t, mode=mode, input_size=m.input_size, hidden_size=m.hidden_size, bias=m.bias)
    raise ValueError(t)


def run_layers(mods, x):
    """Runs mods in turn; a recurrent module passes on its output, a cell its h."""
    if not any(isinstance(m, (torch.nn.RNNBase, torch.nn.RNNCellBase)) for m in mods):
        return torch.nn.Sequential(*mods)(x)
    for m in mods:
        x = m(x)
        if isinstance(x, tuple):
            x = x[0]
    return x


def layers_case(path, mods, x, dtype, width, seed=None):
    dt = TORCH_DTYPE[dtype]
    mods = [m.to(dt).eval() for m in mods]
    if x.is_floating_point():
        x = x.to(dt)
    tensors = {}
    for i, m in enumerate(mods):
        for k, v in m.state_dict().items():
            tensors["%d.%s" % (i, k)] = np_of(v).copy()  # before an Embedding's renorm
    tensors["input"] = np_of(x)
    with torch.no_grad():
        y = run_layers(mods, x)
    tensors["output"] = np_of(y)
    meta = dict(layers=json.dumps([describe(m) for m in mods]), dtype=dtype, width=width)
    write_safetensors(path, tensors, meta)


def layers(outdir):
    cases = []  # (name, modules factory, input factory, width)

    def add(name, mods, x, width, dtypes=("F32", "F64")):
        cases.append((name, mods, x, width, dtypes))

    def randn(*shape, scale=1.0, shift=0.0):
        return lambda g: scale * torch.randn(*shape, generator=g) + shift

    def ids(high, *shape):
        return lambda g: torch.randint(0, high, shape, generator=g)

    E = torch.nn.Embedding
    # Embedding: lookups of every shape, padding_idx, max_norm with several norms.
    add("embedding", lambda: [E(20, 8)], ids(20, 5, 3), 8)
    add("embedding_1d_padding", lambda: [E(20, 8, padding_idx=3)], lambda g: torch.tensor([3, 0, 19, 3, 7]), 8)
    add("embedding_scalar", lambda: [E(20, 8)], lambda g: torch.tensor(11), 8)
    add("embedding_maxnorm2", lambda: [E(20, 8, max_norm=1.5)], ids(20, 4, 6), 8)
    add("embedding_maxnorm1", lambda: [E(20, 8, max_norm=2.0, norm_type=1.0)], ids(20, 4, 6), 8)
    add("embedding_maxnorm3", lambda: [E(20, 8, max_norm=1.0, norm_type=3.0)], ids(20, 4, 6), 8)
    # Linear: any number of leading dimensions, 1 and 2 rows, no bias, wide sums.
    L = torch.nn.Linear
    add("linear", lambda: [L(16, 24)], randn(5, 16), 16)
    add("linear_3d_nobias", lambda: [L(16, 24, bias=False)], randn(2, 3, 16), 16)
    add("linear_1d", lambda: [L(16, 24)], randn(16), 16)
    add("linear_1row", lambda: [L(16, 24)], randn(1, 16), 16)
    add("linear_2rows", lambda: [L(16, 24)], randn(2, 16), 16)
    add("linear_h64", lambda: [L(64, 65)], randn(7, 64), 64)
    add("linear_h256", lambda: [L(256, 65)], randn(3, 5, 256), 256, ("F32",))
    # LayerNorm: affine or not, several trailing dimensions, another eps.
    LN = torch.nn.LayerNorm

    def ln_affine(shape, **kw):
        def f():
            m = LN(shape, **kw)
            with torch.no_grad():  # trained-looking weight and bias, not ones and zeros
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape))
            return [m]
        return f
    add("layernorm", ln_affine(16), randn(4, 3, 16, scale=3, shift=1), 16)
    add("layernorm_plain", lambda: [LN(16, elementwise_affine=False)], randn(5, 16, scale=2, shift=-1), 16)
    add("layernorm_2d_eps", ln_affine([4, 6], eps=1e-3), randn(3, 4, 6, scale=0.5), 24)
    add("layernorm_h256", ln_affine(256), randn(6, 256, scale=2), 256, ("F32",))
    # Dropout and the activations.
    add("dropout", lambda: [torch.nn.Dropout(0.3)], randn(4, 5), 1)
    add("tanh", lambda: [torch.nn.Tanh()], randn(4, 5, 6, scale=2), 1)
    add("relu", lambda: [torch.nn.ReLU()], randn(4, 5, 6), 1)
    add("sigmoid", lambda: [torch.nn.Sigmoid()], randn(4, 5, 6, scale=3), 1)
    for d in (-1, 0, 1):
        add("softmax_dim%d" % d, lambda d=d: [torch.nn.Softmax(dim=d)], randn(4, 5, 6, scale=2), 6)
        add("logsoftmax_dim%d" % d, lambda d=d: [torch.nn.LogSoftmax(dim=d)], randn(4, 5, 6, scale=2), 6)
    add("softmax_1d", lambda: [torch.nn.Softmax(dim=0)], randn(10, scale=2), 10)
    # Sequentials: a plain nn.Sequential, and the char-level models' shapes.
    add("seq_mlp", lambda: [L(12, 32), torch.nn.ReLU(), torch.nn.Dropout(0.1), ln_affine(32)()[0], L(32, 16),
                            torch.nn.Tanh(), L(16, 10), torch.nn.LogSoftmax(dim=-1)], randn(6, 12), 32)
    add("seq_embed_lstm_linear", lambda: [E(30, 16), torch.nn.LSTM(16, 32, num_layers=2), L(32, 30)], ids(30, 9, 3), 32)
    add("seq_embed_gru_bf_softmax", lambda: [E(30, 16), torch.nn.GRU(16, 24, batch_first=True), L(24, 30),
                                             torch.nn.Softmax(dim=-1)], ids(30, 2, 11), 24)
    add("seq_embed_relu_unbatched_ln", lambda: [E(25, 8, padding_idx=0), torch.nn.RNN(8, 20, nonlinearity="relu"),
                                                ln_affine(20)()[0], L(20, 25)], ids(25, 13), 20)
    add("seq_embed_lstmcell", lambda: [E(30, 16), torch.nn.LSTMCell(16, 32), L(32, 30)], ids(30, 4), 32)
    add("seq_linear_lstmproj_linear", lambda: [L(6, 12), torch.nn.Tanh(), torch.nn.LSTM(12, 24, proj_size=10, num_layers=2, batch_first=True),
                                               torch.nn.Dropout(0.2), L(10, 4)], randn(3, 7, 6), 24)
    add("seq_embed_bilstm", lambda: [E(30, 16), torch.nn.LSTM(16, 20, bidirectional=True), L(40, 30)], ids(30, 8, 2), 40)
    add("seq_gru_logsoftmax_time", lambda: [torch.nn.GRU(5, 12), L(12, 3), torch.nn.LogSoftmax(dim=0)], randn(6, 2, 5), 12)
    n = 0
    for name, mods, x, width, dtypes in cases:
        for dtype in dtypes:
            seed = 7000 + n
            torch.manual_seed(seed)
            m = mods()
            g = torch.Generator().manual_seed(seed + 1)
            layers_case(os.path.join(outdir, "%s_%s.safetensors" % (name, dtype.lower())), m, x(g), dtype, width)
            n += 1
    return n


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    counts = []
    for sub, gen in (("cells", cells), ("layers", layers)):
        d = os.path.join(outdir, sub)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.endswith(".safetensors"):
                os.remove(os.path.join(d, f))
        counts.append(gen(d))
    print("wrote %d cell cases and %d layer cases under %s" % (counts[0], counts[1], outdir))


if __name__ == "__main__":
    main()
