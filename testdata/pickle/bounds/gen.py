#!/usr/bin/env python3
"""Writes checkpoints whose tensors' sizes, strides and offsets lie at the edges of
int64, and cases.json: what torch 1.13's torch.load makes of each.

Run from anywhere with Debian's PyTorch 1.13:

    /usr/bin/python3 testdata/pickle/bounds/gen.py

The views torch can make (Tensor.set_ on a storage of 10 floats) are saved as they
are; the ones it refuses to make are pickled with the arguments torch.save writes
for a tensor, torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, OrderedDict()), through __reduce__. Each file is loaded back with
torch.load: cases.json records the shape it loads, or that it fails ("error": the
first line of torch's message).
"""
import collections
import json
import os
import warnings

import torch

OUT = os.path.dirname(os.path.abspath(__file__))
storage = torch.arange(10, dtype=torch.float32).storage()


class Rebuild:
    """Pickles as the rebuild of a tensor with the given view, whatever torch thinks of it."""

    def __init__(self, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


def view(offset, size, stride):
    return torch.tensor([], dtype=torch.float32).set_(storage, offset, size, stride)


I64 = 2**63 - 1
files = {
    "empty_wide": lambda: view(0, (0, 2**62), (1, 1)),
    "empty_max": lambda: view(0, (0, I64), (1, 1)),
    "empty_max_last": lambda: view(0, (I64, 0), (1, 1)),
    "empty_two_wide": lambda: view(0, (0, 2**62, 2**62), (1, 1, 1)),
    "empty_offset": lambda: view(I64, (0,), (1,)),
    "empty_stride": lambda: view(0, (0, 3), (I64, I64)),
    "stride_max": lambda: Rebuild(0, (2,), (I64,)),
    "stride_wide": lambda: Rebuild(0, (2, 2), (2**62, 2**62)),
    "stride_one": lambda: view(0, (1,), (I64,)),
    "offset_wide": lambda: Rebuild(2**62, (5,), (1,)),
    "size_2p64": lambda: Rebuild(0, (0, 2**64), (1, 1)),
}
cases = {}
for name, make in files.items():
    path = os.path.join(OUT, name + ".pt")
    torch.save({"x": make()}, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = torch.load(path)["x"]
        cases[name + ".pt"] = {"shape": list(x.shape), "stride": list(x.stride())}
    except Exception as e:
        cases[name + ".pt"] = {"error": str(e).splitlines()[0]}
with open(os.path.join(OUT, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1, sort_keys=True)
    f.write("\n")
