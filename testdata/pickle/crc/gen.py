#!/usr/bin/env python3
"""Writes zip checkpoints of real PyTorch with one byte of a storage record flipped.

Run from anywhere with Debian's PyTorch 1.13:

    /usr/bin/python3 testdata/pickle/crc/gen.py

good.pt is torch.save of {'w': 0..5 as float32, 'v': w[2:4], a view of w's storage};
flipped.pt is good.pt with the first byte of the record good/data/0 (w's storage)
inverted, so that the record no longer matches the CRC-32 its zip directory holds;
flipped_big.pt is testdata/pickle/bigendian.pt (a file of a big-endian machine) so
flipped. torch.load reads both flipped files without a word (it does not check CRCs)
and zipfile.testzip names the record; the script asserts both.

good.npz is numpy.savez of {'w': 0..5 as float32, 'b': [1, 2, 3] as int64} (stored
members); flipped.npz is good.npz with the last byte of the member w.npy (an element of
w, past its NPY header) inverted, which numpy.load refuses (Python's zipfile checks
CRCs) and zipfile.testzip names; the script asserts both.
"""
import io
import os
import struct
import zipfile

import numpy
import torch

OUT = os.path.dirname(os.path.abspath(__file__))


def flip_first_byte(data, record, last=False):
    """Returns data with the first byte of the zip record named record inverted (the
    last one, if last)."""
    b = bytearray(data)
    at = b.find(record.encode())
    header = at - 30  # the local file header's fixed part precedes the name
    assert b[header:header + 4] == b"PK\x03\x04"
    size, name_len, extra_len = struct.unpack("<I4xHH", b[header + 18:header + 30])
    b[header + 30 + name_len + extra_len + (size - 1 if last else 0)] ^= 0xFF
    return bytes(b)


w = torch.arange(6, dtype=torch.float32)
torch.save({"w": w, "v": w[2:4]}, os.path.join(OUT, "good.pt"))  # records good/...
with open(os.path.join(OUT, "good.pt"), "rb") as f:
    good = f.read()
files = {
    "good.pt": good,
    "flipped.pt": flip_first_byte(good, "good/data/0"),
}
with open(os.path.join(OUT, "..", "bigendian.pt"), "rb") as f:
    big = f.read()
first = sorted(n for n in zipfile.ZipFile(io.BytesIO(big)).namelist() if "/data/" in n)[0]
files["flipped_big.pt"] = flip_first_byte(big, first)
for name, data in files.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    bad = zipfile.ZipFile(io.BytesIO(data)).testzip()
    assert (bad is None) == (name == "good.pt"), (name, bad)
    torch.load(io.BytesIO(data))  # torch reads it all the same
assert torch.load(os.path.join(OUT, "flipped.pt"))["w"][0] != 0  # and with the wrong value

buf = io.BytesIO()
numpy.savez(buf, w=numpy.arange(6, dtype=numpy.float32), b=numpy.array([1, 2, 3], dtype=numpy.int64))
good_npz = buf.getvalue()
for name, data in {"good.npz": good_npz, "flipped.npz": flip_first_byte(good_npz, "w.npy", last=True)}.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    bad = zipfile.ZipFile(io.BytesIO(data)).testzip()
    assert (bad is None) == (name == "good.npz"), (name, bad)
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("w.npy").compress_type == zipfile.ZIP_STORED
try:
    numpy.load(os.path.join(OUT, "flipped.npz"))["w"]
    raise AssertionError("numpy.load read flipped.npz")
except zipfile.BadZipFile as e:
    assert "CRC-32" in str(e) and "w.npy" in str(e), e
