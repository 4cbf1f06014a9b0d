"""names.npz: arrays that numpy.savez writes under names that end in "", "." or "..",
the last component of a member name, which NumPy writes as ".npy", "..npy" and
"...npy" and numpy.load reads back under the same names (npz's TestNumPyNames);
names.json records, for each name, numpy's member name and the array's values.

Run from the repository root with Debian's python3-numpy:

    /usr/bin/python3 convert/npz/testdata/names/gen.py
"""
import json
import os
import zipfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
names = ["", ".", "..", "a/", "a/.", "a/..", "x."]
arrays = {n: np.arange(i + 1, dtype=np.int64) for i, n in enumerate(names)}
path = os.path.join(here, "names.npz")
np.savez(path, **arrays)
members = [i.filename for i in zipfile.ZipFile(path).infolist()]
back = np.load(path)
assert sorted(back.files) == sorted(names), back.files
manifest = [{"name": n, "member": m, "values": back[n].tolist()} for n, m in zip(names, members)]
for entry in manifest:
    assert entry["member"] == entry["name"] + ".npy", entry
with open(os.path.join(here, "names.json"), "w") as f:
    json.dump(manifest, f, indent=1)
    f.write("\n")
