"""Files NumPy writes that ptport's npz reader must read, or refuse, as NumPy does.

bigendian.npz: numpy.savez of arrays in big-endian byte order ('>f4', '>i8', ...), C and
Fortran order, 0-d and empty, which numpy.load reads (npz's TestBigEndian).
bigendian.json records, for each array, its name, NumPy's descr, its shape and the hex of
its elements' little-endian bytes in C order, as ptport's tensors hold them.

dup.npz: a zip of two members "a.npy" (zeros, then ones), which Python's zipfile writes
with a warning and numpy.load reads as the last; ptport refuses it, naming the member
(npz's TestDuplicateMembers).

Run from the repository root with Debian's python3-numpy:

    /usr/bin/python3 convert/npz/testdata/numpy/gen.py
"""
import io
import json
import os
import warnings
import zipfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))

arrays = {
    "f8": np.array([1.5, -2.25, np.inf], dtype=">f8"),
    "f4": (np.arange(6).reshape(2, 3) / 7).astype(">f4"),
    "f2": np.array([0.5, -65504.0, 2.0**-24], dtype=">f2"),
    "i8": np.array([-(2**62), 1, 2**40], dtype=">i8"),
    "i4": np.array([[-7, 2**30]], dtype=">i4"),
    "i2": np.array([-300, 300], dtype=">i2"),
    "u2": np.array([65535, 1], dtype=">u2"),
    "u4": np.array([2**32 - 1], dtype=">u4"),
    "u8": np.array([2**64 - 1, 2], dtype=">u8"),
    "c8": np.array([1 + 2j, -3.5j], dtype=">c8"),
    "c16": np.array([0.1 - 0.2j], dtype=">c16"),
    "fortran": np.asfortranarray(np.arange(6, dtype=">i4").reshape(2, 3)),
    "scalar": np.array(-5, dtype=">i8"),
    "empty": np.zeros((0, 3), dtype=">f4"),
}
path = os.path.join(here, "bigendian.npz")
np.savez(path, **arrays)
back = np.load(path)
manifest = []
for name, a in arrays.items():
    b = back[name]
    assert b.dtype.str[0] == ">" and b.dtype.str == a.dtype.str and b.shape == a.shape and np.array_equal(a, b, equal_nan=True), name
    assert name != "fortran" or np.isfortran(b), name
    le = np.ascontiguousarray(b.astype(b.dtype.newbyteorder("<")))
    manifest.append({"name": name, "descr": b.dtype.str, "shape": list(b.shape), "hex": le.tobytes().hex()})
with open(os.path.join(here, "bigendian.json"), "w") as f:
    json.dump(manifest, f, indent=1)
    f.write("\n")


def npy(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


path = os.path.join(here, "dup.npz")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # zipfile: "Duplicate name: 'a.npy'"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.npy", npy(np.zeros(2, "<f4")))
        z.writestr("a.npy", npy(np.ones(2, "<f4")))
assert np.load(path)["a"].tolist() == [1.0, 1.0]
