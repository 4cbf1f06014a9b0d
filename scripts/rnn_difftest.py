#!/usr/bin/python3
"""Differential test of package rnn against PyTorch.

    /usr/bin/python3 scripts/rnn_difftest.py [N] [--seed S] [--keep DIR] [--amplified M]

Draws N random configurations (default 200, seeded: the same N and seed give the same
cases) over every mode (RNN tanh/relu, LSTM with and without proj_size, GRU), layer
count, direction, bias, layout (seq-first, batch_first, unbatched), sequence length,
batch size, dtype (float32, float64) and with or without h0/c0; runs each in PyTorch
and writes it in the fixture format of testdata/rnn/gen.py into a temporary folder
(or DIR with --keep); a float32 case also holds PyTorch's float64 truth (the same module
and arguments widened to float64). Then it runs

    go test ./rnn -run TestDifferential -count=1
    go test ./convert/parity -run TestTruth -count=1

with PTPORT_RNN_CASES pointing at that folder. The first compares Go with PyTorch within
the package's bounds. The second computes each float32 case's float64 truth as the parity
check does (with gonum's BLAS), checks it against PyTorch's float64 truth, judges Go's
results by the check's rules and reports the ratio |go - truth| / |torch - truth| of every
compared tensor: the worst ratio, and the worst among tensors whose errors are above the
check's rounding floor. Small random models make errors of a few roundings, where the
ratio is that of the last bits of a handful of values; so M more float32 configurations
(default 60) have their weights scaled 2 to 4.5 times and longer sequences, until
rounding is amplified well above the floor, and go to TestTruth alone (package rnn's
bounds are for unscaled weights). One run's ratio is a noisy statistic: so each amplified
case also holds PyTorch's results of 4 relabellings of its network (hidden units,
projection units and input features permuted: the same function, every sum in another
order, exactly as accurate), and TestTruth reports how far PyTorch's relabelled result
falls from PyTorch's own (the spread of two equally accurate results), and Go's error
against PyTorch's averaged over each side's 5 computations (Go relabels the network
itself), which must stay within 1.25.

K more configurations (--models, default 80) are models as a porter checks them: cells
(RNNCell tanh and relu, LSTMCell, GRUCell; a sequence stepped through, a batched step, an
unbatched step; with or without an initial state), whole models (the state_dict of an
Embedding -> RNN/LSTM/GRU -> [LayerNorm] -> Linear model, from token ids, checked with
--whole), pickled Sequentials (Embedding -> [activation] -> a recurrent module; Linear
-> activation -> [LayerNorm] -> [Dropout] -> Linear -> [Softmax or LogSoftmax]), in
float32 and float64, a third of the float32 ones with their recurrent weights scaled 2 to
4.5 times over longer sequences. Each is written as the model file a user saves and the
reference a notebook exports (with its batch_first and nonlinearity as values), listed
in cases.json, and

    go test ./convert/parity -run TestChecksAgainstTruth -count=1

runs the parity check on each (every one must pass), reporting |go - truth| /
|torch - truth| of every compared tensor by family. Exits non-zero when a Go test fails.
"""
import argparse
import collections
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "testdata", "rnn"))

import gen  # noqa: E402  (testdata/rnn/gen.py)
import torch  # noqa: E402
from torchcell import make_cell, step_cell  # noqa: E402  (testdata/rnn/torchcell.py)


def draw(rng):
    mode = rng.choice(gen.MODES)
    hidden = rng.choice([rng.randint(1, 24), rng.randint(1, 24), rng.randint(25, 64)])
    if mode == "lstmproj" and hidden < 2:
        hidden = 2
    layout = rng.choice(["seq_first", "batch_first", "unbatched"])
    return dict(
        mode=mode,
        inp=rng.randint(1, 12),
        hidden=hidden,
        layers=rng.randint(1, 3),
        bias=rng.random() < 0.7,
        batch_first=layout == "batch_first",
        bidirectional=rng.random() < 0.5,
        proj=rng.randint(1, hidden - 1) if mode == "lstmproj" else 0,
        layout=layout,
        seq=rng.choice([1, 2, rng.randint(3, 12), rng.randint(13, 40)]),
        batch=1 if layout == "unbatched" else rng.choice([1, 2, rng.randint(3, 9)]),
        dtype=rng.choice(["F32", "F64"]),
        give_h0=rng.random() < 0.6,
        # ReLU is unbounded: larger inputs give values whose float32 ulp nears the bound.
        x_scale=rng.choice([0.5, 1.0] if mode == "relu" else [0.5, 1.0, 2.0]),
    )


def draw_amplified(rng):
    """A float32 configuration whose weights amplify rounding, short of chaos."""
    c = draw(rng)
    c.update(dtype="F32", hidden=rng.randint(16, 64), seq=rng.randint(20, 60),
             w_scale=rng.choice([2.0, 2.5, 3.0, 3.5, 4.0, 4.5]))
    if c["mode"] == "relu":
        c["w_scale"] = 1.0  # relu is unbounded: scaled weights overflow, not round
    if c["mode"] == "lstmproj":
        c["proj"] = rng.randint(1, c["hidden"] - 1)
    return c


# PyTorch's relabelled copies of each amplified case (gen.relabelled), and as many of Go's.
RELABELLINGS = 4


def write(outdir, i, c, seed, relabel=0):
    name = "case_%04d_%s_%s_%s.safetensors" % (i, c["mode"], c["dtype"].lower(), c["layout"])
    gen.run_case(os.path.join(outdir, name), c["mode"], c["inp"], c["hidden"], c["layers"],
                 c["bias"], c["batch_first"], c["bidirectional"], c["proj"], c["layout"],
                 c["seq"], c["batch"], c["dtype"], c["give_h0"], seed=seed,
                 x_scale=c["x_scale"], truth=True, w_scale=c.get("w_scale", 1.0), relabel=relabel)


# -- Models as a porter checks them ------------------------------------------------------

CELL_MODES = ["tanh", "relu", "lstm", "gru"]
ACTIVATIONS = [torch.nn.Tanh, torch.nn.ReLU, torch.nn.Sigmoid]


def scale_params(module, f):
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(f)


class CharModel(torch.nn.Module):
    """Embedding -> recurrent module -> [LayerNorm] -> Linear, as training scripts define
    it; the check finds its layers by their shapes."""

    def __init__(self, vocab, rnn, out, norm, head):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, rnn.input_size)
        self.rnn = rnn
        if norm:
            self.norm = torch.nn.LayerNorm(out)
        self.fc = torch.nn.Linear(out, head)

    def forward(self, ids):
        y, _ = self.rnn(self.embedding(ids))
        if hasattr(self, "norm"):
            y = self.norm(y)
        return self.fc(y)


def draw_model(rng, amplified=False):
    """A random model as a porter checks it: (family, model to save, reference, flags)."""
    family = rng.choice(["cell", "cell", "whole", "whole", "seq_recurrent", "seq_heads"])
    if amplified:
        family = rng.choice(["cell", "whole"])
    dtype = torch.float32 if amplified or rng.random() < 0.75 else torch.float64
    steps = rng.randint(20, 60) if amplified else rng.choice([1, 2, rng.randint(3, 12), rng.randint(13, 30)])
    w_scale = rng.choice([2.0, 2.5, 3.0, 3.5, 4.0, 4.5]) if amplified else 1.0
    ref = collections.OrderedDict()
    if family == "cell":
        mode = rng.choice(CELL_MODES)
        if mode == "relu":
            w_scale = 1.0  # relu is unbounded: scaled weights overflow, not round
        inp, hidden = rng.randint(1, 12), rng.randint(16, 64) if amplified else rng.randint(1, 48)
        cell = make_cell(mode, inp, hidden, rng.random() < 0.7).to(dtype).eval()
        scale_params(cell, w_scale)
        shape = "steps" if amplified else rng.choice(["steps", "steps", "batched", "unbatched"])
        batch = rng.randint(1, 5)
        x = {"steps": lambda: torch.randn(steps, batch, inp), "batched": lambda: torch.randn(batch, inp),
             "unbatched": lambda: torch.randn(inp)}[shape]().to(dtype)
        h0 = c0 = None
        if rng.random() < 0.6:
            sh = (hidden,) if shape == "unbatched" else (batch, hidden)
            h0 = (0.5 * torch.randn(*sh)).to(dtype)
            c0 = (0.5 * torch.randn(*sh)).to(dtype) if mode == "lstm" else None
        ref["input"] = x
        if h0 is not None:
            ref["hx" if c0 is not None else "h0"] = (h0, c0) if c0 is not None else h0
        ref.update(step_cell(cell, x, h0, c0))
        if mode == "relu":
            ref["nonlinearity"] = "relu"
        return family, cell.state_dict(), ref, []
    if family == "whole":
        mode = rng.choice(gen.MODES)
        if mode == "relu":
            w_scale = 1.0
        inp, hidden = rng.randint(1, 12), rng.randint(16, 64) if amplified else rng.randint(1, 32)
        if mode == "lstmproj" and hidden < 2:
            hidden = 2
        bidirectional, batch_first = rng.random() < 0.4, rng.random() < 0.4
        proj = rng.randint(1, hidden - 1) if mode == "lstmproj" else 0
        rnn = gen.make_module(mode, inp, hidden, rng.randint(1, 2), rng.random() < 0.8, batch_first, bidirectional, proj)
        out = (2 if bidirectional else 1) * (proj or hidden)
        vocab = rng.randint(2, 40)
        norm = rng.random() < 0.4 and out != inp  # a LayerNorm of the input size would fit before the module too
        net = CharModel(vocab, rnn, out, norm, rng.randint(2, 40)).to(dtype).eval()
        scale_params(net.rnn, w_scale)
        layout = rng.choice(["seq_first", "batch_first", "unbatched"]) if not batch_first else "batch_first"
        if batch_first and rng.random() < 0.3:
            layout = "unbatched"
        batch = rng.randint(1, 5)
        shape = {"seq_first": (steps, batch), "batch_first": (batch, steps), "unbatched": (steps,)}[layout]
        ids = torch.randint(0, vocab, shape)
        with torch.no_grad():
            ref["input"], ref["output"] = ids, net(ids)
        if batch_first:
            ref["batch_first"] = True
        if mode in ("tanh", "relu"):
            ref["nonlinearity"] = mode
        return family, net.state_dict(), ref, ["--whole"]
    if family == "seq_recurrent":
        mode = rng.choice(gen.MODES)
        inp, hidden = rng.randint(1, 12), rng.randint(1, 32)
        if mode == "lstmproj" and hidden < 2:
            hidden = 2
        proj = rng.randint(1, hidden - 1) if mode == "lstmproj" else 0
        rnn = gen.make_module(mode, inp, hidden, rng.randint(1, 2), rng.random() < 0.8, False, rng.random() < 0.4, proj)
        layers = [torch.nn.Embedding(rng.randint(2, 40), inp)]
        if rng.random() < 0.5:
            layers.append(rng.choice(ACTIVATIONS)())
        seq = torch.nn.Sequential(*layers, rnn).to(dtype).eval()
        ids = torch.randint(0, layers[0].num_embeddings, (steps, rng.randint(1, 5)))
        with torch.no_grad():
            y, hn = seq(ids)
        ref.update(input=ids, output=y, h_n=hn)
        return family, seq, ref, ["--whole"]
    a, b, inp = rng.randint(1, 24), rng.randint(1, 24), rng.randint(1, 12)
    layers = [torch.nn.Linear(inp, a), rng.choice(ACTIVATIONS)()]
    if rng.random() < 0.5:
        layers.append(torch.nn.LayerNorm(a))
    if rng.random() < 0.3:
        layers.append(torch.nn.Dropout(0.2))
    layers.append(torch.nn.Linear(a, b))
    lead = [rng.randint(1, 6) for _ in range(rng.randint(0, 2))]
    rank = len(lead) + 1
    if rng.random() < 0.6:
        layers.append(rng.choice([torch.nn.Softmax, torch.nn.LogSoftmax])(dim=rng.randint(-rank, rank - 1)))
    seq = torch.nn.Sequential(*layers).to(dtype).eval()
    x = torch.randn(*lead, inp).to(dtype)
    with torch.no_grad():
        ref.update(input=x, output=seq(x))
    return family, seq, ref, ["--whole"]


def write_models(outdir, n, rng, amplified=False):
    """Draws n models, saves each model and its reference into outdir, and lists them in
    outdir/cases.json."""
    path = os.path.join(outdir, "cases.json")
    cases = {}
    if os.path.exists(path):
        with open(path) as f:
            cases = json.load(f)
    for i in range(n):
        torch.manual_seed(rng.randrange(1 << 30))
        family, model, ref, flags = draw_model(rng, amplified)
        name = "%s%s_%04d" % ("amplified_" if amplified else "", family, i)
        torch.save(model, os.path.join(outdir, name + ".pt"))
        torch.save(ref, os.path.join(outdir, name + ".ref.pt"))
        cases[name] = dict(model=name + ".pt", ref=name + ".ref.pt", outcome="pass", flags=flags,
                           family=("amplified " if amplified else "") + family)
    with open(path, "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


def gotest(pkg, run, cases, var="PTPORT_RNN_CASES"):
    env = dict(os.environ, **{var: cases})
    cmd = ["go", "test", pkg, "-run", run, "-count=1", "-v"]
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = p.stdout.splitlines()
    shown = [l for l in lines if not l.lstrip().startswith(("=== RUN", "--- PASS"))]
    print("\n".join(shown))
    if p.returncode != 0:
        print("rnn_difftest: FAIL (go test %s exit status %d)" % (pkg, p.returncode), file=sys.stderr)
    return p.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("n", nargs="?", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", metavar="DIR", help="write the cases to DIR and keep them")
    ap.add_argument("--amplified", metavar="M", type=int, default=60,
                    help="float32 cases with scaled weights, for the truth ratio (default 60)")
    ap.add_argument("--models", metavar="K", type=int, default=80,
                    help="cells, whole models and pickled Sequentials, checked by the parity check (default 80)")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    outdir = args.keep or tempfile.mkdtemp(prefix="rnn_difftest_")
    os.makedirs(outdir, exist_ok=True)
    ampdir = os.path.join(outdir, "amplified")
    os.makedirs(ampdir, exist_ok=True)
    try:
        for i in range(args.n):
            write(outdir, i, draw(rng), args.seed * 100003 + i)
        for i in range(args.amplified):
            write(ampdir, i, draw_amplified(rng), args.seed * 100003 + args.n + i, RELABELLINGS)
        modeldir = os.path.join(outdir, "models")
        os.makedirs(modeldir, exist_ok=True)
        if args.models:
            write_models(modeldir, args.models - args.models // 3, rng)
            write_models(modeldir, args.models // 3, rng, amplified=True)
        print("rnn_difftest: %d cases, %d amplified ones and %d models (seed %d) in %s" % (
            args.n, args.amplified, args.models, args.seed, outdir), flush=True)
        status = gotest("./rnn", "TestDifferential", outdir)
        status = gotest("./convert/parity", "TestTruth", outdir) or status
        if args.amplified:
            status = gotest("./convert/parity", "TestTruth", ampdir) or status
        if args.models:
            status = gotest("./convert/parity", "TestChecksAgainstTruth", modeldir, "PTPORT_MODEL_CASES") or status
        return status
    finally:
        if not args.keep:
            shutil.rmtree(outdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
