"""dotted.pt and alike.pt: dicts whose keys give two leaves one name, which no output
can hold, made by real PyTorch for the error that says why (convert's TestKeyClash).
They are in a folder of their own, apart from the checkpoints that every format
exports (scripts/ci_exports.sh).

Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 testdata/convert/clash/gen.py

dotted.pt: the key "a.b" beside the key "a" holding "b": both are the leaf a.b.
alike.pt: the keys 1 and "1" of one dict: both are the leaf m.1.
emptykey.pt: the key "." beside the key "" holding "": both are the leaf ".", as the
dotted keys (an empty first key is a key too).
"""
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))
torch.save({"a": {"b": {}}, "a.b": 1, "w": torch.ones(1)}, os.path.join(here, "dotted.pt"))
torch.save({"m": {1: torch.ones(1), "1": torch.zeros(1)}}, os.path.join(here, "alike.pt"))
torch.save({"": {"": torch.arange(3.0)}, ".": torch.ones(2, dtype=torch.int64)}, os.path.join(here, "emptykey.pt"))
