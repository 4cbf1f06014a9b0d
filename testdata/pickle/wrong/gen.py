#!/usr/bin/env python3
"""Writes the files that are taken for PyTorch checkpoints and are none: each made by the
tool that makes it in the wild, from a checkpoint of real PyTorch where one is involved.

Run from anywhere with Debian's PyTorch 1.13, numpy and h5py (python3-h5py), and the
zstd command:

    /usr/bin/python3 testdata/pickle/wrong/gen.py

Package pickle's tests read each file and expect an error that says what it is. The
output is deterministic: rerunning gives identical files.

- model.pt.gz, model.pt.bz2, model.pt.xz, model.pt.zst: torch.save's checkpoint,
  compressed (gzip, bz2 and lzma of Python's library, the zstd command).
- array.npy: numpy.save of one array (ptport reads .npz archives).
- keras.h5: an HDF5 file written by h5py, as Keras writes its weights.
- mixed.npz: numpy.savez's archive with a text record added, as zipfile writes it.
- zipped.zip: a zip holding the checkpoint model.pt; other.zip: a zip of a text file.
- model.pt.lfs: the Git LFS pointer a clone without git-lfs leaves in place of
  model.pt (the pointer format of git-lfs's docs/spec.md: version, oid, size).
- error.html, error.xml: what a download saves in place of the file when the server
  answers with an error page (a 404 page; an S3 AccessDenied response).
- zeros.pt: 4096 zero bytes, what a download that set its space aside and never wrote
  it leaves.
- model.onnx: torch.onnx.export of a small nn.Linear.
- model.gguf: the header of an empty GGUF file (llama.cpp), written by following the
  format of ggml's docs/gguf.md (magic "GGUF", version 3, tensor count 0, key-value
  count 0), which no installed library writes.
"""

import bz2
import gzip
import hashlib
import io
import lzma
import os
import struct
import subprocess
import warnings
import zipfile

import h5py
import numpy as np
import torch

OUT = os.path.dirname(os.path.abspath(__file__))


def out(name):
    return os.path.join(OUT, name)


def write(name, data):
    with open(out(name), "wb") as f:
        f.write(data)


def zipped(name, members):
    with zipfile.ZipFile(out(name), "w") as z:
        for member, data in members:
            info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)


torch.manual_seed(0)
buf = io.BytesIO()
torch.save({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}, buf)
model = buf.getvalue()

write("model.pt.gz", gzip.compress(model, mtime=0))
write("model.pt.bz2", bz2.compress(model))
write("model.pt.xz", lzma.compress(model))
write("model.pt.zst", subprocess.run(["zstd", "-q", "-c"], input=model, stdout=subprocess.PIPE, check=True).stdout)

np.save(out("array.npy"), np.arange(6, dtype=np.float32))

with h5py.File(out("keras.h5"), "w") as f:
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)  # no times: the file is the same at every run
    dense = h5py.Group(h5py.h5g.create(f.id, b"dense", gcpl=gcpl))
    dense.create_dataset("kernel", data=np.arange(6, dtype=np.float32).reshape(2, 3), track_times=False)

npz = io.BytesIO()
np.savez(npz, w=np.arange(6, dtype=np.float32))
with zipfile.ZipFile(npz, "a") as z:
    z.writestr(zipfile.ZipInfo("notes.txt", date_time=(1980, 1, 1, 0, 0, 0)), "trained for 3 epochs\n")
write("mixed.npz", npz.getvalue())

zipped("zipped.zip", [("model.pt", model)])
zipped("other.zip", [("README.txt", "weights are in model.pt\n")])

write("model.pt.lfs", ("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n"
                       % (hashlib.sha256(model).hexdigest(), len(model))).encode())
write("error.html", b"<!DOCTYPE html>\n<html>\n<head><title>404 Not Found</title></head>\n"
      b"<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body>\n</html>\n")
write("error.xml", b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
      b"<Message>Access Denied</Message><RequestId>0000000000000000</RequestId></Error>")
write("zeros.pt", bytes(4096))

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(torch.nn.Linear(3, 2), torch.zeros(1, 3), out("model.onnx"))

write("model.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, 0))

# The files must be what they stand for, as their own readers see them.
assert torch.load(io.BytesIO(gzip.decompress(open(out("model.pt.gz"), "rb").read())))["w"].shape == (2, 3)
assert np.load(out("array.npy")).shape == (6,)
assert sorted(np.load(out("mixed.npz")).files) == ["notes.txt", "w"]
with h5py.File(out("keras.h5")) as f:
    assert f["dense/kernel"].shape == (2, 3)
