#!/usr/bin/env python3
"""Writes the fixtures of package pickle and their MANIFEST.json, using real PyTorch.

Run from anywhere with Debian's PyTorch 1.13:

    /usr/bin/python3 testdata/pickle/gen.py

Every fixture is written by torch.save, or by torch's own zip writer
(torch._C.PyTorchFileWriter), or, for the tar format of torch <= 0.1.10 that
torch.save no longer writes, by following that version's serialization code.
Every readable fixture is loaded back with torch.load and its manifest entry is
recomputed from what torch read; the two must agree before anything is written
to MANIFEST.json. Output is deterministic: rerunning gives identical files.
"""

import collections
import hashlib
import io
import json
import math
import os
import pickle
import pickletools
import struct
import subprocess
import sys
import tarfile
import types
import warnings
import zipfile

import numpy as np
import torch
import torch.nn as nn

OUT = os.path.dirname(os.path.abspath(__file__))
MANIFEST = {}

DTYPE_NAMES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
    torch.complex64: "C64",
    torch.complex128: "C128",
}


def path(name):
    return os.path.join(OUT, name)


def seed(n=0):
    torch.manual_seed(n)
    np.random.seed(n)


# ---------------------------------------------------------------------------
# Naming and description of leaves (DESIGN.md's naming contract).


def tensor_bytes(t):
    """C-contiguous little-endian bytes of t, as torch holds them."""
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def describe(t):
    return {
        "dtype": DTYPE_NAMES[t.dtype],
        "shape": list(t.shape),
        "sha256": hashlib.sha256(tensor_bytes(t)).hexdigest(),
    }


def leaves(root, describe_tensor=describe):
    """Returns ({name: tensor description}, {name: value}) for the object tree."""
    tensors, values = {}, {}

    def join(prefix, key):
        return f"{prefix}.{key}" if prefix else key

    def add(table, name, value):
        assert name not in tensors and name not in values, f"duplicate name {name!r}"
        table[name] = value

    def walk(obj, name):
        if isinstance(obj, nn.Module):
            for key, t in obj.state_dict().items():
                assert isinstance(t, torch.Tensor), key
                add(tensors, join(name, key), describe_tensor(t))
        elif isinstance(obj, torch.Tensor):
            add(tensors, name or "tensor", describe_tensor(obj))
        elif isinstance(obj, dict):
            for key, value in obj.items():
                assert type(key) in (str, int), f"unsupported key {key!r}"
                walk(value, join(name, str(key)))
        elif isinstance(obj, (list, tuple)):
            for i, value in enumerate(obj):
                walk(value, join(name, str(i)))
        elif obj is None or type(obj) in (bool, int, float, str):
            assert name, "a scalar at the root has no name"
            if isinstance(obj, float):
                assert math.isfinite(obj), "JSON cannot hold a non-finite value"
            add(values, name, obj)
        else:
            raise TypeError(f"{name}: no naming for {type(obj)}")

    walk(root, "")
    return tensors, values


def same(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def load(name, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(path(name), **kwargs)


def detect_format(name):
    with open(path(name), "rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04":
        return "zip"
    if tarfile.is_tarfile(path(name)):
        return "tar"
    return "legacy"


def record(name, fmt, expected, loaded=None, describe_loaded=describe):
    """Checks that torch reads fixture `name` as `expected` and records it."""
    assert detect_format(name) == fmt, name
    if fmt == "zip":
        check_zip_layout(name)
    tensors, values = leaves(expected)
    if loaded is None:
        loaded = load(name)
    got_tensors, got_values = leaves(loaded, describe_loaded)
    assert same(got_tensors, tensors), f"{name}: torch reads other tensors"
    assert same(got_values, values), f"{name}: torch reads other values"
    MANIFEST[name] = {"format": fmt, "tensors": tensors, "values": values}
    return loaded


def hostile(name, data, error):
    with open(path(name), "wb") as f:
        f.write(data)
    MANIFEST[name] = {"error": error}


def torch_refuses(name, **kwargs):
    try:
        load(name, **kwargs)
    except Exception as e:  # torch raises many exception types here
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    raise AssertionError(f"{name}: torch.load accepted it")


# ---------------------------------------------------------------------------
# Containers.


def check_zip_layout(name):
    """Every entry stored (not compressed), its data 64-byte aligned, as torch writes."""
    with open(path(name), "rb") as f:
        raw = f.read()
    with zipfile.ZipFile(path(name)) as z:
        for info in z.infolist():
            assert info.compress_type == zipfile.ZIP_STORED, info.filename
            off = info.header_offset
            assert raw[off:off + 4] == b"PK\x03\x04"
            name_len, extra_len = struct.unpack_from("<HH", raw, off + 26)
            start = off + 30 + name_len + extra_len
            assert start % 64 == 0, f"{name}: {info.filename} at {start}"


def zip_records(data):
    """The records of a torch zip as [(name without prefix, bytes)], and the prefix."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        prefix = names[0].split("/", 1)[0]
        return prefix, [(n.split("/", 1)[1], z.read(n)) for n in names]


def write_torch_zip(name, records):
    """Writes records with torch's own zip writer (prefix = the file's stem).

    The writer adds the "version" record itself.
    """
    w = torch._C.PyTorchFileWriter(path(name))
    for key, data in records:
        if key == "version":
            continue
        w.write_record(key, data, len(data))
    w.write_end_of_file()
    del w


def write_zipfile(name, prefix, records):
    """Writes records with Python's zipfile: stored, data 64-byte aligned like torch."""
    with zipfile.ZipFile(path(name), "w", zipfile.ZIP_STORED) as z:
        for key, data in records:
            info = zipfile.ZipInfo(f"{prefix}/{key}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            header = 30 + len(info.filename.encode()) + 4
            pad = (-(z.fp.tell() + header)) % 64
            info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
            z.writestr(info, data)


def storage_pickle_module(transform):
    """A pickle module for torch.save whose Pickler passes every persistent id
    torch makes through transform(pid) before pickling it."""

    class Pickler(pickle.Pickler):
        @property
        def persistent_id(self):
            def pid(obj):
                inner = self.__dict__.get("_torch_persistent_id")
                saved = inner(obj) if inner is not None else None
                return transform(saved) if saved is not None else None
            return pid

        @persistent_id.setter
        def persistent_id(self, fn):
            self.__dict__["_torch_persistent_id"] = fn

    return types.SimpleNamespace(__name__="pickle", Pickler=Pickler, dump=pickle.dump,
                                 load=pickle.load, Unpickler=pickle.Unpickler)


def save_zip(obj, name, protocol=2, transform=None):
    """torch.save in the zip format; transform rewrites storage persistent ids."""
    dtypes = {}

    def note(pid):
        if pid[0] == "storage":
            dtypes[pid[2]] = pid[1].dtype
            if transform is not None:
                pid = transform(pid)
        return pid

    buf = io.BytesIO()
    torch.save(obj, buf, pickle_module=storage_pickle_module(note), pickle_protocol=protocol)
    prefix, records = zip_records(buf.getvalue())
    return prefix, records, dtypes


def fake_pointer(i):
    # Legacy files name storages by the address of their C struct. These keys look
    # like such addresses, are deterministic, and sort in another order than the
    # order the pickle first mentions them, as real keys usually do.
    return str(0x55D0C0DE0000 + ((i * 7919) % 1021) * 0x40)


def save_legacy(obj, name, protocol=2, transform=None, counts=None):
    """torch.save(_use_new_zipfile_serialization=False) with deterministic storage keys.

    torch names legacy storages by memory address, so two runs differ. Here torch
    writes the file; the keys in the pickle are renamed as torch pickles them, and
    the storage key list with the raw storages after it are put in the order of the
    new keys. transform rewrites storage persistent ids; counts {new key: n}
    overrides the element count written before a storage's bytes.
    """
    keymap, dtypes, marks = {}, {}, {}

    def rename(pid):
        if pid[0] != "storage":
            return pid  # ('module', class, source file, source) of pickled nn.Modules
        _, stype, key, location, numel, view = pid
        assert view is None
        new = keymap.setdefault(key, fake_pointer(len(keymap)))
        dtypes[key] = stype.dtype
        pid = ("storage", stype, new, location, numel, view)
        return transform(pid) if transform is not None else pid

    def dump(o, f, protocol):
        if isinstance(o, list):  # the storage key list: the raw storages follow it
            marks["keys"] = (f.tell(), list(o))
            return
        pickle.dump(o, f, protocol=protocol)

    module = storage_pickle_module(rename)
    module.dump = dump
    buf = io.BytesIO()
    torch.save(obj, buf, pickle_module=module, pickle_protocol=protocol,
               _use_new_zipfile_serialization=False)
    raw = buf.getvalue()
    pos, old_keys = marks["keys"]
    assert sorted(old_keys) == sorted(keymap)
    blobs, off = {}, pos
    for key in old_keys:
        (count,) = struct.unpack_from("<q", raw, off)
        size = 8 + count * torch._utils._element_size(dtypes[key])
        blobs[keymap[key]] = raw[off:off + size]
        off += size
    assert off == len(raw)
    new_keys = sorted(blobs)
    out = bytearray(raw[:pos])
    out += pickle.dumps(new_keys, protocol=protocol)
    for key in new_keys:
        blob = blobs[key]
        if counts and key in counts:
            blob = struct.pack("<q", counts[key]) + blob[8:]
        out += blob
    with open(path(name), "wb") as f:
        f.write(out)
    return bytes(out), [len(blobs[k]) for k in new_keys]


# ---------------------------------------------------------------------------
# Contents.


def float_specials(dtype):
    """-0, ±Inf, NaNs (with payloads, negative, signaling), subnormals, max, min."""
    fi = torch.finfo(dtype)
    smallest_subnormal = fi.tiny * fi.eps
    large = {torch.float16: 65504.0, torch.float64: 1e308}.get(dtype, 3.0e38)
    vals = [0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, fi.max, fi.min,
            fi.tiny, -fi.tiny, smallest_subnormal, -smallest_subnormal,
            fi.tiny - smallest_subnormal, fi.eps, 1 + fi.eps, 0.1, -2.5, large]
    itype = {torch.float16: torch.int16, torch.bfloat16: torch.int16,
             torch.float32: torch.int32, torch.float64: torch.int64}[dtype]
    bits = torch.tensor(vals, dtype=torch.float64).to(dtype).view(itype)
    nans = {
        torch.float16: [0x7E01, -0x0200, 0x7C01],  # payload, -NaN (0xFE00), signaling
        torch.bfloat16: [0x7FC1, -0x0040, 0x7F81],
        torch.float32: [0x7FC00001, -0x00400000, 0x7F800001],
        torch.float64: [0x7FF8000000000001, -0x0008000000000000, 0x7FF0000000000001],
    }[dtype]
    return torch.cat([bits, torch.tensor(nans, dtype=itype)]).view(dtype)


def all_dtypes():
    f32 = float_specials(torch.float32)
    f64 = float_specials(torch.float64)
    i64 = torch.iinfo(torch.int64)
    i32 = torch.iinfo(torch.int32)
    i16 = torch.iinfo(torch.int16)
    return {
        "f64": f64,
        "f32": f32.reshape(2, -1),
        "f16": float_specials(torch.float16),
        "bf16": float_specials(torch.bfloat16).reshape(-1, 2),
        "i64": torch.tensor([i64.min, i64.max, 0, -1, 1, 2**53 + 1, -(2**31) - 1, 2**32],
                            dtype=torch.int64),
        "i32": torch.tensor([i32.min, i32.max, 0, -1, 1, 65536], dtype=torch.int32),
        "i16": torch.tensor([i16.min, i16.max, 0, -1, 1, 12345], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0, -1, 1], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 1, 128, 127], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True, True, False, False]).reshape(2, 3),
        "c64": torch.complex(f32[:12], f32[[1, 0, 6, 2, 9, 11, 4, 5, 3, 7, 8, 10]]),
        "c128": torch.complex(f64[:8], f64.flip(0)[:8]).reshape(2, 4),
    }


def scalars():
    return {
        "int_small": 7,
        "int_neg": -3,
        "int_byte": 255,
        "int_uint16": 65535,
        "int32_min": -(2**31),
        "int_2p40": 2**40,
        "int64_max": 2**63 - 1,
        "int64_min": -(2**63),
        "int_2p70": 2**70,
        "int_neg_2p100": -(2**100),
        "float": 0.1,
        "float_neg_zero": -0.0,
        "float_subnormal": 5e-324,
        "float_max": 1.7976931348623157e308,
        "float_whole": 3.0,
        "str": "hello",
        "str_empty": "",
        "str_unicode": "h\u00e9llo \u2713 \u65e5\u672c",
        "str_long": "x" * 300,
        "true": True,
        "false": False,
        "none": None,
        "int_keys": {0: "zero", 7: "seven", -1: "minus one", 1000000: "million"},
        "nested": [1, [2, [3, [4, ("deep", None)]]]],
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "empty_list": [],
        "empty_dict": {},
    }


def protocol_object():
    seed(1)
    weight = torch.randn(3, 4)
    shared = ["same", "list"]
    return {
        "weight": weight,
        "row": weight[1],
        "ids": torch.arange(5),
        "half": torch.tensor([0.5, -0.0, 65504.0], dtype=torch.float16),
        "mask": torch.tensor([True, False]),
        "scalars": scalars(),
        "list": [torch.tensor(2.5, dtype=torch.float64), 1, "two", None],
        "shared_a": shared,
        "shared_b": shared,
    }


def views():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    cube = torch.arange(24, dtype=torch.int32).reshape(2, 3, 4)
    return {
        "contiguous": base,
        "alias": base,  # the same tensor object twice
        "transposed": base.t(),
        "sliced": base[1:3],  # storage offset 6
        "offset_1d": base.view(-1)[5:11],
        "strided": base[:, ::2],
        "column": base[:, 5],
        "block": base[1:, 1::2],
        "scalar_view": base[2, 3],
        "empty_view_at_end": base[4:],  # 0 elements, offset 24 = storage length
        "expanded": torch.arange(3, dtype=torch.float64).expand(4, 3),  # stride (0, 1)
        "permuted": cube.permute(2, 0, 1),
        "scalar": torch.tensor(3.5),
        "empty": torch.empty(0),
        "empty_2d": torch.empty(0, 3),
        "empty_3d": torch.zeros(2, 0, 4, dtype=torch.int64),
        "ones_dim": torch.ones(1, 3, 1),
    }


def check_views(v):
    """The views really are views in what torch read: offsets, strides, shared storage."""
    ptr = v["contiguous"].storage().data_ptr()
    for k in ("alias", "transposed", "sliced", "offset_1d", "strided", "column", "block",
              "scalar_view"):
        assert v[k].storage().data_ptr() == ptr, k
    assert v["alias"] is v["contiguous"]
    assert v["transposed"].stride() == (1, 6)
    assert v["sliced"].storage_offset() == 6
    assert v["offset_1d"].storage_offset() == 5
    assert v["strided"].stride() == (6, 2)
    assert v["column"].stride() == (6,) and v["column"].storage_offset() == 5
    assert v["block"].storage_offset() == 7 and v["block"].stride() == (6, 2)
    assert v["scalar_view"].dim() == 0 and v["scalar_view"].storage_offset() == 15
    assert v["empty_view_at_end"].storage_offset() == 24
    assert v["expanded"].stride() == (0, 1) and v["expanded"].storage().size() == 3
    assert v["permuted"].stride() == (1, 12, 4)


class TinyNet(nn.Module):
    """A user model: pickled whole, its class is __main__.TinyNet."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 4, batch_first=True)
        self.head = nn.Linear(4, 2)
        self.register_buffer("steps", torch.tensor(12))
        self.register_buffer("cache", torch.zeros(4), persistent=False)
        self.activation = "tanh"

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def checkpoint():
    seed(3)
    torch.set_num_threads(1)
    model = nn.ModuleDict({"lstm": nn.LSTM(3, 4), "head": nn.Linear(4, 2)})
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(5, 2, 3)
    out, _ = model["lstm"](x)
    loss = model["head"](out[-1]).pow(2).mean()
    loss.backward()
    opt.step()
    return {
        "epoch": 7,
        "global_step": 1234,
        "loss": 0.125,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": opt.state_dict(),
        "scheduler": None,
        "history": {"train_loss": [0.5, 0.25, 0.125], "val_acc": (0.5, 0.75)},
        "config": {"hidden_size": 4, "num_layers": 1, "bidirectional": False,
                   "arch": "lstm", "notes": None},
    }


# ---------------------------------------------------------------------------
# Fixtures.


def containers():
    obj = protocol_object()
    for p in range(1, 6):
        torch.save(obj, path(f"proto{p}.pt"), pickle_protocol=p)
        record(f"proto{p}.pt", "zip", obj)
        save_legacy(obj, f"proto{p}_legacy.pt", protocol=p)
        record(f"proto{p}_legacy.pt", "legacy", obj)

    # The prefix every in-memory torch.save writes.
    seed(2)
    t = torch.randn(2, 3)
    buf = io.BytesIO()
    torch.save({"t": t}, buf)
    with open(path("prefix_archive.pt"), "wb") as f:
        f.write(buf.getvalue())
    assert zip_records(buf.getvalue())[0] == "archive"
    record("prefix_archive.pt", "zip", {"t": t})

    # Another prefix, rewritten by Python's zipfile (entries stored, 64-byte aligned).
    prefix, records = zip_records(buf.getvalue())
    write_zipfile("prefix_renamed.pt", "exported-model.v2", records)
    record("prefix_renamed.pt", "zip", {"t": t})

    # The records torch >= 2.1 writes besides torch 1.13's; byteorder "little".
    _, records, _ = save_zip({"t": t}, "torch2_records.pt")
    body = dict(records)
    write_torch_zip("torch2_records.pt", [
        ("data.pkl", body["data.pkl"]),
        (".format_version", b"1"),
        (".storage_alignment", b"64"),
        ("byteorder", b"little"),
        ("data/0", body["data/0"]),
        (".data/serialization_id", b"1234567890123456789012345678901234567890"),
    ])
    record("torch2_records.pt", "zip", {"t": t})

    # Big-endian: each storage's elements byte-swapped, byteorder "big".
    obj = all_dtypes()
    _, records, dtypes = save_zip(obj, "bigendian.pt")
    out = []
    for key, data in records:
        if key == "data.pkl":
            out += [(key, data), ("byteorder", b"big")]
        elif key.startswith("data/"):
            out.append((key, byteswap(data, dtypes[key[5:]])))
    write_torch_zip("bigendian.pt", out)
    # torch 1.13 ignores the byteorder record (torch >= 2.1 reads it): what it reads,
    # swapped back per element, must be the little-endian original.
    def describe_swapped(t):
        t = t.detach().contiguous()
        raw = byteswap(tensor_bytes(t), t.dtype)
        return {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                "sha256": hashlib.sha256(raw).hexdigest()}
    loaded = record("bigendian.pt", "zip", obj, describe_loaded=describe_swapped)
    assert not same(leaves(loaded)[0], leaves(obj)[0]), "torch 1.13 swapped bytes itself"

    tar_fixture()


def byteswap(data, dtype):
    size = torch._utils._element_size(dtype)
    if dtype.is_complex:
        size //= 2
    if size == 1:
        return data
    return np.frombuffer(data, dtype=f"u{size}").byteswap().tobytes()


def tar_fixture():
    """The tar format torch <= 0.1.10 wrote: members sys_info, pickle, tensors,
    storages, as in that version's torch/serialization.py."""
    seed(4)
    weight = torch.randn(3, 4)
    ids = torch.tensor([3, -1, 2**40], dtype=torch.int64)
    double = torch.tensor([[1.5, -0.0], [math.pi, 1e-310]], dtype=torch.float64)
    mask = torch.tensor([0, 1, 255], dtype=torch.uint8)
    protocol = 2

    # Storages: key -> (type, bytes, element count). Keys are old C addresses.
    s_weight, s_ids, s_double, s_mask = 94358001230336, 94358001231872, 94358001233408, 94358001234944
    s_view = 94358001236480  # a view of s_weight: elements 4..9
    storages = [
        (s_weight, torch.FloatStorage, weight),
        (s_ids, torch.LongStorage, ids),
        (s_double, torch.DoubleStorage, double),
        (s_mask, torch.ByteStorage, mask),
    ]
    storage_views = [(s_view, s_weight, 4, 6)]
    # Tensors: key, storage key, type, shape, strides, storage offset.
    tensors = [
        (94358001300000, s_weight, torch.FloatTensor, (3, 4), (4, 1), 0),
        (94358001300064, s_weight, torch.FloatTensor, (4,), (1,), 8),  # weight[2]
        (94358001300128, s_weight, torch.FloatTensor, (4, 3), (1, 4), 0),  # weight.t()
        (94358001300192, s_view, torch.FloatTensor, (2,), (2,), 1),  # view, strided
        (94358001300256, s_ids, torch.LongTensor, (3,), (1,), 0),
        (94358001300320, s_double, torch.DoubleTensor, (2, 2), (2, 1), 0),
        (94358001300384, s_mask, torch.ByteTensor, (3,), (1,), 0),
    ]
    flat = weight.reshape(-1)
    expected = collections.OrderedDict([
        ("weight", weight),
        ("row", weight[2]),
        ("transposed", weight.t()),
        ("viewed", flat[4:10][1::2][:2]),
        ("ids", ids),
        ("double", double),
        ("mask", mask),
        ("epoch", 5),
        ("name", "tar-format"),
    ])
    refs = [t[0] for t in tensors]

    class Ref:
        def __init__(self, key):
            self.key = key

    root = collections.OrderedDict(
        [(k, Ref(refs[i])) for i, k in enumerate(list(expected)[:7])]
        + [("epoch", 5), ("name", "tar-format")])

    def member(fn):
        f = io.BytesIO()
        fn(f)
        return f.getvalue()

    def sys_info(f):
        pickle.dump(dict(protocol_version=1001, little_endian=True,
                         type_sizes=dict(short=2, int=4, long=8)), f, protocol=protocol)

    def objects(f):
        p = pickle.Pickler(f, protocol=protocol)
        p.persistent_id = lambda o: str(o.key) if isinstance(o, Ref) else None
        p.dump(root)

    def save_tensors(f):
        pickle.dump(len(tensors), f, protocol=protocol)
        for key, skey, ttype, shape, stride, offset in tensors:
            pickle.dump((key, skey, ttype), f, protocol=protocol)
            n = len(shape)
            f.write(struct.pack("<i", n) + b"\0\0\0\0")  # ndim, written as 8 bytes
            f.write(struct.pack(f"<{n}q", *shape) + struct.pack(f"<{n}q", *stride))
            f.write(struct.pack("<q", offset))

    def save_storages(f):
        pickle.dump(len(storages), f, protocol=protocol)
        for key, stype, t in storages:
            pickle.dump((key, "cpu", stype), f, protocol=protocol)
            f.write(struct.pack("<q", t.numel()) + tensor_bytes(t))
        pickle.dump(storage_views, f, protocol=protocol)

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, fn in [("sys_info", sys_info), ("pickle", objects),
                         ("tensors", save_tensors), ("storages", save_storages)]:
            data = member(fn)
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o600
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    with open(path("tar.pt"), "wb") as f:
        f.write(buf.getvalue())
    loaded = record("tar.pt", "tar", expected)
    assert loaded["row"].storage().data_ptr() == loaded["weight"].storage().data_ptr()
    assert loaded["transposed"].stride() == (1, 4)


def dtype_fixtures():
    obj = all_dtypes()
    torch.save(obj, path("dtypes.pt"))
    record("dtypes.pt", "zip", obj)
    save_legacy(obj, "dtypes_legacy.pt")
    record("dtypes_legacy.pt", "legacy", obj)


def layout_fixtures():
    obj = views()
    torch.save(obj, path("views.pt"))
    check_views(record("views.pt", "zip", obj))
    save_legacy(obj, "views_legacy.pt")
    check_views(record("views_legacy.pt", "legacy", obj))


def structure_fixtures():
    seed(5)
    t = torch.randn(2, 3, 4)
    torch.save(t, path("tensor.pt"))
    record("tensor.pt", "zip", t)
    save_legacy(t, "tensor_legacy.pt")
    record("tensor_legacy.pt", "legacy", t)

    seed(6)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2), nn.BatchNorm1d(2))
    sd = model.state_dict()
    assert hasattr(sd, "_metadata")
    torch.save(sd, path("state_dict.pt"))
    loaded = record("state_dict.pt", "zip", sd)
    assert isinstance(loaded, collections.OrderedDict) and loaded._metadata == sd._metadata

    ckpt = checkpoint()
    torch.save(ckpt, path("checkpoint.pt"))
    record("checkpoint.pt", "zip", ckpt)
    save_legacy(ckpt, "checkpoint_legacy.pt")
    record("checkpoint_legacy.pt", "legacy", ckpt)

    seed(7)
    p = nn.Parameter(torch.randn(3, 2))
    torch.save(p, path("parameter.pt"))
    loaded = record("parameter.pt", "zip", p)
    assert isinstance(loaded, nn.Parameter) and loaded.requires_grad
    params = {
        "trainable": nn.Parameter(torch.randn(2, 2)),
        "frozen": nn.Parameter(torch.randn(3), requires_grad=False),
        "leaf_requires_grad": torch.randn(2).requires_grad_(),
        "plain": torch.randn(2),
    }
    torch.save(params, path("parameters.pt"))
    loaded = record("parameters.pt", "zip", params)
    assert isinstance(loaded["frozen"], nn.Parameter) and not loaded["frozen"].requires_grad
    assert not isinstance(loaded["leaf_requires_grad"], nn.Parameter)
    assert loaded["leaf_requires_grad"].requires_grad and not loaded["plain"].requires_grad


def canonical_names(root):
    """Makes the weight-name strings of recurrent modules the objects their
    _parameters keys are, as in a fresh process.

    setattr interns a parameter's name, and gets an older equal string instead when
    one is alive, so whether _flat_weights_names shares its strings with the
    _parameters keys (and the pickle memoizes them) depends on what the process did
    before. Interning them all makes the pickle independent of that.
    """
    for m in root.modules():
        if isinstance(m, nn.RNNBase):
            m._flat_weights_names = [sys.intern(n) for n in m._flat_weights_names]
            m._all_weights = [[sys.intern(n) for n in w] for w in m._all_weights]
            for n in m._parameters:
                assert sys.intern(n) is n
    return root


def module_fixtures():
    modules = {
        "module_rnn.pt": lambda: nn.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True),
        "module_lstm.pt": lambda: nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2),
        "module_gru.pt": lambda: nn.GRU(3, 4, bias=False),
        "module_linear.pt": lambda: nn.Linear(4, 2),
        "module_sequential.pt": lambda: nn.Sequential(
            nn.Linear(3, 4), nn.RNN(4, 4), nn.LSTM(4, 3), nn.GRU(3, 2)),
        "module_custom.pt": TinyNet,
    }
    for i, (name, make) in enumerate(modules.items()):
        seed(10 + i)
        m = canonical_names(make())
        torch.save(m, path(name))
        loaded = record(name, "zip", m)
        assert type(loaded) is type(m)

    # A buffer left out of state_dict (persistent=False), a None buffer, a None bias.
    seed(20)
    m = nn.Sequential(nn.Linear(4, 3, bias=False), nn.BatchNorm1d(3))
    m[1].register_buffer("scratch", torch.ones(3), persistent=False)
    m.register_buffer("absent", None)
    torch.save(m, path("module_buffers.pt"))
    loaded = record("module_buffers.pt", "zip", m)
    assert "scratch" in loaded[1]._buffers and "1.scratch" not in loaded.state_dict()

    seed(21)
    obj = {"model": canonical_names(nn.GRU(2, 3, num_layers=2)), "epoch": 3, "arch": "gru"}
    torch.save(obj, path("module_in_dict.pt"))
    record("module_in_dict.pt", "zip", obj)

    # The legacy format pickles each nn.Module class as a persistent id
    # ('module', class, source file, source).
    seed(22)
    m = canonical_names(nn.LSTM(2, 3))
    save_legacy(m, "module_legacy.pt")
    record("module_legacy.pt", "legacy", m)


def device_fixtures():
    """Storages saved from a GPU: location "cuda:0" (written on a machine without one
    by rewriting the location in the persistent ids torch pickles)."""
    seed(30)
    obj = {"weight": torch.randn(3, 3), "bias": torch.randn(3), "step": 4}

    def on_gpu(pid):
        return pid[:3] + ("cuda:0",) + pid[4:]

    _, records, _ = save_zip(obj, "cuda.pt", transform=on_gpu)
    write_torch_zip("cuda.pt", records)
    print("cuda.pt without map_location:", torch_refuses("cuda.pt"))
    record("cuda.pt", "zip", obj, loaded=load("cuda.pt", map_location="cpu"))

    # As torch < 1.12 wrote it on a GPU: storage type torch.cuda.FloatStorage.
    def old_gpu(pid):
        return ("storage", torch.cuda.FloatStorage) + pid[2:3] + ("cuda:0",) + pid[4:]

    save_legacy(obj, "cuda_legacy.pt", transform=old_gpu)
    print("cuda_legacy.pt without map_location:", torch_refuses("cuda_legacy.pt"))
    record("cuda_legacy.pt", "legacy", obj, loaded=load("cuda_legacy.pt", map_location="cpu"))


class Reduce:
    """An object that pickles as a call of fn(*args)."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def pickle_of(name):
    with zipfile.ZipFile(path(name)) as z:
        return z.read([n for n in z.namelist() if n.endswith("/data.pkl")][0])


def hostile_fixtures():
    payload = "echo this fixture must never be unpickled"
    # Code under torch.load: os.system (posix.system), builtins.eval, subprocess.Popen.
    obj = {"weight": torch.ones(2), "config": Reduce(os.system, (payload,))}
    torch.save(obj, path("evil_system.pt"))
    assert b"cposix\nsystem\n" in pickle_of("evil_system.pt")
    MANIFEST["evil_system.pt"] = {"error": "posix.system"}

    code = f"__import__('os').system({payload!r})"
    obj = [torch.ones(2), Reduce(eval, (code,))]
    torch.save(obj, path("evil_eval.pt"), pickle_protocol=3)
    assert b"cbuiltins\neval\n" in pickle_of("evil_eval.pt")
    MANIFEST["evil_eval.pt"] = {"error": "builtins.eval"}

    # Protocol 2 writes Python 2's module name: __builtin__.eval, which Python's
    # unpickler maps to builtins.eval and runs all the same.
    save_legacy(obj, "evil_eval_legacy.pt")
    with open(path("evil_eval_legacy.pt"), "rb") as f:
        assert b"c__builtin__\neval\n" in f.read()
    MANIFEST["evil_eval_legacy.pt"] = {"error": "eval"}

    obj = {"state": Reduce(subprocess.Popen, (["sh", "-c", payload],))}
    torch.save(obj, path("evil_popen.pt"), pickle_protocol=4)
    data = pickle_of("evil_popen.pt")
    assert b"subprocess" in data and b"Popen" in data and b"\x93" in data  # STACK_GLOBAL
    MANIFEST["evil_popen.pt"] = {"error": "subprocess.Popen"}

    with open(path("dtypes.pt"), "rb") as f:
        whole = f.read()
    hostile("truncated_zip.pt", whole[:len(whole) // 2], "truncated")
    print("truncated_zip.pt:", torch_refuses("truncated_zip.pt"))

    data, sizes = save_legacy(all_dtypes(), "truncated_legacy.pt")
    hostile("truncated_legacy.pt", data[:len(data) - sizes[-1] // 2], "truncated")
    print("truncated_legacy.pt:", torch_refuses("truncated_legacy.pt"))

    hostile("empty.pt", b"", "empty")
    print("empty.pt:", torch_refuses("empty.pt"))

    # Random bytes whose first byte is no pickle opcode, so nothing can start there.
    opcodes = {ord(op.code) for op in pickletools.opcodes}
    for s in range(40, 1000):
        garbage = np.random.RandomState(s).randint(0, 256, 4096, dtype=np.uint8).tobytes()
        if garbage[0] not in opcodes:
            break
    hostile("garbage.pt", garbage, "unknown format")
    print("garbage.pt:", torch_refuses("garbage.pt"))

    # data.pkl: a dict whose value is BINBYTES claiming 0xFFFFFFF0 bytes; 5 follow.
    huge = (b"\x80\x03}q\x00X\x01\x00\x00\x00xq\x01B" + struct.pack("<I", 0xFFFFFFF0)
            + b"abcde")
    write_torch_zip("huge_binbytes.pt", [("data.pkl", huge)])
    MANIFEST["huge_binbytes.pt"] = {"error": "BINBYTES"}
    print("huge_binbytes.pt:", torch_refuses("huge_binbytes.pt"))

    # A storage record holding 8 of the 16 float32 elements data.pkl claims.
    _, records, _ = save_zip({"x": torch.arange(16, dtype=torch.float32)}, "storage_short.pt")
    write_torch_zip("storage_short.pt",
                    [(k, d[:32] if k == "data/0" else d) for k, d in records])
    MANIFEST["storage_short.pt"] = {"error": "exceeds"}
    # torch 1.13 accepts this file and returns uninitialised memory for elements 8..15.

    # A tensor at storage offset 100 of a 16-element storage.
    storage = torch.arange(16, dtype=torch.float32).storage()
    bad = Reduce(torch._utils._rebuild_tensor_v2,
                 (storage, 100, (4,), (1,), False, collections.OrderedDict()))
    torch.save({"x": bad}, path("offset_past_end.pt"))
    MANIFEST["offset_past_end.pt"] = {"error": "exceeds"}
    print("offset_past_end.pt:", torch_refuses("offset_past_end.pt"))

    # A legacy storage claiming 2**40 float32 elements (4 TiB), in the pickle and in
    # the count before its bytes; the file holds 16 bytes of it. Not loaded with
    # torch: it would try to allocate the 4 TiB.
    first = fake_pointer(0)
    save_legacy({"x": torch.ones(4)}, "legacy_huge_storage.pt",
                transform=lambda pid: pid[:4] + (2**40,) + pid[5:],
                counts={first: 2**40})
    MANIFEST["legacy_huge_storage.pt"] = {"error": "exceeds"}

    # 100000 nested lists: [[[...]]].
    depth = 100000
    deep = b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."
    write_torch_zip("deep_nesting.pt", [("data.pkl", deep)])
    MANIFEST["deep_nesting.pt"] = {"error": "depth"}
    nested = load("deep_nesting.pt")  # torch reads it; a nesting this deep is refused
    for _ in range(depth - 1):
        nested = nested[0]
    assert nested == []



def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Set iteration order (TorchScript code, pickled sets) follows string hashes.
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    assert sys.byteorder == "little"
    assert torch.__version__.startswith("1.13"), torch.__version__
    torch.set_num_threads(1)
    for name in os.listdir(OUT):
        if name.endswith(".pt") or name == "MANIFEST.json":
            os.remove(path(name))
    containers()
    dtype_fixtures()
    layout_fixtures()
    structure_fixtures()
    module_fixtures()
    device_fixtures()
    hostile_fixtures()
    names = sorted(n for n in os.listdir(OUT) if n.endswith(".pt"))
    assert names == sorted(MANIFEST), set(names) ^ set(MANIFEST)
    with open(path("MANIFEST.json"), "w") as f:
        f.write(json.dumps(MANIFEST, indent=1, sort_keys=True))
    total = sum(os.path.getsize(path(n)) for n in names)
    print(f"{len(names)} fixtures, {total} bytes")


if __name__ == "__main__":
    main()
