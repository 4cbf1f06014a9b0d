#!/usr/bin/python3
"""Checks the .pt files ptport's writer re-saved against PyTorch.

Usage: check_pt_writer.py OUTDIR

OUTDIR/index.json lists, for each input checkpoint, the file the writer
wrote from it ("output") or the error reading it ("error"). For each input:

- An input that a MANIFEST.json beside it says must fail must have failed;
  every other input must have been written.
- The written file must load with torch.load(weights_only=True). Where
  torch 1.13 refuses, the same content saved by torch.save itself must be
  refused too (torch 1.13's weights_only unpickler has no BINFLOAT, no
  builtins.complex, no _codecs.encode and only some dtypes); the file is
  then loaded with weights_only=False.
- What loads must equal torch.load of the input (map_location='cpu'), a
  module replaced by its state_dict(): containers of the same types (dict
  or OrderedDict, list or tuple), keys in the same order, scalars of the
  same type and value (floats bit for bit), tensors of the same dtype,
  shape, strides, storage offset, requires_grad and bytes (NaN payloads
  included), storages shared exactly where the input shared them.
- Where a manifest lists the input, the tensors and values of the written
  file must be those it lists. That is the only reference for bigendian.pt
  (torch 1.13 ignores its byteorder record) and module_custom.pt (its class
  cannot be imported).
- torch.save of what loads must write the same data.pkl and storage records
  as the writer did.

The last line printed is "N passed, M failed"; the exit status is 1 if any
check failed.
"""

import collections
import hashlib
import io
import json
import os
import struct
import sys
import tempfile
import zipfile

import torch

MANIFEST_ONLY = {"bigendian.pt", "module_custom.pt"}


def raw_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


DTYPE_NAMES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64", torch.complex128: "C128",
}


def expected_tree(obj, memo=None):
    """obj as the writer writes it: modules as their state_dict, torch.Size
    as tuples, devices as strings, sets as lists."""
    if memo is None:
        memo = {}
    key = id(obj)
    if key in memo:
        return memo[key]
    if isinstance(obj, torch.nn.Module):
        out = collections.OrderedDict(obj.state_dict())
    elif isinstance(obj, torch.Tensor):
        out = obj
    elif isinstance(obj, collections.OrderedDict):
        out = collections.OrderedDict()
        memo[key] = out
        for k, v in obj.items():
            out[k] = expected_tree(v, memo)
        for k, v in vars(obj).items():
            setattr(out, k, expected_tree(v, memo))
        return out
    elif type(obj) is dict:
        out = {}
        memo[key] = out
        for k, v in obj.items():
            out[k] = expected_tree(v, memo)
        return out
    elif isinstance(obj, list):
        out = []
        memo[key] = out
        out.extend(expected_tree(v, memo) for v in obj)
        return out
    elif isinstance(obj, torch.Size):
        out = tuple(obj)
    elif isinstance(obj, tuple):
        out = tuple(expected_tree(v, memo) for v in obj)
    elif isinstance(obj, (set, frozenset)):
        out = [expected_tree(v, memo) for v in obj]
    elif isinstance(obj, torch.device):
        out = str(obj)
    else:
        out = obj
    memo[key] = out
    return out


class Mismatch(Exception):
    pass


class Comparer:
    def __init__(self):
        self.storages = {}  # data_ptr of the input's storage -> ours
        self.back = {}

    def storage(self, path, want, got):
        ws, gs = want.storage(), got.storage()
        if ws.nbytes() == 0:
            return
        w, g = ws.data_ptr(), gs.data_ptr()
        if self.storages.setdefault(w, g) != g or self.back.setdefault(g, w) != w:
            raise Mismatch(f"{path}: storage sharing differs from the input's")

    def compare(self, path, want, got):
        name = path or "<root>"
        if isinstance(want, torch.Tensor):
            if not isinstance(got, torch.Tensor):
                raise Mismatch(f"{name}: {type(got).__name__}, want a tensor")
            if want.dtype != got.dtype or want.shape != got.shape:
                raise Mismatch(f"{name}: {got.dtype} {tuple(got.shape)}, want {want.dtype} {tuple(want.shape)}")
            if want.stride() != got.stride() or want.storage_offset() != got.storage_offset():
                raise Mismatch(f"{name}: stride {got.stride()} offset {got.storage_offset()}, "
                               f"want {want.stride()} offset {want.storage_offset()}")
            if want.requires_grad != got.requires_grad:
                raise Mismatch(f"{name}: requires_grad {got.requires_grad}, want {want.requires_grad}")
            if raw_bytes(want) != raw_bytes(got):
                raise Mismatch(f"{name}: bytes differ")
            self.storage(name, want, got)
            return
        if type(want) is not type(got):
            if isinstance(want, (set, frozenset)) and isinstance(got, list):
                want = sorted(want, key=repr)
                got = sorted(got, key=repr)
            else:
                raise Mismatch(f"{name}: {type(got).__name__}, want {type(want).__name__}")
        if isinstance(want, dict):
            if list(want.keys()) != list(got.keys()):
                raise Mismatch(f"{name}: keys {list(got.keys())[:8]}..., want {list(want.keys())[:8]}...")
            for (k, wv), gv in zip(want.items(), got.values()):
                self.compare(f"{path}.{k}" if path else str(k), wv, gv)
            if isinstance(want, collections.OrderedDict):
                # Attributes of an OrderedDict (a state_dict's _metadata).
                self.compare(f"{name}<attributes>", dict(vars(want)), dict(vars(got)))
        elif isinstance(want, (list, tuple)):
            if len(want) != len(got):
                raise Mismatch(f"{name}: {len(got)} items, want {len(want)}")
            for i, (wv, gv) in enumerate(zip(want, got)):
                self.compare(f"{path}.{i}" if path else str(i), wv, gv)
        elif isinstance(want, float):
            if struct.pack("<d", want) != struct.pack("<d", got):
                raise Mismatch(f"{name}: {got!r}, want {want!r}")
        elif isinstance(want, complex):
            if struct.pack("<dd", want.real, want.imag) != struct.pack("<dd", got.real, got.imag):
                raise Mismatch(f"{name}: {got!r}, want {want!r}")
        elif want != got:
            raise Mismatch(f"{name}: {got!r}, want {want!r}")


def leaves(root):
    """(tensors, values) by the naming of DESIGN.md, as the manifests name them."""
    tensors, values = {}, {}

    def walk(obj, name):
        if isinstance(obj, torch.Tensor):
            tensors[name or "tensor"] = obj
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{name}.{k}" if name else str(k))
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{name}.{i}" if name else str(i))
        else:
            values[name] = obj

    walk(root, "")
    return tensors, values


def check_manifest(entry, got):
    tensors, values = leaves(got)
    want = entry.get("tensors", {})
    if sorted(tensors) != sorted(want):
        raise Mismatch(f"tensor names {sorted(tensors)[:6]}..., manifest {sorted(want)[:6]}...")
    for n, w in want.items():
        t = tensors[n]
        if DTYPE_NAMES.get(t.dtype) != w["dtype"] or list(t.shape) != w["shape"]:
            raise Mismatch(f"{n}: {t.dtype} {list(t.shape)}, manifest {w['dtype']} {w['shape']}")
        if hashlib.sha256(raw_bytes(t)).hexdigest() != w["sha256"]:
            raise Mismatch(f"{n}: sha256 differs from the manifest")
    for n, w in entry.get("values", {}).items():
        if n not in values:
            raise Mismatch(f"value {n} missing")
        g = values[n]
        if type(g) is not type(w) or (isinstance(w, float) and struct.pack("<d", g) != struct.pack("<d", w)) or g != w:
            raise Mismatch(f"value {n}: {g!r}, manifest {w!r}")


def records(data):
    """[(name without the folder, bytes)] of a zip checkpoint."""
    z = zipfile.ZipFile(io.BytesIO(data))
    return [(i.filename.split("/", 1)[1], z.read(i)) for i in z.infolist()]


def weights_only_load(data):
    try:
        return torch.load(io.BytesIO(data), weights_only=True), None
    except Exception as e:  # torch raises several types here
        msg = str(e).split("WeightsUnpickler error: ")[-1].strip()
        return None, f"{type(e).__name__}: {msg[:120]}"


def check(entry, manifests, notes):
    src, out = entry["input"], entry.get("output")
    base = os.path.basename(src)
    manifest = manifests.get(os.path.dirname(os.path.abspath(src)), {})
    mentry = manifest.get(base)
    if mentry is not None and "error" in mentry:
        if out:
            raise Mismatch("written, but the manifest says reading must fail")
        return
    if not out:
        raise Mismatch(f"not written: {entry.get('error')}")
    with open(out, "rb") as f:
        data = f.read()

    ours, refused = weights_only_load(data)
    if refused:
        ours = torch.load(io.BytesIO(data), weights_only=False)

    if mentry is not None:
        check_manifest(mentry, ours)
    if base not in MANIFEST_ONLY:
        want = expected_tree(torch.load(src, map_location="cpu", weights_only=False))
        Comparer().compare("", want, ours)
        if refused:
            buf = io.BytesIO()
            torch.save(want, buf)
            _, torch_refused = weights_only_load(buf.getvalue())
            if not torch_refused:
                raise Mismatch(f"weights_only=True refused the file ({refused}), "
                               "but loads torch.save's file of the same content")
            notes.setdefault(refused, []).append(base)
    elif refused:
        raise Mismatch(f"weights_only=True refused the file: {refused}")

    # torch.save of what loaded writes the pickle and storages the writer wrote.
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "archive.pt")
        torch.save(ours, path)
        with open(path, "rb") as f:
            resaved = f.read()
    mine = [r for r in records(data) if r[0] not in ("byteorder", ".ptport_source")]
    theirs = records(resaved)
    if [n for n, _ in mine] != [n for n, _ in theirs]:
        raise Mismatch(f"records {[n for n, _ in mine]}, torch.save writes {[n for n, _ in theirs]}")
    for (n, a), (_, b) in zip(mine, theirs):
        if a != b:
            raise Mismatch(f"record {n} differs from what torch.save writes of the same objects")


def main():
    outdir = sys.argv[1]
    with open(os.path.join(outdir, "index.json")) as f:
        index = json.load(f)
    manifests = {}
    for e in index:
        d = os.path.dirname(os.path.abspath(e["input"]))
        if d not in manifests:
            p = os.path.join(d, "MANIFEST.json")
            manifests[d] = json.load(open(p)) if os.path.exists(p) else {}
    passed = failed = 0
    notes = {}
    for e in index:
        try:
            check(e, manifests, notes)
            passed += 1
        except Exception as ex:  # report every failure, then the count
            failed += 1
            print(f"FAIL {e['input']}: {type(ex).__name__}: {ex}")
    for reason, files in sorted(notes.items()):
        print(f"note: torch 1.13 weights_only refuses {len(files)} file(s) as it refuses torch.save's own: "
              f"{reason}: {', '.join(sorted(files)[:8])}{' ...' if len(files) > 8 else ''}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
