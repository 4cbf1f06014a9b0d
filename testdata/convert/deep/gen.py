"""Checkpoints whose one value nests as deep as a tree may in every format ptport reads
and writes, and one level deeper (convert's TestDepthLimit): pickle.MaxDepth, 1000
levels below the root, the values being the root's items at depth 1.

Run from the repository root (numpy for the npz files):

    /usr/bin/python3 testdata/convert/deep/gen.py

torch.save (torch 1.13, Python's default recursion limit of 1000) writes no more than
493 levels of dicts (494 of lists) that it pickles once each: its pickler recurses
about twice a level. Through values it has pickled before (the memo), it writes deeper
trees, and torch.load reads them: memo1000.pt and memo1001.pt (with Debian's
python3-torch) are {"x": x, "m": m, "y": y}, x 400 dicts {"a": ...} around the tensor
w, m 300 around x and y 299 (memo1000) or 300 (memo1001) around m, so that w is 1000 or
1001 levels below the root in y, while the pickler recurses at most about 800 frames.
The other files are of ptport's other formats, laid out as their writers lay them out: a JSON document {"tensors": [...], "values": {...}}
(package ptjson), an npz whose 0-d string array __metadata__ holds the values' JSON
(package npz), and a safetensors file whose __metadata__ holds it under
"ptport.values" (package safetensors). Each holds the F32 tensor w = [1.0] and the value
v: lists nested to depth 1000 (d1000.*) or 1001 (d1001.*), the innermost empty.
"""
import json
import os
import struct

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
for depth in (1000, 1001):
    values = '{"v":' + "[" * depth + "]" * depth + "}"
    base = os.path.join(here, f"d{depth}")
    with open(base + ".json", "w") as f:
        f.write('{"tensors": [\n  {"name": "w", "dtype": "F32", "shape": [1], "data": [1.0]}\n],\n"values": '
                + values + "}\n")
    np.savez(base + ".npz", w=np.ones(1, np.float32), __metadata__=np.array(values))
    header = json.dumps({"__metadata__": {"format": "pt", "ptport.values": values},
                         "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
                        separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    with open(base + ".safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + np.ones(1, np.float32).tobytes())


def nest(k, v):
    for _ in range(k):
        v = {"a": v}
    return v


for depth in (1000, 1001):
    x = nest(400, torch.ones(1))
    m = nest(300, x)
    path = os.path.join(here, f"memo{depth}.pt")
    torch.save({"x": x, "m": m, "y": nest(depth - 701, m)}, path)
    torch.load(path)
