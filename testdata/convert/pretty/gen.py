#!/usr/bin/env python3
"""Writes ptport's JSON export of a checkpoint of real PyTorch as tools reformat it.

Run from the repository root, with jq on the PATH:

    /usr/bin/python3 testdata/convert/pretty/gen.py

source.json is `ptport convert testdata/convert/rnn_tanh.pt --to json` (torch.save's
state_dict of an nn.RNN); jq.json is `jq . source.json`; python.json is Python's
json.dump(indent=2) of it after a blank line, as an editor may leave one. convert's
tests read all three as the checkpoint rnn_tanh.pt is.
"""
import json
import os
import subprocess

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "source.json")
if os.path.exists(src):
    os.remove(src)
subprocess.run(["go", "run", "./cmd/ptport", "convert", "testdata/convert/rnn_tanh.pt", "-o", src],
               check=True, stderr=subprocess.DEVNULL)
with open(os.path.join(here, "jq.json"), "wb") as f:
    subprocess.run(["jq", ".", src], stdout=f, check=True)
with open(src) as f:
    doc = json.load(f)
with open(os.path.join(here, "python.json"), "w") as f:
    f.write("\n")
    json.dump(doc, f, indent=2)
