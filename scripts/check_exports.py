"""Check ptport's exports against real PyTorch and NumPy.

    /usr/bin/python3 scripts/check_exports.py PTPORT FILE.pt...

For each checkpoint, runs `PTPORT convert FILE -o OUT` to .npz, .safetensors and .json,
and the .safetensors on to .pt, then loads FILE with torch.load and each output with
numpy (npz), a plain parser (safetensors: 8-byte header size, JSON header, raw bytes),
json, and torch.load(weights_only=True) (.pt), and requires every
tensor to be there under the name ptport's naming contract gives it (dotted path from
the root; a whole nn.Module by its state_dict names), with the same dtype, shape and
values (NaN where NaN) (or, for safetensors, a refusal naming the first tensor of a
dtype it has no name for), the non-tensor values to be kept, and the groups of tensors
that share a storage in FILE to be listed in the output's metadata (npz's "__shared__",
safetensors' "ptport.shared", JSON's "shared"), the only members besides the tensors
that npz and safetensors may hold being metadata (an npz's "__dtypes__" names the
dtype of the tensors it widened: BF16, as float32). Floats are compared to the bit,
NaNs' signs and payloads included, and so are the non-tensor values, read as the
types ptport's typed JSON names. A whole module pickled by a script
whose classes cannot be imported here (class Net in its __main__) is loaded with a
stand-in nn.Module for each such class, which the pickle's state makes the module it
was; its state_dict() is what ptport must have written. Prints one line per file and
exits 1 on any difference.
"""
import base64
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch

ST_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
             "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
             "C64": np.complex64, "C128": np.complex128}
TORCH_ST = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
            torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
            torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
            torch.complex64: "C64", torch.complex128: "C128"}


class StandInUnpickler(pickle.Unpickler):
    """pickle's Unpickler, but a class that the pickling script defined in its __main__
    is a stand-in: an nn.Module subclass of its name, whose state the pickle restores,
    so that state_dict() works."""
    classes = {}

    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except AttributeError:
            if module != "__main__":
                raise
            STOOD_IN.add(name)
            if name not in self.classes:
                self.classes[name] = type(name, (torch.nn.Module,), {"__module__": "__main__"})
            return self.classes[name]


STAND_IN = types.SimpleNamespace(Unpickler=StandInUnpickler, load=pickle.load, __name__="stand_in")
STOOD_IN = set()  # the classes the last load stood in for


def load(path):
    """torch.load(path), with stand-ins for the module classes of the script that pickled
    it when torch.load cannot find them. (torch 1.13's torch.load ignores a pickle_module
    unless weights_only, so this is what it does with one.)"""
    STOOD_IN.clear()
    try:
        return torch.load(path, map_location="cpu")
    except AttributeError:
        pass
    with torch.serialization._open_file_like(path, "rb") as f:
        if torch.serialization._is_zipfile(f):
            with torch.serialization._open_zipfile_reader(f) as z:
                return torch.serialization._load(z, "cpu", STAND_IN, encoding="utf-8")
        return torch.serialization._legacy_load(f, "cpu", STAND_IN, encoding="utf-8")


def shared_groups(tensors):
    """The groups of names of tensors that view one storage, as ptport lists them (in
    the order of the names, groups by their first name), as a set of tuples."""
    by = {}
    for name, t in tensors.items():
        try:
            s = t.storage()
            key = s.data_ptr() if s.nbytes() else ("empty", name)
        except (NotImplementedError, RuntimeError):  # no storage (sparse, meta)
            continue
        by.setdefault(key, []).append(name)
    return {tuple(g) for g in by.values() if len(g) > 1}


# What safetensors has no dtype for: ptport refuses to write it there, naming the tensor.
NOT_SAFETENSORS = {torch.complex128}


def leaves(obj, prefix=""):
    """(name, value) of every leaf, by ptport's naming contract."""
    if isinstance(obj, torch.Tensor):
        yield (prefix[:-1] if prefix else "tensor"), obj
    elif isinstance(obj, torch.nn.Module):
        yield from leaves(obj.state_dict(), prefix)
    elif isinstance(obj, (dict, list, tuple)) and not obj and prefix:
        yield prefix[:-1], obj  # an empty container is a value of its own
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, prefix + str(k) + ".")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from leaves(v, prefix + str(i) + ".")
    else:
        yield prefix[:-1], obj


def as_numpy(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.float().numpy()
    return t.numpy()


def same(a, b):
    """Equal values, NaN where NaN with the same bits (sign and payload), and the same
    sign of zeros."""
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        if a.dtype != b.dtype:
            return False
        if not (np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a.real), np.signbit(b.real))):
            return False
        parts = lambda x: np.ascontiguousarray(x).view(x.real.dtype).reshape(-1)
        pa, pb = parts(a), parts(b)
        nan = np.isnan(pa) | np.isnan(pb)
        uint = np.dtype(f"u{pa.dtype.itemsize}")
        return np.array_equal(pa[nan].view(uint), pb[nan].view(uint))
    return np.array_equal(a, b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        raw = data[b:end]
        if e["dtype"] == "BF16":
            a = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, ST_DTYPES[e["dtype"]])
        out[name] = (e["dtype"], a.reshape(e["shape"]))
    return out, meta


# The bits of the canonical NaN that ptport's JSON writes as "NaN", by dtype.
CANONICAL_NAN = {"F64": 0x7FF8000000000000, "F32": 0x7FC00000, "F16": 0x7E00, "BF16": 0x7FC0}
FLOAT_BITS = {"F64": (np.float64, np.uint64), "F32": (np.float32, np.uint32), "F16": (np.float16, np.uint16)}


def json_floats(vals, dt):
    """The elements of a JSON tensor of the float dtype dt as an array of their bits:
    numbers, "Infinity", "-Infinity", "NaN" (the canonical NaN) and "NaN:0x" with the
    bits of any other NaN."""
    float_t, uint_t = FLOAT_BITS.get(dt, (np.float32, np.uint16))
    out = np.zeros(len(vals), dtype=uint_t)
    for i, v in enumerate(vals):
        if v == "NaN":
            out[i] = CANONICAL_NAN[dt]
        elif isinstance(v, str) and v.startswith("NaN:0x"):
            out[i] = int(v[len("NaN:0x"):], 16)
        else:
            x = {"Infinity": math.inf, "-Infinity": -math.inf}.get(v, v)
            if dt == "BF16":  # written through float32, which holds it exactly
                out[i] = int(np.array(x, np.float32).view(np.uint32)) >> 16
            else:
                out[i] = np.array(x, float_t).view(uint_t)
    return out


def read_json(path):
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for t in doc["tensors"]:
        dt = t["dtype"]
        if dt in ("C64", "C128"):
            part = "F32" if dt == "C64" else "F64"
            flat = json_floats([x for pair in t["data"] for x in pair], part)
            a = flat.view(FLOAT_BITS[part][0]).view(ST_DTYPES[dt])
        elif dt in ("F64", "F32", "F16"):
            a = json_floats(t["data"], dt).view(FLOAT_BITS[dt][0])
        elif dt == "BF16":
            a = (json_floats(t["data"], dt).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.array(t["data"], dtype=ST_DTYPES[dt])
        out[t["name"]] = (dt, a.reshape(t["shape"]))
    return out, doc.get("values", {}), doc.get("shared")


def typed_value(g):
    """A value of ptport's typed JSON as the Python value it stands for: the one-member
    objects {"builtins.float": ...}, {"builtins.bytes": BASE64}, {"builtins.complex":
    [re, im]} and {"numpy.TYPE": ...}; anything else as it is."""
    if not (isinstance(g, dict) and len(g) == 1):
        return g
    (tag, v), = g.items()

    def f64(x):
        if isinstance(x, str):
            return struct.unpack("<d", struct.pack("<Q", int(json_floats([x], "F64")[0])))[0]
        return float(x)

    if tag == "builtins.float":
        return f64(v)
    if tag == "builtins.bytes":
        return base64.b64decode(v)
    if tag == "builtins.complex":
        return complex(f64(v[0]), f64(v[1]))
    if tag.startswith("numpy."):
        t = np.dtype(tag[len("numpy."):])
        if t.kind in "fc":
            name = {2: "F16", 4: "F32", 8: "F64", 16: "F64"}[t.itemsize] if t.kind == "f" else ("F32" if t.itemsize == 8 else "F64")
            parts = v if t.kind == "c" else [v]
            bits = json_floats(parts, name)
            return bits.view(FLOAT_BITS[name][0]).view(t)[0]
        return t.type(v)
    return g


def same_value(g, v):
    """g and v are one value of one type; floats to the bit."""
    if type(g) != type(v):
        return False
    if isinstance(v, (float, np.floating, complex, np.complexfloating)):
        return np.array(g).tobytes() == np.array(v).tobytes()
    return g == v


def read_npz(path):
    """The tensors, values and other metadata of an npz file: each member "__KEY__"
    holding a 0-d string is metadata KEY ("__metadata__" the values, as JSON)."""
    z = np.load(path)
    got, meta = {}, {}
    for k in z.files:
        a = z[k]
        if len(k) > 4 and k.startswith("__") and k.endswith("__") and a.ndim == 0 and a.dtype.kind == "U":
            meta[k[2:-2]] = str(a)
        else:
            got[k] = ({np.dtype(v): k for k, v in ST_DTYPES.items()}[a.dtype], a)
    values = json.loads(meta.pop("metadata")) if "metadata" in meta else {}
    # "__dtypes__": the tensors held in a wider dtype than theirs (BF16 as float32).
    for name, dt in json.loads(meta.pop("dtypes", "{}")).items():
        got[name] = (dt, got[name][1])
    return got, values, meta


def read_pt(path):
    """A flat state_dict .pt (safetensors converted back): tensors and values by name.
    torch 1.13's weights_only loader cannot read float scalars; such a file is loaded
    as torch.save's own would have to be."""
    try:
        d = torch.load(path, weights_only=True)
    except Exception as e:
        if "Unsupported operand 71" not in str(e):
            raise
        d = torch.load(path)
    tensors = {k: (TORCH_ST[v.dtype], as_numpy(v)) for k, v in d.items() if isinstance(v, torch.Tensor)}
    values = {k: v for k, v in d.items() if not isinstance(v, torch.Tensor)}
    return tensors, values


def check(ptport, path, tmp):
    obj = load(path)
    want = list(leaves(obj))
    tensors = {n: v for n, v in want if isinstance(v, torch.Tensor)}
    values = {n: v for n, v in want if not isinstance(v, torch.Tensor)}
    want_shared = shared_groups(tensors)
    errors = []
    base = os.path.join(tmp, os.path.basename(path))
    for ext in ("npz", "safetensors", "json", "safetensors.pt"):
        out = base + "." + ext
        src = base + ".safetensors" if ext == "safetensors.pt" else path
        r = subprocess.run([ptport, "convert", src, "-o", out], capture_output=True, text=True)
        refused = [n for n, t in tensors.items() if t.dtype in NOT_SAFETENSORS]
        if ext.startswith("safetensors") and refused:
            if ext == "safetensors" and (r.returncode != 2 or f"tensor {refused[0]}: " not in r.stderr):
                errors.append(f"safetensors: ptport exited {r.returncode}, not 2 naming tensor {refused[0]}: {r.stderr.strip()}")
            continue
        if r.returncode != 0:
            errors.append(f"{ext}: ptport exited {r.returncode}: {r.stderr.strip()}")
            continue
        shared = None  # the output's list of shared storages, as JSON
        if ext == "npz":
            got, meta, m = read_npz(out)
            shared = m.get("shared")
        elif ext == "safetensors":
            got, m = read_safetensors(out)
            meta = json.loads(m["ptport.values"]) if "ptport.values" in m else {}
            shared = m.get("ptport.shared")
        elif ext == "json":
            got, meta, shared = read_json(out)
        else:
            got, meta = read_pt(out)
        if ext != "safetensors.pt":
            listed = {tuple(g) for g in json.loads(shared)} if shared else set()
            if listed != want_shared:
                errors.append(f"{ext}: shared storages listed {sorted(listed)}, want {sorted(want_shared)}")
        if set(got) != set(tensors):
            errors.append(f"{ext}: tensor names differ: missing {sorted(set(tensors) - set(got))}, extra {sorted(set(got) - set(tensors))}")
        for name, t in tensors.items():
            if name not in got:
                continue
            dt, a = got[name]
            if dt is not None and dt != TORCH_ST[t.dtype]:
                errors.append(f"{ext}: {name}: dtype {dt}, want {TORCH_ST[t.dtype]}")
            if not same(np.asarray(a), as_numpy(t)):
                errors.append(f"{ext}: {name}: values differ")
        for name, v in values.items():
            if v is None or isinstance(v, (bool, int, float, str, bytes, complex, np.generic)):
                g = meta.get(name, "<missing>")
                if ext != "safetensors.pt":
                    g = typed_value(g)
                if not same_value(g, v):
                    errors.append(f"{ext}: value {name}: {g!r}, want {v!r}")
            elif isinstance(v, (dict, list, tuple)):
                # Empty: a dict comes back a dict (an OrderedDict from .pt), a list or
                # tuple a list.
                g = meta.get(name, "<missing>")
                if not (isinstance(g, (dict, list)) and not g and isinstance(g, dict) == isinstance(v, dict)):
                    errors.append(f"{ext}: value {name}: {g!r}, want {v!r}")
    return errors


def main():
    ptport, files = sys.argv[1], sys.argv[2:]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            errors = check(ptport, path, tmp)
            note = f" (stand-ins for {', '.join(sorted(STOOD_IN))} of the pickling script)" if STOOD_IN else ""
            print(("FAIL " if errors else "ok   ") + path + note)
            for e in errors:
                print("     " + e)
            failed += bool(errors)
    print(f"{len(files) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
