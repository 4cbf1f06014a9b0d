"""special_floats.pt: the float bit patterns and the values that JSON has no form of its
own for, made by real PyTorch, for the exports' round trips (convert's
TestExportSpecialFloats, scripts/check_exports.py).

Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 testdata/convert/gen_special.py

Every float dtype's canonical NaN (what torch makes of float("nan")), the NaN torch
computes for 0/0 on this machine, NaNs of either sign with other payloads (signalling
ones too), infinities, signed zeros, subnormals and the extremes; and as values: float
NaNs (canonical, negative, with a payload), infinities, bytes, a complex number, strings
that read like them, numpy scalar NaNs, and empty dicts and lists, which are
values of their own, under any key: the empty key "" too, at the root and below.
"""
import collections
import os
import struct

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))


def bits(dtype, patterns):
    """A tensor of dtype whose elements have the given bit patterns."""
    width = {torch.float64: np.uint64, torch.float32: np.uint32, torch.float16: np.uint16,
             torch.bfloat16: np.uint16, torch.complex64: np.uint32, torch.complex128: np.uint64}[dtype]
    signed = {np.uint64: torch.int64, np.uint32: torch.int32, np.uint16: torch.int16}[width]
    raw = torch.from_numpy(np.array(patterns, dtype=width).view(np.dtype(width).str.replace("u", "i")))
    assert raw.dtype == signed
    return raw.view(dtype).clone()


def py_float(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def np_f32(b):
    return np.frombuffer(struct.pack("<I", b), np.float32)[0]


zero = torch.zeros(2)
d = collections.OrderedDict()
d["f64"] = torch.cat([torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0, 5e-324, 1 / 3],
                                   dtype=torch.float64),
                      bits(torch.float64, [0xFFF8000000000000, 0x7FF8000000000001, 0x7FF0000000000001,
                                           0xFFFFFFFFFFFFFFFF, 0x7FEFFFFFFFFFFFFF, 0x000FFFFFFFFFFFFF])])
d["f32"] = torch.cat([torch.tensor([float("nan"), float("inf"), -0.0, 1e-45, 0.1]),
                      (zero / zero).float(),
                      bits(torch.float32, [0xFFC00000, 0x7FC00001, 0x7F800001, 0x7FFFFFFF, 0xFFFFFFFF,
                                           0x7F7FFFFF, 0x007FFFFF])])
d["f16"] = torch.cat([torch.tensor([float("nan"), -float("inf"), -0.0, 6e-8, 65504.0]).half(),
                      (zero / zero).half(),
                      bits(torch.float16, [0xFE00, 0x7C01, 0x7FFF, 0xFFFF, 0x03FF])])
d["bf16"] = torch.cat([torch.tensor([float("nan"), float("inf"), -0.0, 1e-40, 3e38]).bfloat16(),
                       (zero / zero).bfloat16(),
                       bits(torch.bfloat16, [0xFFFF, 0x7F81, 0xFFC0, 0x0001, 0x7F7F]),
                       torch.linspace(-3, 3, 7).bfloat16()])
d["c64"] = bits(torch.complex64, [0x7FC00000, 0x80000000, 0xFFC00001, 0x7F800000, 0x3F800000, 0x7FC00000])
d["nan"] = float("nan")
d["neg_nan"] = py_float(0xFFF8000000000000)
d["payload_nan"] = py_float(0x7FF8000000000001)
d["inf"] = float("inf")
d["neg_inf"] = -float("inf")
d["blob"] = b"\x00\xffbytes"
d["empty_blob"] = b""
d["z"] = complex(1.5, -0.0)
d["text"] = ["NaN", "Infinity", "Ynl0ZXM="]
d["np_nan64"] = np.float64("nan")
d["np_payload32"] = np_f32(0x7FC00001)
d["empty_dict"] = {}
d["empty_list"] = []
d["optimizer"] = {"state": {}, "param_groups": [{"params": []}]}
d[""] = {}
d["empty_key"] = {"": [], "deeper": {"": {"": {}}}, "value": {"": 5}}
torch.save(d, os.path.join(here, "special_floats.pt"))
