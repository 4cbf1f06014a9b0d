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

What torch 1.13 cannot load (files of torch 2.x: dtypes it lacks through
_rebuild_tensor_v3 over UntypedStorage, lazy conjugate and negative bits,
sparse compressed tensors as torch 2.x's _rebuild_sparse_tensor writes them,
nested tensors) is loaded with torch 1.13 through torch 2.x's rebuild
functions, reimplemented below from torch 2.x's torch/_utils.py: a tensor of
a dtype torch 1.13 lacks becomes a V3Tensor (its dtype name, view and the
bytes of the view), a nested tensor its four component tensors, and sparse
tensors torch 1.13 tensors of their layout. Inputs and outputs loaded so are
compared as above, but for the torch.save check: an output written from an
input of torch 2.x's layout (testdata/pickle/torch2/gen.py builds them by the
rules of torch 2.x's torch/_tensor.py) must have that input's data.pkl and
storage records, unless the input has lazy bits, which the writer applies to
the storages it writes. A whole module pickled by a script whose classes cannot be
imported here (class Net in its __main__) is loaded with a stand-in nn.Module for
each such class, which the pickle's state makes the module it was; its state_dict()
is what the writer must have written.

The last line printed is "N passed, M failed"; the exit status is 1 if any
check failed.
"""

import collections
import hashlib
import io
import json
import os
import pickle
import struct
import sys
import tempfile
import types
import zipfile

import numpy as np
import torch

MANIFEST_ONLY = {"bigendian.pt", "module_custom.pt"}


def raw_bytes(t):
    """The C-contiguous little-endian bytes of a tensor, lazy bits applied, a quantized
    tensor's integers."""
    if isinstance(t, V3Tensor):
        return t.data
    t = t.detach().cpu()
    if t.is_quantized:
        t = t.int_repr()
    t = t.resolve_conj().resolve_neg().contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


DTYPE_NAMES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64", torch.complex128: "C128",
    torch.qint8: "I8", torch.quint8: "U8", torch.qint32: "I32",
}

COMPRESSED = {torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc}


# ---------------------------------------------------------------------------
# torch 2.x's rebuild functions for torch 1.13 (from torch 2.x's torch/_utils.py).

# torch.storage._new_dtypes() of torch 2.x: the dtypes torch 1.13 lacks, with their
# element sizes and their names in ptport.
NEW_DTYPES = {
    "float8_e4m3fn": (1, "F8_E4M3"), "float8_e5m2": (1, "F8_E5M2"), "float8_e4m3fnuz": (1, "F8_E4M3FNUZ"),
    "float8_e5m2fnuz": (1, "F8_E5M2FNUZ"), "float8_e8m0fnu": (1, "F8_E8M0"), "float4_e2m1fn_x2": (1, "F4"),
    "uint16": (2, "U16"), "uint32": (4, "U32"), "uint64": (8, "U64"), "complex32": (4, "C32"),
    "bits8": (1, "BITS8"), "bits16": (2, "BITS16"), "bits1x8": (1, "BITS1X8"), "bits2x4": (1, "BITS2X4"),
    "bits4x2": (1, "BITS4X2"),
}


class NewDType:
    """A torch 2.x dtype that torch 1.13 lacks."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "torch." + self.name


def storage_bytes(storage):
    t = torch.empty(0, dtype=torch.uint8)
    t.set_(storage)
    return t.numpy().tobytes()


class V3Tensor:
    """A tensor of a dtype torch 1.13 lacks, as _rebuild_tensor_v3 of torch 2.x builds
    it: its view of its storage, the view's bytes in C order, lazy bits applied."""

    def __init__(self, storage, offset, size, stride, requires_grad, dtype, metadata):
        esize, self.name = NEW_DTYPES[dtype.name]
        self.dtype, self.shape, self.strides, self.offset = dtype.name, tuple(size), tuple(stride), offset
        self.requires_grad, self.storage_ptr = requires_grad, storage.data_ptr()
        raw = np.frombuffer(storage_bytes(storage), dtype=np.uint8)
        idx = np.zeros(self.shape, dtype=np.int64) + offset
        for k, (n, st) in enumerate(zip(self.shape, self.strides)):
            shp = [1] * len(self.shape)
            shp[k] = n
            idx = idx + (np.arange(n) * st).reshape(shp)
        idx = idx.reshape(-1)
        data = np.stack([raw[idx * esize + b] for b in range(esize)], axis=-1) if idx.size else np.zeros((0, esize), np.uint8)
        self.bits = {k for k, v in (metadata or {}).items() if v}
        if self.bits:
            if dtype.name != "complex32" or not self.bits <= {"conj", "neg"}:
                raise ValueError(f"lazy bits {self.bits} on torch.{dtype.name}")
            parts = np.frombuffer(data.tobytes(), dtype="<f2").reshape(-1, 2).copy()
            if "conj" in self.bits:
                parts[:, 1] = -parts[:, 1]
            if "neg" in self.bits:
                parts = -parts
            data = parts
        self.data = np.ascontiguousarray(data).tobytes()


class NestedParts:
    """A nested tensor as _rebuild_nested_tensor's arguments give it."""

    def __init__(self, buffer, sizes, strides, storage_offsets):
        self.parts = collections.OrderedDict(
            [("values", buffer), ("sizes", sizes), ("strides", strides), ("storage_offsets", storage_offsets)])


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    t = torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
    if metadata is not None:
        USED.add("torch2")
    metadata = metadata or {}
    if metadata.get("conj"):
        t = t.conj()
    if metadata.get("neg"):
        t = torch._neg_view(t)
    return t


def rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    return V3Tensor(storage, storage_offset, size, stride, requires_grad, dtype, metadata)


def rebuild_sparse_tensor(layout, data):
    if layout == torch.sparse_coo:
        if len(data) == 3:
            indices, values, size = data
            is_coalesced = None
        else:
            indices, values, size, is_coalesced = data
        t = torch._sparse_coo_tensor_unsafe(indices, values, size)
        if is_coalesced:
            t._coalesced_(True)
        return t
    if layout in COMPRESSED:
        compressed_indices, plain_indices, values, size = data
        return torch._sparse_compressed_tensor_unsafe(compressed_indices, plain_indices, values, size, layout=layout)
    raise NotImplementedError(f"rebuilding sparse tensor for layout {layout}")


TORCH2_REBUILD = {
    "_rebuild_tensor_v2": rebuild_tensor_v2,
    "_rebuild_tensor_v3": rebuild_tensor_v3,
    "_rebuild_sparse_tensor": rebuild_sparse_tensor,
    "_rebuild_nested_tensor": NestedParts,
}


# What the last torch2_load used: "torch2" (a rebuild function or dtype of torch 2.x),
# "stub" (a module class of the script that pickled it, which cannot be imported here).
USED = set()
STUBS = {}


def stub_module(name):
    """A stand-in for an nn.Module subclass defined in the __main__ of the script that
    pickled it: an nn.Module whose state the pickle restores, so state_dict() works."""
    if name not in STUBS:
        STUBS[name] = type(name, (torch.nn.Module,), {"__module__": "__main__"})
    return STUBS[name]


class Torch2Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name in TORCH2_REBUILD:
            if name != "_rebuild_tensor_v2":  # which torch 1.13 has, but for the lazy bits
                USED.add("torch2")
            return TORCH2_REBUILD[name]
        if module == "torch" and name in NEW_DTYPES:
            USED.add("torch2")
            return NewDType(name)
        try:
            return super().find_class(module, name)
        except AttributeError:
            if module != "__main__":
                raise
            USED.add("stub")
            return stub_module(name)


TORCH2 = types.SimpleNamespace(Unpickler=Torch2Unpickler, load=pickle.load, __name__="torch2_rebuild")


def torch2_load(path_or_buf):
    """torch.load of torch 1.13 with torch 2.x's rebuild functions: what torch.load does
    with a zip file and a pickle_module (torch 1.13's torch.load ignores the pickle_module
    it is given unless weights_only)."""
    with torch.serialization._open_file_like(path_or_buf, "rb") as f:
        with torch.serialization._open_zipfile_reader(f) as z:
            return torch.serialization._load(z, "cpu", TORCH2, encoding="utf-8")


def load_any(path_or_bytes):
    """(object, how) loaded with torch 1.13: natively ("torch"), through torch 2.x's
    rebuild functions ("torch2"), or with stand-ins for the module classes of the
    script that pickled it ("stub")."""
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    try:
        return torch.load(src, map_location="cpu", weights_only=False), "torch"
    except Exception:  # torch 1.13 cannot rebuild it
        if isinstance(src, io.BytesIO):
            src.seek(0)
        USED.clear()
        obj = torch2_load(src)
        return obj, "torch2" if "torch2" in USED else "stub"


def has_lazy_bits(obj):
    found = []

    def walk(o):
        if isinstance(o, V3Tensor):
            found.append(bool(o.bits))
        elif isinstance(o, torch.Tensor):
            if o.layout == torch.strided and not o.is_quantized:
                found.append(o.is_conj() or o.is_neg())
        elif isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)
    walk(obj)
    return any(found)


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
        if isinstance(want, V3Tensor):
            w, g = (want.storage_ptr, frozenset(want.bits)), got.storage_ptr
        else:
            ws, gs = want.storage(), got.storage()
            if ws.nbytes() == 0:
                return
            # The writer applies lazy bits to the storage it writes: a storage seen with
            # bits and without is two storages in its file.
            w, g = (ws.data_ptr(), want.is_conj(), want.is_neg()), gs.data_ptr()
        if self.storages.setdefault(w, g) != g or self.back.setdefault(g, w) != w:
            raise Mismatch(f"{path}: storage sharing differs from the input's")

    def tensor(self, name, want, got):
        if isinstance(want, V3Tensor):
            if not isinstance(got, V3Tensor):
                raise Mismatch(f"{name}: {type(got).__name__}, want a torch.{want.dtype} tensor")
            if (want.dtype, want.shape, want.strides, want.offset, want.requires_grad) != \
                    (got.dtype, got.shape, got.strides, got.offset, got.requires_grad):
                raise Mismatch(f"{name}: torch.{got.dtype} {got.shape} stride {got.strides} offset {got.offset}, "
                               f"want torch.{want.dtype} {want.shape} stride {want.strides} offset {want.offset}")
            if got.bits:
                raise Mismatch(f"{name}: written with lazy bits {got.bits}")
            if want.data != got.data:
                raise Mismatch(f"{name}: bytes differ")
            self.storage(name, want, got)
            return
        if not isinstance(got, torch.Tensor):
            raise Mismatch(f"{name}: {type(got).__name__}, want a tensor")
        if want.layout != got.layout or want.dtype != got.dtype or want.shape != got.shape:
            raise Mismatch(f"{name}: {got.layout} {got.dtype} {tuple(got.shape)}, "
                           f"want {want.layout} {want.dtype} {tuple(want.shape)}")
        if want.requires_grad != got.requires_grad:
            raise Mismatch(f"{name}: requires_grad {got.requires_grad}, want {want.requires_grad}")
        if want.layout == torch.sparse_coo:
            if want.is_coalesced() != got.is_coalesced():
                raise Mismatch(f"{name}: is_coalesced {got.is_coalesced()}, want {want.is_coalesced()}")
            self.compare(name + ".indices", want._indices(), got._indices())
            self.compare(name + ".values", want._values(), got._values())
            return
        if want.layout in COMPRESSED:
            for part in sparse_parts(want):
                self.compare(f"{name}.{part}", getattr(want, part)(), getattr(got, part)())
            return
        if want.is_meta != got.is_meta:
            raise Mismatch(f"{name}: is_meta {got.is_meta}, want {want.is_meta}")
        if want.stride() != got.stride() or want.storage_offset() != got.storage_offset():
            raise Mismatch(f"{name}: stride {got.stride()} offset {got.storage_offset()}, "
                           f"want {want.stride()} offset {want.storage_offset()}")
        if want.is_meta:
            return  # no data, and torch writes every meta tensor apart
        if got.is_conj() or got.is_neg():
            raise Mismatch(f"{name}: written with a lazy bit")
        if want.is_quantized:
            if want.qscheme() != got.qscheme():
                raise Mismatch(f"{name}: {got.qscheme()}, want {want.qscheme()}")
            if want.qscheme() == torch.per_tensor_affine:
                self.compare(name + ".scale", want.q_scale(), got.q_scale())
                self.compare(name + ".zero_point", want.q_zero_point(), got.q_zero_point())
            else:
                self.compare(name + ".scale", want.q_per_channel_scales(), got.q_per_channel_scales())
                self.compare(name + ".zero_point", want.q_per_channel_zero_points(), got.q_per_channel_zero_points())
                self.compare(name + ".axis", want.q_per_channel_axis(), got.q_per_channel_axis())
        if raw_bytes(want) != raw_bytes(got):
            raise Mismatch(f"{name}: bytes differ")
        self.storage(name, want, got)

    def compare(self, path, want, got):
        name = path or "<root>"
        if isinstance(want, (torch.Tensor, V3Tensor)):
            self.tensor(name, want, got)
            return
        if isinstance(want, NestedParts):
            if not isinstance(got, NestedParts):
                raise Mismatch(f"{name}: {type(got).__name__}, want a nested tensor")
            for k, v in want.parts.items():
                self.compare(f"{name}.{k}", v, got.parts[k])
            return
        if isinstance(want, NewDType):
            if not isinstance(got, NewDType) or got.name != want.name:
                raise Mismatch(f"{name}: {got!r}, want {want!r}")
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
        elif isinstance(want, np.generic):
            # A numpy scalar, by its dtype and bits (a NaN's payload included).
            if want.dtype != got.dtype or want.tobytes() != got.tobytes():
                raise Mismatch(f"{name}: {got!r} ({got.dtype}, {got.tobytes().hex()}), "
                               f"want {want!r} ({want.dtype}, {want.tobytes().hex()})")
        elif want != got:
            raise Mismatch(f"{name}: {got!r}, want {want!r}")


def sparse_parts(t):
    """The accessors of a compressed sparse tensor's components, as ptport names them."""
    if t.layout in (torch.sparse_csc, torch.sparse_bsc):
        return ["ccol_indices", "row_indices", "values"]
    return ["crow_indices", "col_indices", "values"]


def leaves(root):
    """(tensors, values) by the naming of DESIGN.md, as the manifests name them: a
    quantized tensor NAME with NAME.scale, NAME.zero_point (and NAME.axis); a sparse
    one as NAME.layout, NAME.size.i and its components; a nested one as its parts."""
    tensors, values = {}, {}

    def walk(obj, name):
        if isinstance(obj, V3Tensor):
            tensors[name or "tensor"] = obj
        elif isinstance(obj, NestedParts):
            for k, v in obj.parts.items():
                walk(v, f"{name}.{k}" if name else k)
        elif isinstance(obj, torch.Tensor) and obj.layout != torch.strided:
            name = name or "tensor"
            values[name + ".layout"] = str(obj.layout).replace("torch.", "")
            for i, d in enumerate(obj.shape):
                values[f"{name}.size.{i}"] = d
            if obj.layout == torch.sparse_coo:
                tensors[name + ".indices"], tensors[name + ".values"] = obj._indices(), obj._values()
            else:
                for part in sparse_parts(obj):
                    tensors[f"{name}.{part}"] = getattr(obj, part)()
        elif isinstance(obj, torch.Tensor):
            name = name or "tensor"
            tensors[name] = obj
            if obj.is_quantized:
                if obj.qscheme() == torch.per_tensor_affine:
                    values[name + ".scale"], values[name + ".zero_point"] = obj.q_scale(), obj.q_zero_point()
                else:
                    tensors[name + ".scale"] = obj.q_per_channel_scales()
                    tensors[name + ".zero_point"] = obj.q_per_channel_zero_points()
                    values[name + ".axis"] = obj.q_per_channel_axis()
        elif isinstance(obj, (torch.dtype, NewDType)):
            values[name] = repr(obj)
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
        dtype = t.name if isinstance(t, V3Tensor) else DTYPE_NAMES.get(t.dtype)
        if dtype != w["dtype"] or list(t.shape) != w["shape"]:
            raise Mismatch(f"{n}: {dtype} {list(t.shape)}, manifest {w['dtype']} {w['shape']}")
        if w.get("no_data"):
            if not t.is_meta:
                raise Mismatch(f"{n}: not a meta tensor")
        elif hashlib.sha256(raw_bytes(t)).hexdigest() != w["sha256"]:
            raise Mismatch(f"{n}: sha256 differs from the manifest")
    for n, scheme in entry.get("qschemes", {}).items():
        if str(tensors[n].qscheme()) != "torch." + scheme:
            raise Mismatch(f"{n}: {tensors[n].qscheme()}, manifest {scheme}")
    for n, c in entry.get("coalesced", {}).items():
        if got[n].is_coalesced() != c:
            raise Mismatch(f"{n}: is_coalesced {got[n].is_coalesced()}, manifest {c}")
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
    how = "torch"
    if refused:
        ours, how = load_any(data)

    if mentry is not None:
        check_manifest(mentry, ours)
    if base not in MANIFEST_ONLY:
        loaded, src_how = load_any(src)
        want = expected_tree(loaded)
        Comparer().compare("", want, ours)
        if how == "torch2" or src_how == "torch2":
            notes.setdefault("loaded with torch 2.x's rebuild functions", []).append(base)
        if src_how == "stub":
            notes.setdefault("loaded with stand-ins for the module classes of the script that pickled them", []).append(base)
        if src_how == "torch2" and not has_lazy_bits(loaded):
            # The input is laid out by torch 2.x's rules: the writer must write it so.
            with open(src, "rb") as f:
                theirs = records(f.read())
            mine = [r for r in records(data) if r[0] not in ("byteorder", ".ptport_source")]
            if mine != [r for r in theirs if r[0] != "byteorder"]:
                raise Mismatch("records differ from the input's, which follow torch 2.x's rules")
        if how == "torch2":
            return  # torch 1.13's torch.save cannot write it
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
        what = reason if reason.startswith("loaded") else \
            f"torch 1.13 weights_only refuses them as it refuses torch.save's own: {reason}"
        print(f"note: {len(files)} file(s) {what}: {', '.join(sorted(files)[:8])}{' ...' if len(files) > 8 else ''}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
