#!/usr/bin/env python3
"""Writes testdata/pickle/content/: checkpoints holding what training code saves
beside tensors (numpy values, instances of user classes, Python 2 pickles, tensors
as dict keys), and their MANIFEST.json, using real PyTorch and numpy.

Run from anywhere with Debian's PyTorch 1.13 and numpy 1.24:

    /usr/bin/python3 testdata/pickle/gen_content.py

Every fixture is written by torch.save. The Python 2 fixtures are written by
torch.save with a pickle module that pickles as Python 2 did (str as
SHORT_BINSTRING/BINSTRING, OrderedDict as OrderedDict([[key, value], ...]) then
BUILD of its attributes, from Python 2.7's Lib/collections.py), since no Python 2
is installed. numpy 2 pickles name numpy._core where numpy 1 names numpy.core
(numpy 2's numpy/_core/src/multiarray/{descriptor,scalartypes,methods}.c reduce
dtypes to numpy.dtype, scalars to numpy._core.multiarray.scalar and arrays to
numpy._core.multiarray._reconstruct); numpy 1.24 cannot write them, so
numpy2.pt is numpy_values.pt with those module names rewritten, plus a numpy 2
dtype class (numpy.dtypes.Float64DType, numpy 2's numpy/dtypes.py).

Every fixture torch 1.13 can load is loaded back with torch.load, and its manifest
entry is computed from what torch read; the entry computed from the saved object
must agree. Names follow package pickle's naming (its doc comment of Leaves): the
walk of a pickled object follows what its __reduce_ex__ gives the pickle (the
arguments of cls.__new__ or of the call, the state, the list and dict items), a
dict key that is a tensor is <tensor#N>, N counting distinct key tensors in tree
order.

Each entry records what torch.load(weights_only=True) of torch 1.13 did, and what
package pickle must do in each mode ("ok" or a substring of its error), as this
script declares it.
"""

import argparse
import collections
import copyreg
import datetime
import hashlib
import io
import json
import math
import os
import pathlib
import pickle
import struct
import sys
import types
import warnings
import zipfile

import numpy as np
import torch
import torch.backends.cudnn.rnn
import torch.nn.backends.thnn
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402  (the fixture helpers of testdata/pickle)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "content")
MANIFEST = {}

NUMPY_DTYPES = {
    "f8": "F64", "f4": "F32", "f2": "F16", "i8": "I64", "i4": "I32", "i2": "I16",
    "i1": "I8", "u1": "U8", "u2": "U16", "u4": "U32", "u8": "U64", "b1": "BOOL", "c8": "C64",
    "c16": "C128",
}


def path(name):
    return os.path.join(OUT, name)


# ---------------------------------------------------------------------------
# The naming of package pickle, on Python objects.


def numpy_dtype_name(dt):
    return NUMPY_DTYPES[f"{dt.kind}{dt.itemsize}"]


def describe_array(a):
    le = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False)
    return {"dtype": numpy_dtype_name(a.dtype), "shape": list(a.shape),
            "sha256": hashlib.sha256(le.tobytes()).hexdigest()}


def reduce_parts(obj):
    """What the pickle of obj holds: (called, args, kwargs, state, list, dict items)."""
    rv = obj.__reduce_ex__(2)
    if isinstance(rv, str):
        raise TypeError(f"{obj!r} pickles as a global")
    func, args = rv[0], rv[1]
    state = rv[2] if len(rv) > 2 else None
    listitems = list(rv[3]) if len(rv) > 3 and rv[3] is not None else None
    dictitems = list(rv[4]) if len(rv) > 4 and rv[4] is not None else None
    if func is copyreg.__newobj__:
        return False, list(args[1:]), state, listitems, dictitems
    return True, list(args), state, listitems, dictitems


class Walker:
    def __init__(self):
        self.tensors, self.values, self.scalars, self.other = {}, {}, {}, {}
        self.keys = {}
        self.counts = collections.Counter()

    def add(self, table, name, value):
        for t in (self.tensors, self.values, self.scalars, self.other):
            assert name not in t, f"duplicate name {name!r}"
        table[name] = value

    def key(self, k):
        if isinstance(k, torch.Tensor):
            kid = id(k)
            if kid not in self.keys:
                self.keys[kid] = f"<tensor#{self.counts['tensor']}>"
                self.counts["tensor"] += 1
            return self.keys[kid]
        if isinstance(k, bool) or k is None:
            return str(k)
        if isinstance(k, (str, int)):
            return str(k)
        if isinstance(k, np.integer):
            return str(int(k))
        if isinstance(k, tuple):
            return "(" + ", ".join(self.key(e) for e in k) + ")"
        raise TypeError(f"no naming for key {k!r}")

    def walk(self, obj, name):
        j = lambda k: f"{name}.{k}" if name else k  # noqa: E731
        if isinstance(obj, nn.Module):
            for k, t in obj.state_dict().items():
                self.add(self.tensors, j(k), gen.describe(t))
        elif isinstance(obj, torch.Tensor):
            self.add(self.tensors, name or "tensor", gen.describe(obj))
        elif isinstance(obj, np.ndarray):
            if obj.dtype.kind in "OUS":
                self.walk(obj.tolist(), name)
            else:
                self.add(self.tensors, name, describe_array(obj))
        elif isinstance(obj, np.str_):
            self.add(self.values, name, str(obj))
        elif isinstance(obj, np.bytes_):
            self.add(self.other, name, "bytes:" + bytes(obj).hex())
        elif isinstance(obj, np.generic):
            le = np.asarray(obj).astype(obj.dtype.newbyteorder("<")).tobytes()
            self.add(self.scalars, name, {"dtype": numpy_dtype_name(obj.dtype), "hex": le.hex()})
        elif type(obj) in (dict, collections.OrderedDict, collections.defaultdict, collections.Counter):
            for k, v in obj.items():
                self.walk(v, j(self.key(k)))
        elif type(obj) in (list, tuple, torch.Size):
            for i, v in enumerate(obj):
                self.walk(v, j(str(i)))
        elif type(obj) in (set, frozenset):
            nums = sorted(v for v in obj if type(v) in (int, float, bool))
            strs = sorted(v for v in obj if type(v) is str)
            for i, v in enumerate(nums + strs):
                self.walk(v, j(str(i)))
        elif obj is None or type(obj) in (bool, int, float, str):
            if isinstance(obj, float):
                assert math.isfinite(obj)
            self.add(self.values, name, obj)
        elif type(obj) is bytes:
            self.add(self.other, name, "bytes:" + obj.hex())
        elif isinstance(obj, gen.Reduce):
            self.add(self.other, name, "call")
        elif isinstance(obj, np.dtype):
            self.add(self.other, name, f"global:numpy.dtype('{obj.str}')")
        elif isinstance(obj, torch.dtype):
            self.add(self.other, name, "global:" + str(obj))
        elif isinstance(obj, type):
            self.add(self.other, name, f"global:{obj.__module__}.{obj.__qualname__}")
        else:
            called, args, state, listitems, dictitems = reduce_parts(obj)
            # The leaf of the class: NAME.__class__, or NAME.__call__ for a call's record.
            func = obj.__reduce_ex__(2)[0]
            cls = type(obj) if not called else func
            self.add(self.values, j("__call__" if called else "__class__"), f"{cls.__module__}.{cls.__qualname__}")
            for i, a in enumerate(args):
                self.walk(a, j(str(i)))
            attrs, other = None, None
            if isinstance(state, dict) and all(type(k) is str for k in state):
                attrs = [state]
            elif (isinstance(state, tuple) and len(state) == 2
                  and all(s is None or isinstance(s, dict) for s in state)):
                attrs = [s for s in state if s]
            else:
                other = state
            for d in attrs or []:
                for k, v in d.items():
                    self.walk(v, j(k))
            for k, v in dictitems or []:
                self.walk(v, j(self.key(k)))
            for i, v in enumerate(listitems or []):
                self.walk(v, j(str(i)))
            if other is not None:
                self.walk(other, name)


def contents(obj):
    w = Walker()
    w.walk(obj, "")
    return {"tensors": w.tensors, "values": w.values, "scalars": w.scalars, "other": w.other}


def detect_format(name):
    with open(path(name), "rb") as f:
        return "zip" if f.read(4) == b"PK\x03\x04" else "legacy"


def weights_only_113(name):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.load(path(name), weights_only=True)
    except Exception as e:  # torch raises several exception types
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return "ok"


def record(name, obj, fmt, modes, strict_refuses=None, loaded=True, expected=None):
    """Records fixture name: its contents (checked against torch.load when torch
    can load it), torch 1.13's weights_only verdict and package pickle's modes.

    modes: {"default", "allow_objects", "strict"} -> "ok" or an error substring.
    strict_refuses: the globals torch.load(weights_only=True) of torch 2.6 refuses.
    """
    assert detect_format(name) == fmt, name
    want = contents(obj) if expected is None else expected
    if loaded:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = contents(torch.load(path(name), weights_only=False))
        assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True), \
            f"{name}: torch reads other contents:\n{got}\n{want}"
    entry = dict(want, format=fmt, modes=modes, torch_weights_only=weights_only_113(name))
    if strict_refuses is not None:
        entry["weights_only_refuses"] = sorted(strict_refuses)
    MANIFEST[name] = entry


# ---------------------------------------------------------------------------
# numpy values.


def numpy_values():
    rng = np.random.RandomState(3)
    scalars = {
        "best_acc": np.float64(0.9123456789),
        "lr": np.float32(0.1),
        "half": np.float16(1.5),
        "epoch": np.int64(7),
        "i32": np.int32(-3),
        "i16": np.int16(-300),
        "i8": np.int8(-5),
        "u8": np.uint8(200),
        "u16": np.uint16(65535),
        "u32": np.uint32(4000000000),
        "u64": np.uint64(2**64 - 1),
        "flag": np.bool_(True),
        "c64": np.complex64(1 + 2j),
        "c128": np.complex128(-0.5 + 1e-300j),
        "neg_zero": np.float64(-0.0),
        "name": np.str_("déjà"),
        "raw": np.bytes_(b"xy"),
    }
    arrays = {
        "f8": rng.randn(3, 4),
        "f4": rng.randn(5).astype(np.float32),
        "f2": rng.randn(2, 3).astype(np.float16),
        "i8": np.arange(-6, 6, dtype=np.int64).reshape(3, 4),
        "i4": np.arange(10, dtype=np.int32),
        "i2": np.array([-1, 2, -3], dtype=np.int16),
        "i1": np.array([-128, 0, 127], dtype=np.int8),
        "u1": np.arange(250, 256, dtype=np.uint8),
        "bool": np.array([[True, False], [False, True]]),
        "c8": (rng.randn(3) + 1j * rng.randn(3)).astype(np.complex64),
        "c16": rng.randn(2) + 1j * rng.randn(2),
        "zero_d": np.array(2.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "fortran": np.asfortranarray(rng.randn(3, 4)),
        "fortran3": np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2, 3, 4)),
        "big_endian": np.arange(6, dtype=">f4").reshape(2, 3),
        "big_fortran": np.asfortranarray(np.arange(6, dtype=">i8").reshape(3, 2)),
        "strided": np.arange(20.0)[::3],
        "objects": np.array(["a", 1, None], dtype=object),
        "strings": np.array(["ab", "c"]),
    }
    big = gen.Reduce(np.core.multiarray.scalar, (np.dtype(">f4"), np.array(2.75, ">f4").tobytes()))
    keyed = {np.int64(3): "three"}
    return {"scalars": scalars, "arrays": arrays, "big_scalar": big, "keyed": keyed,
            "weights": torch.arange(4, dtype=torch.float32)}


def numpy_fixtures():
    obj = numpy_values()
    expected = contents(obj)
    expected["scalars"]["big_scalar"] = {"dtype": "F32", "hex": np.array(2.75, "<f4").tobytes().hex()}
    del expected["other"]["big_scalar"]
    modes = {"default": "ok", "allow_objects": "ok", "strict": "numpy.core.multiarray.scalar"}
    refused = ["numpy.core.multiarray.scalar", "numpy.dtype", "numpy.core.multiarray._reconstruct",
               "numpy.ndarray", "__builtin__.bytes"]
    torch.save(obj, path("numpy_values.pt"))
    record("numpy_values.pt", obj, "zip", modes, refused, expected=expected)
    gen_save_legacy(obj, "numpy_values_legacy.pt")
    record("numpy_values_legacy.pt", obj, "legacy", modes, refused, expected=expected)

    # Unsigned arrays wider than a byte: tensors of torch 2.x's U16, U32, U64
    # (which the .pt writer of torch 1.13's layout and ptport's JSON cannot hold).
    unsigned = {"u2": np.array([0, 65535], dtype=np.uint16),
                "u4": np.array([1, 2**32 - 1], dtype=np.uint32),
                "u8": np.array([2**64 - 1, 3], dtype=">u8")}
    torch.save(unsigned, path("numpy_unsigned.pt"))
    record("numpy_unsigned.pt", unsigned, "zip",
           {"default": "ok", "allow_objects": "ok", "strict": "numpy.core.multiarray._reconstruct"},
           ["numpy.core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype"])

    # Protocol 5: numpy pickles arrays as numpy.core.numeric._frombuffer of an
    # in-band PickleBuffer (BYTEARRAY8).
    arrays = {k: v for k, v in obj["arrays"].items() if v.dtype.kind not in "OUS"}
    torch.save(arrays, path("numpy_protocol5.pt"), pickle_protocol=5)
    assert b"_frombuffer" in gen_pickle_of("numpy_protocol5.pt")
    record("numpy_protocol5.pt", arrays, "zip",
           {"default": "ok", "allow_objects": "ok", "strict": "opcode FRAME"},
           ["numpy.core.numeric._frombuffer", "numpy.dtype", "numpy.core.multiarray._reconstruct",
            "numpy.ndarray"])

    # numpy 2: the same pickle with numpy._core for numpy.core, and a dtype class.
    class Float64DType:  # pickled by reference as numpy 2 names it
        pass

    Float64DType.__module__, Float64DType.__qualname__ = "numpy.dtypes", "Float64DType"
    sys.modules["numpy.dtypes"] = types.SimpleNamespace(Float64DType=Float64DType)
    obj2 = dict(obj, dtype_class=Float64DType)
    prefix, records, _ = gen.save_zip(obj2, "numpy2.pt")
    del sys.modules["numpy.dtypes"]
    recs = []
    for key, data in records:
        if key == "data.pkl":
            assert b"cnumpy.core.multiarray\n" in data
            data = data.replace(b"cnumpy.core.multiarray\n", b"cnumpy._core.multiarray\n")
            assert b"numpy.core" not in data
        recs.append((key, data))
    gen.write_torch_zip(os.path.join("content", "numpy2.pt"), recs)
    expected2 = json.loads(json.dumps(expected))
    expected2["other"]["dtype_class"] = "global:numpy.dtypes.Float64DType"
    record("numpy2.pt", obj2, "zip",
           {"default": "ok", "allow_objects": "ok", "strict": "numpy._core.multiarray.scalar"},
           ["numpy._core.multiarray.scalar", "numpy.dtype", "numpy._core.multiarray._reconstruct",
            "numpy.ndarray", "numpy.dtypes.Float64DType", "__builtin__.bytes"],
           loaded=False, expected=expected2)


# ---------------------------------------------------------------------------
# Instances of classes ptport does not know, and calls.


class Config:
    """A user class pickled as an instance: cls.__new__(cls), then BUILD."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


class Slots:
    __slots__ = ("alpha", "beta")

    def __init__(self, alpha, beta):
        self.alpha, self.beta = alpha, beta


class AttributeDict(dict):
    """A dict subclass (as Lightning's AttributeDict): items and attributes."""


class History(list):
    """A list subclass."""


Point = collections.namedtuple("Point", ["x", "y"])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 4)
        self.head = nn.Linear(4, 2)
        self.register_buffer("steps", torch.tensor(5))


def make_config(n):
    return {"n": n}


def object_values():
    gen.seed(50)
    d = AttributeDict(lr=0.01, weight=torch.randn(2, 2))
    d.tag = "v1"
    return {
        "args": argparse.Namespace(lr=0.1, layers=[1, 2], name="run"),
        "path": pathlib.PosixPath("/data/train.txt"),
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "config": Config(hidden=8, scale=torch.ones(3), inner=Config(depth=2)),
        "slots": Slots(1.5, torch.zeros(2)),
        "hparams": d,
        "history": History([0.5, torch.full((2,), 3.0)]),
        "point": Point(torch.ones(1), 2),
        "model": gen.canonical_names(Net()),
        "counter": collections.Counter({"a": 2}),
        "classes": {"optimizer_type": torch.optim.Adam, "dtype": torch.float16},
    }


def object_fixtures():
    obj = object_values()
    modes = {"default": "ok", "allow_objects": "ok", "strict": "argparse.Namespace"}
    refused = ["__main__.AttributeDict", "__main__.Config", "__main__.History", "__main__.Net",
               "__main__.Point", "__main__.Slots", "argparse.Namespace", "pathlib.PosixPath",
               "datetime.datetime", "torch.nn.modules.rnn.LSTM", "torch.nn.modules.linear.Linear",
               "torch.optim.adam.Adam"]
    torch.save(obj, path("objects.pt"))
    record("objects.pt", obj, "zip", modes, refused)
    # Protocol 1: instances through copyreg._reconstructor(cls, base, state)
    # (protocol 1 cannot pickle a class with __slots__ and no __getstate__).
    obj1 = {k: v for k, v in obj.items() if k != "slots"}
    gen_save_legacy(obj1, "objects_proto1.pt", protocol=1)
    # weights_only runs no protocol 1 opcode: the magic number is a LONG.
    record("objects_proto1.pt", obj1, "legacy", dict(modes, strict="opcode LONG"))

    # Calls of user code: refused unless AllowObjects, which keeps a record.
    calls = {"weight": torch.ones(2), "made": gen.Reduce(make_config, (3,)),
             "built": gen.Reduce(Config, ())}
    torch.save(calls, path("calls.pt"))
    expected = {"tensors": {"weight": gen.describe(torch.ones(2))},
                "values": {"made.__call__": "__main__.make_config", "made.0": 3,
                           "built.__call__": "__main__.Config"},
                "scalars": {}, "other": {}}
    record("calls.pt", calls, "zip",
           {"default": "refusing to call __main__.make_config",
            "allow_objects": "ok", "strict": "__main__.make_config"},
           ["__main__.make_config", "__main__.Config"], loaded=False, expected=expected)


# ---------------------------------------------------------------------------
# Python 2 pickles (torch <= 0.4 ran on Python 2).


class _ThnnBackend:
    """A module's _backend as torch <= 0.4 pickled it."""

    def __reduce__(self):
        return (torch.nn.backends.thnn._get_thnn_function_backend, ())


class Py2Pickler(pickle._Pickler):
    """Pickles as Python 2.7 did: str as SHORT_BINSTRING or BINSTRING, and
    OrderedDict as OrderedDict([[key, value], ...]) with its attributes."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2str(self, obj):
        data = obj.encode("utf-8")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2str

    def reducer_override(self, obj):
        if type(obj) is collections.OrderedDict:
            items = [[k, v] for k, v in obj.items()]
            attrs = {k: v for k, v in vars(obj).items()}
            return (collections.OrderedDict, (items,), attrs or None)
        return NotImplemented


_storage_pickle_module = gen.storage_pickle_module


def py2_pickle_module(transform=None):
    module = _storage_pickle_module(transform or (lambda pid: pid))
    base = module.Pickler

    class Pickler(Py2Pickler):
        persistent_id = base.persistent_id

    def dump(o, f, protocol):
        Pickler(f, protocol=protocol).dump(o)

    module.Pickler, module.dump = Pickler, dump
    return module


def py2_fixtures():
    gen.seed(60)
    m = gen.canonical_names(nn.Sequential(nn.Linear(3, 4), nn.LSTM(4, 2)))
    sd = m.state_dict()
    save_py2(sd, "py2_state_dict.pt")
    data = open(path("py2_state_dict.pt"), "rb").read()
    assert b"ccollections\nOrderedDict\n" in data and b"U\x080.weight" in data
    record("py2_state_dict.pt", sd, "legacy", {"default": "ok", "allow_objects": "ok", "strict": "ok"}, [])

    # A whole module as torch 0.3 pickled it: each module's _backend is a call of
    # torch.nn.backends.thnn._get_thnn_function_backend, the cuDNN weight buffer an
    # Unserializable placeholder.
    gen.seed(61)
    m = gen.canonical_names(nn.Sequential(nn.Linear(3, 4), nn.GRU(4, 2)))
    for sub in m.modules():
        sub._backend = _ThnnBackend()
    m[1]._data_ptrs = torch.backends.cudnn.rnn.Unserializable(None)
    save_py2(m, "py2_module.pt")
    data = open(path("py2_module.pt"), "rb").read()
    assert b"_get_thnn_function_backend" in data and b"Unserializable" in data
    record("py2_module.pt", m, "legacy",
           {"default": "ok", "allow_objects": "ok", "strict": "torch.nn.modules.container.Sequential"})


def save_py2(obj, name):
    """torch.save in the legacy format through the Python 2 pickler."""
    gen_save_legacy(obj, name, module=py2_pickle_module)


# ---------------------------------------------------------------------------
# Tensors as dict keys (optimizer state keyed by parameter, as OpenNMT saves).


def tensor_key_fixtures():
    gen.seed(70)
    model = nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    w, b = model.weight, model.bias
    obj = {
        "model": model.state_dict(),
        "optim": opt,
        "by_tensor": {b: "bias", w: "weight"},
        "tuple_key": {(w, 1): torch.zeros(1)},
    }
    gen_save_legacy(obj, "tensor_keys.pt")
    record("tensor_keys.pt", obj, "legacy",
           {"default": "ok", "allow_objects": "ok", "strict": "torch.optim.adam.Adam"},
           ["torch.optim.adam.Adam", "collections.defaultdict", "__builtin__.dict"])

    # Keys that print alike: refused by Leaves rather than merged.
    torch.save({1: torch.ones(1), "1": torch.zeros(1)}, path("key_collision.pt"))
    MANIFEST["key_collision.pt"] = {"format": "zip", "leaves_error": "two leaves have this name",
                                    "torch_weights_only": weights_only_113("key_collision.pt"),
                                    "modes": {"default": "ok", "allow_objects": "ok", "strict": "ok"}}


# ---------------------------------------------------------------------------


def gen_pickle_of(name):
    with zipfile.ZipFile(path(name)) as z:
        return z.read([n for n in z.namelist() if n.endswith("/data.pkl")][0])


def gen_save_legacy(obj, name, protocol=2, module=None):
    """gen.save_legacy into content/, optionally through another pickle module."""
    target = os.path.join("content", name)
    if module is None:
        return gen.save_legacy(obj, target, protocol=protocol)
    saved = gen.storage_pickle_module
    try:
        gen.storage_pickle_module = lambda transform: module(transform)
        return gen.save_legacy(obj, target, protocol=protocol)
    finally:
        gen.storage_pickle_module = saved


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    assert torch.__version__.startswith("1.13"), torch.__version__
    assert np.__version__.startswith("1.24"), np.__version__
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.remove(path(name))
    numpy_fixtures()
    object_fixtures()
    py2_fixtures()
    tensor_key_fixtures()
    names = sorted(n for n in os.listdir(OUT) if n.endswith(".pt"))
    assert names == sorted(MANIFEST), set(names) ^ set(MANIFEST)
    with open(path("MANIFEST.json"), "w") as f:
        f.write(json.dumps(MANIFEST, indent=1, sort_keys=True, ensure_ascii=False))
    print(f"{len(names)} fixtures, {sum(os.path.getsize(path(n)) for n in names)} bytes")


if __name__ == "__main__":
    main()
