#!/usr/bin/python3
"""Writes the parity fixtures of package rnn from real PyTorch.

Run from anywhere with /usr/bin/python3 (torch, numpy):

    /usr/bin/python3 testdata/rnn/gen.py [OUTDIR]

OUTDIR defaults to the folder of this script. Each case is one safetensors file
(8-byte little-endian header length, JSON header, raw little-endian data) holding:

  __metadata__   mode (RNN_TANH RNN_RELU LSTM GRU), input_size, hidden_size,
                 num_layers, bias, batch_first, bidirectional, proj_size, dtype
                 (F32 or F64), params (the parameter names in state_dict order,
                 comma separated) and, when the parameters are not stored,
                 param_seed and param_exp (see synth_params)
  parameters     under their state_dict names, unless param_seed is set
  input, h0, c0  the forward arguments (h0, c0 absent when PyTorch was given none)
  output, h_n    what the module returned; c_n for LSTM

Every value is PyTorch's, computed by the module in eval mode under no_grad in
the case's dtype. The cases are a covering design over the factors in FACTORS:
every mode x dtype x layout appears, and every pair of values of any two
factors appears in some case. Cases named big_* use hidden sizes 64 and 256
(2 layers, 50 steps) for the float32 error bounds; their parameters are made
by synth_params, which the Go test reproduces, to keep the files small.
"""
import itertools
import json
import os
import random
import struct
import sys

import numpy as np
import torch

MODES = ["tanh", "relu", "lstm", "lstmproj", "gru"]
FACTORS = {
    "mode": MODES,
    "layers": [1, 2, 3],
    "bidirectional": [False, True],
    "bias": [True, False],
    "layout": ["seq_first", "batch_first", "unbatched"],
    "seq": [1, 7, 50],
    "batch": [1, 3],
    "dtype": ["F32", "F64"],
    "h0": [True, False],
}

ATEN_MODE = {"tanh": "RNN_TANH", "relu": "RNN_RELU", "lstm": "LSTM", "lstmproj": "LSTM", "gru": "GRU"}
TORCH_DTYPE = {"F32": torch.float32, "F64": torch.float64}
NP_DTYPE = {"F32": "<f4", "F64": "<f8"}


def allowed(row):
    """Unbatched input has no batch dimension: its batch is 1."""
    return not (row.get("layout") == "unbatched" and row.get("batch") == 3)


def covering_design():
    names = list(FACTORS)
    pairs = set()
    for a, b in itertools.combinations(range(len(names)), 2):
        for va in FACTORS[names[a]]:
            for vb in FACTORS[names[b]]:
                if allowed({names[a]: va, names[b]: vb}):
                    pairs.add((a, repr(va), b, repr(vb)))

    def new_pairs(row):
        vals = [row[n] for n in names]
        return {(a, repr(vals[a]), b, repr(vals[b])) for a, b in itertools.combinations(range(len(names)), 2)} & pairs

    rows = []
    fixed = ["mode", "dtype", "layout"]
    rest = [n for n in names if n not in fixed]
    for mode, dtype, layout in itertools.product(FACTORS["mode"], FACTORS["dtype"], FACTORS["layout"]):
        best, best_gain = None, -1
        for combo in itertools.product(*(FACTORS[n] for n in rest)):
            row = dict(zip(rest, combo), mode=mode, dtype=dtype, layout=layout)
            if not allowed(row):
                continue
            gain = len(new_pairs(row))
            if gain > best_gain:
                best, best_gain = row, gain
        rows.append(best)
        pairs -= new_pairs(best)
    while pairs:
        best, best_gain = None, -1
        for combo in itertools.product(*(FACTORS[n] for n in names)):
            row = dict(zip(names, combo))
            if not allowed(row):
                continue
            gain = len(new_pairs(row))
            if gain > best_gain:
                best, best_gain = row, gain
        rows.append(best)
        pairs -= new_pairs(best)
    return rows


def synth_params(names_shapes, seed, exp):
    """Deterministic parameters: a splitmix64 stream over all parameters in order;
    value = (top 24 bits - 2^23) * 2^(-23-exp), exact in float32 and float64."""
    out = {}
    start = 0
    for name, shape in names_shapes:
        count = int(np.prod(shape))
        i = np.arange(start + 1, start + count + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
        top = (z >> np.uint64(40)).astype(np.int64) - (1 << 23)
        out[name] = (top.astype(np.float64) * 2.0 ** (-23 - exp)).reshape(shape)
        start += count
    return out


def make_module(mode, inp, hidden, layers, bias, batch_first, bidirectional, proj):
    kw = dict(num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
    if mode in ("tanh", "relu"):
        return torch.nn.RNN(inp, hidden, nonlinearity=mode, **kw)
    if mode == "gru":
        return torch.nn.GRU(inp, hidden, **kw)
    return torch.nn.LSTM(inp, hidden, proj_size=proj, **kw)


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs = []
    off = 0
    for name, arr in tensors.items():
        b = arr.tobytes(order="C")  # not ascontiguousarray, which makes a 0-D array 1-D
        dt = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<i8"): "I64"}[arr.dtype]
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def relabelled(mode, inp, hidden, layers, bias, batch_first, bidirectional, proj, params, args, seed):
    """Runs the module with parameters params on args relabelled: its hidden units, its
    projection's units and its input features permuted (seeded), which computes the same
    function with the terms of every sum in another order, and returns PyTorch's results
    with the permutations undone, as output, h_n (and c_n) in the module's labels."""
    G = {"tanh": 1, "relu": 1, "lstm": 4, "lstmproj": 4, "gru": 3}[mode]
    P = proj if proj > 0 else hidden
    D = 2 if bidirectional else 1
    rng = np.random.RandomState(seed)
    pi, rho = rng.permutation(hidden), rng.permutation(inp)
    sigma = rng.permutation(proj) if proj > 0 else pi
    rows = np.concatenate([q * hidden + pi for q in range(G)])  # gate-major rows of W
    outs = np.concatenate([d * P + sigma for d in range(D)])  # a layer's output features
    m = make_module(mode, inp, hidden, layers, bias, batch_first, bidirectional, proj).eval()
    with torch.no_grad():
        for name, w in params.items():
            layer = int(name.split("_l")[1].split("_")[0])
            if name.startswith("weight_ih"):
                w = w[rows][:, rho if layer == 0 else outs]
            elif name.startswith("weight_hh"):
                w = w[rows][:, sigma]
            elif name.startswith("bias"):
                w = w[rows]
            elif name.startswith("weight_hr"):
                w = w[sigma][:, pi]
            getattr(m, name).copy_(torch.from_numpy(np.ascontiguousarray(w)))
        x = args[0][..., rho]
        if len(args) == 1:
            out, hid = m(x)
        elif mode.startswith("lstm"):
            out, hid = m(x, (args[1][0][..., sigma], args[1][1][..., pi]))
        else:
            out, hid = m(x, args[1][..., sigma])
    back = lambda t, perm: t.numpy()[..., np.argsort(perm)]
    if mode.startswith("lstm"):
        return {"output": back(out, outs), "h_n": back(hid[0], sigma), "c_n": back(hid[1], pi)}
    return {"output": back(out, outs), "h_n": back(hid, sigma)}


def run_case(path, mode, inp, hidden, layers, bias, batch_first, bidirectional, proj, layout,
             seq, batch, dtype, give_h0, seed, synth_exp=None, x_scale=1.0, truth=False, w_scale=1.0,
             relabel=0):
    """Builds the module, runs it, writes the case file. With truth, a float32 case also
    holds truth_output, truth_h_n (and truth_c_n): the same module and arguments widened
    to float64 and run in float64, the float64 truth its float32 results round. w_scale
    multiplies PyTorch's initial parameters (large weights amplify rounding). relabel > 0
    adds, for a float32 case, PyTorch's results of that many relabellings of the module
    (see relabelled) as relabelled<k>_output, _h_n (and _c_n), k = 1..relabel: other
    float32 results exactly as accurate as PyTorch's own."""
    torch.manual_seed(seed)
    m = make_module(mode, inp, hidden, layers, bias, batch_first, bidirectional, proj)
    m = m.to(TORCH_DTYPE[dtype]).eval()
    if w_scale != 1.0:
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(w_scale)
    names = list(m._flat_weights_names)
    meta = dict(mode=ATEN_MODE[mode], input_size=inp, hidden_size=hidden, num_layers=layers,
                bias=str(bias).lower(), batch_first=str(batch_first).lower(),
                bidirectional=str(bidirectional).lower(), proj_size=proj, dtype=dtype,
                params=",".join(names))
    sd = m.state_dict()
    if synth_exp is not None:
        vals = synth_params([(n, tuple(sd[n].shape)) for n in names], seed, synth_exp)
        with torch.no_grad():
            for n in names:
                getattr(m, n).copy_(torch.from_numpy(vals[n]))
        meta["param_seed"] = seed
        meta["param_exp"] = synth_exp
    D = 2 if bidirectional else 1
    P = proj if proj > 0 else hidden
    g = torch.Generator().manual_seed(seed + 1)
    if layout == "unbatched":
        x = torch.randn(seq, inp, generator=g)
        hshape, cshape = (D * layers, P), (D * layers, hidden)
    elif batch_first:
        x = torch.randn(batch, seq, inp, generator=g)
        hshape, cshape = (D * layers, batch, P), (D * layers, batch, hidden)
    else:
        x = torch.randn(seq, batch, inp, generator=g)
        hshape, cshape = (D * layers, batch, P), (D * layers, batch, hidden)
    x = (x * x_scale).to(TORCH_DTYPE[dtype])
    tensors = {}
    if synth_exp is None:
        for n in names:
            tensors[n] = sd[n].numpy().astype(NP_DTYPE[dtype])
    tensors["input"] = x.numpy()
    args = [x]
    if give_h0:
        h0 = (0.5 * torch.randn(*hshape, generator=g)).to(TORCH_DTYPE[dtype])
        tensors["h0"] = h0.numpy()
        if mode.startswith("lstm"):
            c0 = (0.5 * torch.randn(*cshape, generator=g)).to(TORCH_DTYPE[dtype])
            tensors["c0"] = c0.numpy()
            args.append((h0, c0))
        else:
            args.append(h0)
    with torch.no_grad():
        res = m(*args)
    out, hid = res
    tensors["output"] = out.numpy()
    if mode.startswith("lstm"):
        tensors["h_n"] = hid[0].numpy()
        tensors["c_n"] = hid[1].numpy()
    else:
        tensors["h_n"] = hid.numpy()
    for k in tensors:
        tensors[k] = tensors[k].astype(NP_DTYPE[dtype])
    if dtype == "F32":
        params = {n: sd[n].numpy() for n in names} if synth_exp is None else \
            {n: vals[n].astype(np.float32) for n in names}
        for k in range(1, relabel + 1):
            res = relabelled(mode, inp, hidden, layers, bias, batch_first, bidirectional, proj,
                             params, args, seed * 1000 + k)
            for name, v in res.items():
                tensors["relabelled%d_%s" % (k, name)] = v
    if truth and dtype == "F32":
        wide = lambda a: a.double() if torch.is_tensor(a) else tuple(t.double() for t in a)
        with torch.no_grad():
            out64, hid64 = m.double()(*[wide(a) for a in args])
        tensors["truth_output"] = out64.numpy()
        if mode.startswith("lstm"):
            tensors["truth_h_n"], tensors["truth_c_n"] = hid64[0].numpy(), hid64[1].numpy()
        else:
            tensors["truth_h_n"] = hid64.numpy()
    write_safetensors(path, tensors, meta)


def random_sizes(rng, mode):
    inp = rng.randint(1, 10)
    hidden = rng.randint(5, 16)
    proj = rng.randint(1, hidden - 1) if mode == "lstmproj" else 0
    return inp, hidden, proj


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(outdir, exist_ok=True)
    for f in os.listdir(outdir):
        if f.endswith(".safetensors"):
            os.remove(os.path.join(outdir, f))
    rng = random.Random(20240601)
    rows = covering_design()
    for i, r in enumerate(rows):
        inp, hidden, proj = random_sizes(rng, r["mode"])
        batch = 1 if r["layout"] == "unbatched" else r["batch"]
        name = "cover_%03d_%s_%s_%s.safetensors" % (i, r["mode"], r["dtype"].lower(), r["layout"])
        run_case(os.path.join(outdir, name), r["mode"], inp, hidden, r["layers"], r["bias"],
                 r["layout"] == "batch_first", r["bidirectional"], proj, r["layout"], r["seq"],
                 batch, r["dtype"], r["h0"], seed=1000 + i)
    # Float32 error bounds at larger sizes: 2 layers, 50 steps, hidden 64 and 256.
    i = 0
    for hidden, exp in ((64, 3), (256, 4)):
        for mode in MODES:
            proj = hidden // 2 if mode == "lstmproj" else 0
            bidir = hidden == 64
            for dtype in (["F32", "F64"] if hidden == 64 and mode in ("tanh", "lstm") else ["F32"]):
                name = "big_%02d_%s_h%d_%s.safetensors" % (i, mode, hidden, dtype.lower())
                run_case(os.path.join(outdir, name), mode, 32, hidden, 2, True, False, bidir, proj,
                         "seq_first", 50, 3, dtype, True, seed=5000 + i, synth_exp=exp)
                i += 1
    # The notebook's example: RNN(2, 4, 1), input zeros (2, 3, 2).
    torch.manual_seed(0)
    m = torch.nn.RNN(2, 4, 1).eval()
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.tensor([[1.0, 5], [2, 6], [3, 7], [4, 8]]))
        m.weight_hh_l0.copy_(torch.eye(4))
        m.bias_ih_l0.copy_(torch.tensor([0.1, 0, 0, 0]))
        m.bias_hh_l0.zero_()
        x = torch.zeros(2, 3, 2)
        h0 = torch.zeros(1, 3, 4)
        y, hn = m(x, h0)
    tensors = {n: m.state_dict()[n].numpy() for n in m._flat_weights_names}
    tensors.update(input=x.numpy(), h0=h0.numpy(), output=y.numpy(), h_n=hn.numpy())
    write_safetensors(os.path.join(outdir, "notebook.safetensors"), tensors,
                      dict(mode="RNN_TANH", input_size=2, hidden_size=4, num_layers=1, bias="true",
                           batch_first="false", bidirectional="false", proj_size=0, dtype="F32",
                           params=",".join(m._flat_weights_names)))
    print("wrote %d covering cases, %d big cases and the notebook case to %s" % (len(rows), i, outdir))


if __name__ == "__main__":
    main()
