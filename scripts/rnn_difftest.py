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
bounds are for unscaled weights). Exits non-zero when a Go test fails.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "testdata", "rnn"))

import gen  # noqa: E402  (testdata/rnn/gen.py)


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


def write(outdir, i, c, seed):
    name = "case_%04d_%s_%s_%s.safetensors" % (i, c["mode"], c["dtype"].lower(), c["layout"])
    gen.run_case(os.path.join(outdir, name), c["mode"], c["inp"], c["hidden"], c["layers"],
                 c["bias"], c["batch_first"], c["bidirectional"], c["proj"], c["layout"],
                 c["seq"], c["batch"], c["dtype"], c["give_h0"], seed=seed,
                 x_scale=c["x_scale"], truth=True, w_scale=c.get("w_scale", 1.0))


def gotest(pkg, run, cases):
    env = dict(os.environ, PTPORT_RNN_CASES=cases)
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
            write(ampdir, i, draw_amplified(rng), args.seed * 100003 + args.n + i)
        print("rnn_difftest: %d cases and %d amplified ones (seed %d) in %s" % (args.n, args.amplified, args.seed, outdir),
              flush=True)
        status = gotest("./rnn", "TestDifferential", outdir)
        status = gotest("./convert/parity", "TestTruth", outdir) or status
        if args.amplified:
            status = gotest("./convert/parity", "TestTruth", ampdir) or status
        return status
    finally:
        if not args.keep:
            shutil.rmtree(outdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
