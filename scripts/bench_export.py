#!/usr/bin/python3
"""Writes the benchmark rows for ONNX Runtime and ptport, and checks their outputs.

    bench_export.py export DIR [ROW,ROW...]
    bench_export.py compare DIR [ROW,ROW...]

export: for each row of bench_torch.py (its module and input, seeded), writes to DIR

    NAME.onnx     the module exported by torch.onnx.export (opset 14; float32 rows only:
                  ONNX Runtime's RNN, LSTM and GRU kernels have no float64)
    NAME.x.bin    the input, raw little-endian
    NAME.ref.bin  PyTorch's outputs (output, h_n, then c_n for an LSTM), raw, one after another
    NAME.json     {"dtype", "input": shape, "outputs": [{"name", "shape"}...], "onnx": bool}
    NAME.pt       the module's state_dict, NAME.in.pt {"input": x}: what `ptport run` reads

compare: reads NAME.go.pt, written by `ptport run NAME.pt NAME.in.pt -o NAME.go.pt`, and
prints {"rows": [{"name", "dtype", "max_abs_err"}]}: the largest absolute difference between
ptport's and PyTorch's outputs over output, h_n and c_n.
"""
import json
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import model, select  # noqa: E402


def reference(m, x):
    with torch.no_grad():
        y, hid = m(x)
    if isinstance(hid, tuple):
        return [("output", y), ("h_n", hid[0]), ("c_n", hid[1])]
    return [("output", y), ("h_n", hid)]


def export(d, rows):
    os.makedirs(d, exist_ok=True)
    for row in rows:
        name, dtype = row[0], row[8]
        m, x = model(row)
        outs = reference(m, x)
        onnx = dtype == "float32"
        if onnx:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(m, (x,), os.path.join(d, name + ".onnx"), input_names=["x"],
                                  output_names=[n for n, _ in outs], opset_version=14)
        with open(os.path.join(d, name + ".x.bin"), "wb") as f:
            f.write(x.contiguous().numpy().tobytes())
        with open(os.path.join(d, name + ".ref.bin"), "wb") as f:
            for _, t in outs:
                f.write(t.contiguous().numpy().tobytes())
        meta = {"dtype": dtype, "input": list(x.shape), "onnx": onnx,
                "outputs": [{"name": n, "shape": list(t.shape)} for n, t in outs]}
        with open(os.path.join(d, name + ".json"), "w") as f:
            json.dump(meta, f)
        torch.save(m.state_dict(), os.path.join(d, name + ".pt"))
        torch.save({"input": x}, os.path.join(d, name + ".in.pt"))


def compare(d, rows):
    out = []
    for row in rows:
        m, x = model(row)
        got = torch.load(os.path.join(d, row[0] + ".go.pt"))
        err = 0.0
        for n, t in reference(m, x):
            if got[n].shape != t.shape:
                sys.exit("%s: ptport's %s has shape %s, PyTorch's %s" % (row[0], n, tuple(got[n].shape), tuple(t.shape)))
            err = max(err, (got[n].double() - t.double()).abs().max().item())
        out.append({"name": row[0], "dtype": row[8], "max_abs_err": err})
    print(json.dumps({"rows": out}))


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("export", "compare"):
        sys.exit(__doc__)
    rows = select(sys.argv[3] if len(sys.argv) > 3 else "")
    (export if sys.argv[1] == "export" else compare)(sys.argv[2], rows)


if __name__ == "__main__":
    main()
