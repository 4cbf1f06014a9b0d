#!/usr/bin/env python3
"""Writes the fixtures of what torch 2.x writes, and TorchScript archives, with MANIFEST.json.

Run with Debian's PyTorch 1.13:

    /usr/bin/python3 testdata/pickle/torch2/gen.py

torch 1.13 writes what it can itself: quantized tensors, sparse COO and CSR tensors, meta
tensors, and TorchScript archives of scripted and traced modules (torch.jit.script,
torch.jit.trace, torch.jit.save), each loaded back with torch.load or torch.jit.load to
check its manifest entry.

What only torch 2.x writes is built here by torch 1.13's own torch.save, following the
rules of torch 2.x's torch/_tensor.py (Tensor._reduce_ex_internal), torch/_utils.py (the
_rebuild_* functions) and torch/serialization.py (the persistent ids of storages):

- dtypes of torch.storage._new_dtypes() (float8_*, float4_e2m1fn_x2, uint16/32/64,
  complex32, bits*) are pickled as torch._utils._rebuild_tensor_v3(storage, offset, size,
  stride, requires_grad, OrderedDict(), dtype) over an UntypedStorage, whose persistent id
  is ('storage', torch.storage.UntypedStorage, key, 'cpu', nbytes); several dtypes view one
  storage. torch 1.13 has neither these dtypes nor _rebuild_tensor_v3, so stand-ins named
  as torch 2.x names them are installed in the torch module while pickling.
- tensors with the lazy conjugate or negative bit get the metadata torch 2.x appends,
  {'conj': True} / {'neg': True}, after the arguments of _rebuild_tensor_v2 (and v3).
- sparse CSR, CSC, BSR and BSC tensors are pickled as torch 2.x's
  _rebuild_sparse_tensor(layout, (compressed_indices, plain_indices, values, size)), and
  COO as _rebuild_sparse_tensor(layout, (indices, values, size, is_coalesced)), the size a
  torch.Size.

These files are also the byte layout ptport's writer must reproduce (its tests and
scripts/check_pt_writer.py compare the records).
- nested tensors are pickled as _rebuild_nested_tensor(buffer, sizes, strides,
  storage_offsets).
- records with CRC-32 of 0, as torch 2.x writes after
  torch.serialization.set_crc32_options(False): a torch.save file whose CRC fields (local
  headers and central directory) are rewritten to 0.

torch 1.13 cannot load these; their expected values are computed here with torch and
numpy: conjugation and negation with torch's conj/resolve_conj and neg, the values of
8-bit floats by decoding every code with numpy from the formats torch's
c10/util/Float8_*.h define.

MANIFEST.json: {file: {"format", "tensors": {name: {"dtype", "shape", "sha256"
[, "float64_sha256"] [, "no_data": true]}}, "values": {name: value} [, "qschemes": {name:
qscheme}] [, "coalesced": {key: is_coalesced()}] [, "bits": {name: the lazy bits set}]
[, "class": the TorchScript class of an archive's root module]}} or {file: {"error":
substring}}. sha256 is of the C-contiguous little-endian bytes ptport's
Tensor.Bytes returns; float64_sha256 of the values as float64 (Tensor.Float64s); a
no_data tensor has a shape and no data (a meta tensor).
"""

import collections
import hashlib
import io
import json
import math
import os
import struct
import sys
import warnings
import zipfile

import numpy as np
import torch
import torch.nn as nn

OUT = os.path.dirname(os.path.abspath(__file__))
MANIFEST = {}

DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64", torch.complex128: "C128",
    torch.qint8: "I8", torch.quint8: "U8", torch.qint32: "I32",
}


def path(name):
    return os.path.join(OUT, name)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def tensor_bytes(t):
    t = t.detach()
    if t.is_quantized:
        t = t.int_repr()
    t = t.resolve_conj().resolve_neg().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def describe(t):
    return {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "sha256": sha(tensor_bytes(t))}


def describe_raw(dtype, shape, data, values=None):
    d = {"dtype": dtype, "shape": list(shape), "sha256": sha(data)}
    if values is not None:
        d["float64_sha256"] = sha(np.asarray(values, dtype="<f8").tobytes())
    return d


class Reduce:
    """An object that pickles as the call fn(*args)."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


class StandIn:
    """A torch 2.x global that torch 1.13 lacks: pickles as GLOBAL module.name."""

    def __init__(self, module, name):
        self.__module__, self.__qualname__, self.__name__ = module, name, name
        mod = sys.modules[module]
        setattr(mod, name, self)

    def __reduce__(self):
        return self.__name__

    def __call__(self, *args):
        raise RuntimeError(f"{self.__name__} is a stand-in for pickling only")


def save(obj, name):
    with open(path(name), "wb") as f:
        torch.save(obj, f)


def load(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(path(name))


def untyped(data):
    """An UntypedStorage holding data."""
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).storage().untyped()


def hooks():
    return collections.OrderedDict()


# ---------------------------------------------------------------------------
# 8-bit floats, decoded from their definitions (torch's c10/util/Float8_*.h).

def float8_values(fmt):
    codes = np.arange(256, dtype=np.int64)
    sign = np.where(codes & 0x80, -1.0, 1.0)
    if fmt == "e8m0fnu":
        v = np.ldexp(1.0, (codes - 127).astype(np.int32))
        return np.where(codes == 0xFF, np.nan, v)
    ebits, mbits, bias = {"e4m3fn": (4, 3, 7), "e5m2": (5, 2, 15),
                          "e4m3fnuz": (4, 3, 8), "e5m2fnuz": (5, 2, 16)}[fmt]
    e = (codes >> mbits) & ((1 << ebits) - 1)
    m = codes & ((1 << mbits) - 1)
    normal = np.ldexp((m | (1 << mbits)).astype(np.float64), (e - bias - mbits).astype(np.int32))
    sub = np.ldexp(m.astype(np.float64), np.full(256, 1 - bias - mbits, dtype=np.int32))
    v = sign * np.where(e == 0, sub, normal)
    if fmt == "e4m3fn":
        v = np.where((e == 15) & (m == 7), np.nan, v)
    elif fmt == "e5m2":
        v = np.where(e == 31, np.where(m == 0, sign * np.inf, np.nan), v)
    else:  # fnuz: 0x80 is the only NaN; no infinities, no -0
        v = np.where(codes == 0x80, np.nan, v)
    return v


def dtype_fixtures():
    """torch 2.x's dtypes through _rebuild_tensor_v3 over UntypedStorage."""
    v3 = StandIn("torch._utils", "_rebuild_tensor_v3")
    names = ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
             "float8_e8m0fnu", "float4_e2m1fn_x2", "uint16", "uint32", "uint64", "complex32",
             "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2"]
    dt = {n: StandIn("torch", n) for n in names}
    rng = np.random.RandomState(0)
    obj, tensors = {}, {}

    def view(name, storage_bytes, st, dtype, offset, shape, stride, esize, out_dtype, values=None):
        # Fresh size and stride tuples, as tuple(self.size()) and self.stride() are for
        # each tensor torch 2.x pickles (the pickle memo shares none of them).
        obj[name] = Reduce(v3, (st, offset, tuple(list(shape)), tuple(list(stride)), False, hooks(), dt[dtype]))
        # The view's elements in C order, read from the storage's bytes.
        idx = np.zeros(shape, dtype=np.int64) + offset
        for k, (n, s) in enumerate(zip(shape, stride)):
            shp = [1] * len(shape)
            shp[k] = n
            idx = idx + (np.arange(n) * s).reshape(shp)
        raw = np.frombuffer(storage_bytes, dtype=np.uint8).reshape(-1, esize)[idx.reshape(-1)]
        data = raw.tobytes()
        vals = None
        if values is not None:
            vals = values(raw)
        tensors[name] = describe_raw(out_dtype, shape, data, vals)

    # Every code of every 8-bit float, one storage each, shaped 16x16.
    codes = bytes(range(256))
    for fmt, out in [("e4m3fn", "F8_E4M3"), ("e5m2", "F8_E5M2"), ("e4m3fnuz", "F8_E4M3FNUZ"),
                     ("e5m2fnuz", "F8_E5M2FNUZ"), ("e8m0fnu", "F8_E8M0")]:
        table = float8_values(fmt)
        view(f"float8_{fmt}", codes, untyped(codes), f"float8_{fmt}", 0, (16, 16), (16, 1), 1, out,
             lambda raw, t=table: t[raw.reshape(-1)])
    # One storage of 64 bytes, seen as several dtypes at once.
    shared = rng.randint(0, 256, 64).astype(np.uint8).tobytes()
    st = untyped(shared)
    le = lambda raw, t: np.frombuffer(raw.tobytes(), dtype=t).astype(np.float64)
    view("shared.uint16", shared, st, "uint16", 4, (3, 4), (4, 1), 2, "U16", lambda r: le(r, "<u2"))
    view("shared.uint32_t", shared, st, "uint32", 2, (3, 2), (1, 3), 4, "U32", lambda r: le(r, "<u4"))
    view("shared.uint64", shared, st, "uint64", 1, (4,), (1,), 8, "U64", lambda r: le(r, "<u8"))
    view("shared.float8_e4m3fn", shared, st, "float8_e4m3fn", 40, (2, 8), (8, 1), 1, "F8_E4M3",
         lambda r: float8_values("e4m3fn")[r.reshape(-1)])
    view("shared.float4_e2m1fn_x2", shared, st, "float4_e2m1fn_x2", 56, (2, 4), (4, 1), 1, "F4")
    view("shared.complex32", shared, st, "complex32", 0, (2, 3), (3, 1), 4, "C32")
    view("shared.bits8", shared, st, "bits8", 0, (8,), (1,), 1, "BITS8")
    view("shared.bits16", shared, st, "bits16", 8, (4,), (2,), 2, "BITS16")
    view("shared.bits1x8", shared, st, "bits1x8", 3, (5,), (1,), 1, "BITS1X8")
    view("shared.bits2x4", shared, st, "bits2x4", 7, (5,), (1,), 1, "BITS2X4")
    view("shared.bits4x2", shared, st, "bits4x2", 11, (5,), (1,), 1, "BITS4X2")
    # Integers beyond int64 and float64's 2^53.
    big = np.array([0, 1, 65535, 2**32 - 1, 2**53 + 1, 2**63, 2**64 - 1], dtype="<u8").tobytes()
    view("uint64_extremes", big, untyped(big), "uint64", 0, (7,), (1,), 8, "U64", lambda r: le(r, "<u8"))
    save(obj, "dtypes_v3.pt")
    MANIFEST["dtypes_v3.pt"] = {"format": "zip", "tensors": tensors, "values": {}}
    # A complex32 tensor with the conjugate bit, and one with the negative bit.
    half = np.array([1.5, -2.0, 0.0, -0.0, np.inf, 65504.0], dtype="<f2").tobytes()
    c32 = {
        "conj": Reduce(v3, (untyped(half), 0, (3,), (1,), False, hooks(), dt["complex32"], {"conj": True})),
        "neg": Reduce(v3, (untyped(half), 0, (3,), (1,), False, hooks(), dt["complex32"], {"neg": True})),
    }
    save(c32, "complex32_bits.pt")
    parts = np.frombuffer(half, dtype="<f2").reshape(3, 2)
    conj = parts * np.array([1, -1], dtype="<f2")
    MANIFEST["complex32_bits.pt"] = {"format": "zip", "values": {}, "tensors": {
        "conj": describe_raw("C32", (3,), conj.astype("<f2").tobytes()),
        "neg": describe_raw("C32", (3,), (-parts).astype("<f2").tobytes()),
    }}
    for n in names:
        delattr(torch, n)
    delattr(torch._utils, "_rebuild_tensor_v3")


def float_specials(dtype):
    fi = torch.finfo(dtype)
    vals = [0.0, -0.0, 1.0, -2.5, math.inf, -math.inf, math.nan, fi.max, fi.min, fi.tiny,
            fi.tiny * fi.eps, 0.1]
    return torch.tensor(vals, dtype=torch.float64).to(dtype)


def lazy_bit_fixtures():
    """Tensors with torch's lazy conjugate and negative bits, as torch 2.x pickles them."""
    torch.manual_seed(1)
    obj, expected, bits = {}, {}, {}

    def lazy(name, base, view, meta, want):
        st = base.storage()
        args = (st, view.storage_offset(), tuple(view.shape), view.stride(), False, hooks(), meta)
        obj[name] = Reduce(torch._utils._rebuild_tensor_v2, args)
        expected[name] = want
        bits[name] = sorted(k for k, v in meta.items() if v)

    c64 = torch.complex(float_specials(torch.float32), torch.randn(12))
    c128 = torch.randn(3, 4, dtype=torch.complex128)
    lazy("conj_c64", c64, c64, {"conj": True}, c64.conj())
    lazy("conj_c128_t", c128, c128.t(), {"conj": True}, c128.t().conj())
    lazy("neg_c128", c128, c128, {"neg": True}, torch._neg_view(c128))
    lazy("conj_neg_c64", c64, c64[2:10:2], {"conj": True, "neg": True}, torch._neg_view(c64[2:10:2].conj()))
    lazy("not_conj", c64, c64, {"conj": False}, c64)
    for dt in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
        x = float_specials(dt)
        lazy(f"neg_{DTYPES[dt].lower()}", x, x, {"neg": True}, torch._neg_view(x))
    for dt in (torch.int64, torch.int32, torch.int16, torch.int8):
        ii = torch.iinfo(dt)
        x = torch.tensor([ii.min, ii.max, 0, -1, 1, 7], dtype=dt)
        lazy(f"neg_{DTYPES[dt].lower()}", x, x.view(2, 3).t(), {"neg": True}, torch._neg_view(x.view(2, 3).t()))
    save(obj, "lazy_bits.pt")
    MANIFEST["lazy_bits.pt"] = {"format": "zip", "values": {}, "bits": bits,
                                "tensors": {k: describe(v) for k, v in expected.items()}}
    # torch 1.13 ignores the metadata argument it does not know; nothing to load here.

    # The conjugate bit on a real tensor, which torch refuses.
    x = torch.ones(3)
    save({"x": Reduce(torch._utils._rebuild_tensor_v2, (x.storage(), 0, (3,), (1,), False, hooks(), {"conj": True}))},
         "conj_real.pt")
    MANIFEST["conj_real.pt"] = {"error": "conjugate bit is set on a F32 tensor"}
    save({"x": Reduce(torch._utils._rebuild_tensor_v2, (x.storage(), 0, (3,), (1,), False, hooks(), {"zero": True}))},
         "unknown_bit.pt")
    MANIFEST["unknown_bit.pt"] = {"error": "unsupported tensor metadata \"zero\""}


def zero_crc(data):
    """Rewrites every CRC-32 of a zip (local headers and central directory) to 0."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            off = info.header_offset
            assert out[off:off + 4] == b"PK\x03\x04"
            out[off + 14:off + 18] = b"\0\0\0\0"
    i = 0
    while True:
        i = out.find(b"PK\x01\x02", i)
        if i < 0:
            break
        out[i + 16:i + 20] = b"\0\0\0\0"
        i += 4
    return bytes(out)


def crc_fixtures():
    torch.manual_seed(2)
    obj = {"weight": torch.randn(4, 3), "bias": torch.randn(4), "step": 3}
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = zero_crc(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert all(i.CRC == 0 for i in z.infolist())
    with open(path("crc0.pt"), "wb") as f:
        f.write(data)
    # torch's reader never checks CRCs (its miniz is built with
    # MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS), so torch 1.13 reads this file too.
    got = load("crc0.pt")
    assert torch.equal(got["weight"], obj["weight"]) and got["step"] == 3
    MANIFEST["crc0.pt"] = {"format": "zip", "values": {"step": 3},
                           "tensors": {k: describe(obj[k]) for k in ("weight", "bias")}}
    # A CRC that is not 0 still has to match: one byte of data.pkl changed.
    bad = bytearray(buf.getvalue())
    pos = bad.find(b"weight")
    bad[pos] = ord("W")
    with open(path("crc_mismatch.pt"), "wb") as f:
        f.write(bytes(bad))
    MANIFEST["crc_mismatch.pt"] = {"error": "CRC-32 mismatch"}


def quantized_fixtures():
    torch.manual_seed(3)
    x = torch.randn(4, 6)
    qt8 = torch.quantize_per_tensor(x, 0.05, 3, torch.qint8)
    qu8 = torch.quantize_per_tensor(x, 0.02, 128, torch.quint8)
    q32 = torch.quantize_per_tensor(x, 0.001, -7, torch.qint32)
    scales = torch.tensor([0.1, 0.05, 0.02, 0.2], dtype=torch.float64)
    zps = torch.tensor([0, 1, -2, 3], dtype=torch.int64)
    pc = torch.quantize_per_channel(x, scales, zps, 0, torch.qint8)
    pc1 = torch.quantize_per_channel(x, torch.linspace(0.01, 0.06, 6, dtype=torch.float64),
                                     torch.zeros(6, dtype=torch.int64), 1, torch.quint8)
    # per_channel_affine_float_qparams (float zero points), which torch.save writes with
    # the qscheme per_channel_affine and torch.load rebuilds from the zero points' dtype.
    fq = torch.quantize_per_channel(x, torch.tensor([0.1, 0.2, 0.05, 0.4]), torch.tensor([0.5, 1.0, -1.0, 2.0]),
                                    0, torch.quint8)
    assert fq.qscheme() == torch.per_channel_affine_float_qparams
    lin = torch.nn.quantized.Linear(6, 4)
    lin.set_weight_bias(torch.quantize_per_tensor(torch.randn(4, 6), 0.03, 0, torch.qint8), torch.randn(4))
    obj = {"per_tensor_qint8": qt8, "per_tensor_quint8": qu8, "per_tensor_qint32": q32,
           "per_channel_axis0": pc, "per_channel_axis1": pc1, "per_tensor_t": qt8.t(), "float": x,
           "per_channel_float_qparams": fq,
           "linear": lin.state_dict()}
    save(obj, "quantized.pt")
    got = load("quantized.pt")
    tensors, values, qschemes = {}, {}, {}

    def add(name, t):
        if t.is_quantized:
            tensors[name] = describe(t)
            qschemes[name] = str(t.qscheme()).replace("torch.", "")
            if t.qscheme() == torch.per_tensor_affine:
                values[name + ".scale"] = t.q_scale()
                values[name + ".zero_point"] = t.q_zero_point()
            else:
                tensors[name + ".scale"] = describe(t.q_per_channel_scales())
                tensors[name + ".zero_point"] = describe(t.q_per_channel_zero_points())
                values[name + ".axis"] = t.q_per_channel_axis()
        else:
            tensors[name] = describe(t)

    for k, v in got.items():
        if k == "linear":
            for kk, vv in v.items():
                name = "linear." + kk
                if isinstance(vv, torch.Tensor):
                    add(name, vv)
                elif isinstance(vv, torch.dtype):
                    values[name] = str(vv)
                elif isinstance(vv, tuple):
                    for i, t in enumerate(vv):
                        add(f"{name}.{i}", t)
        else:
            add(k, v)
    assert got["per_channel_axis1"].q_per_channel_axis() == 1
    assert got["per_channel_float_qparams"].qscheme() == torch.per_channel_affine_float_qparams
    MANIFEST["quantized.pt"] = {"format": "zip", "tensors": tensors, "values": values, "qschemes": qschemes}


def sparse_fixtures():
    torch.manual_seed(4)
    dense = torch.randn(4, 6) * (torch.rand(4, 6) > 0.6)
    coo = dense.to_sparse()
    hybrid = torch.randn(5, 3, 2).to_sparse(2)  # 2 sparse dims, 1 dense dim
    csr = dense.to_sparse_csr()
    obj = {"coo": coo, "hybrid": hybrid, "csr": csr, "dense": dense}
    save(obj, "sparse.pt")
    got = load("sparse.pt")
    assert torch.equal(got["coo"].to_dense(), dense) and torch.equal(got["csr"].to_dense(), dense)
    tensors, values, coalesced = {"dense": describe(dense)}, {}, {}

    def sparse(name, t, layout):
        values[name + ".layout"] = layout
        if layout == "sparse_coo":
            coalesced[name] = t.is_coalesced()
        for i, d in enumerate(t.shape):
            values[f"{name}.size.{i}"] = d
        if layout == "sparse_coo":
            tensors[name + ".indices"] = describe(t._indices())
            tensors[name + ".values"] = describe(t._values())
        else:
            cn, pn = ("ccol_indices", "row_indices") if layout in ("sparse_csc", "sparse_bsc") else ("crow_indices", "col_indices")
            c, p = (t.ccol_indices(), t.row_indices()) if cn == "ccol_indices" else (t.crow_indices(), t.col_indices())
            tensors[f"{name}.{cn}"] = describe(c)
            tensors[f"{name}.{pn}"] = describe(p)
            tensors[name + ".values"] = describe(t.values())

    sparse("coo", got["coo"], "sparse_coo")
    sparse("hybrid", got["hybrid"], "sparse_coo")
    sparse("csr", got["csr"], "sparse_csr")
    # torch 1.13 records no is_coalesced: what it loads is not known to be coalesced.
    assert coalesced == {"coo": False, "hybrid": False}, coalesced
    MANIFEST["sparse.pt"] = {"format": "zip", "tensors": tensors, "values": values, "coalesced": coalesced}

    # torch 2.x's _rebuild_sparse_tensor(layout, data) for every compressed layout, the
    # size a torch.Size (Tensor.size()), as torch 2.x's _reduce_ex_internal writes them.
    csc = dense.to_sparse_csc()
    bsr = dense.to_sparse_bsr((2, 3))
    bsc = dense.to_sparse_bsc((2, 2))
    obj = {}
    for name, t, layout in [("csr", csr, torch.sparse_csr), ("csc", csc, torch.sparse_csc),
                            ("bsr", bsr, torch.sparse_bsr), ("bsc", bsc, torch.sparse_bsc)]:
        if layout in (torch.sparse_csc, torch.sparse_bsc):
            data = (t.ccol_indices(), t.row_indices(), t.values(), t.size())
        else:
            data = (t.crow_indices(), t.col_indices(), t.values(), t.size())
        obj[name] = Reduce(torch._utils._rebuild_sparse_tensor, (layout, data))
    # and COO as torch 2.x writes it, with is_coalesced.
    assert coo.is_coalesced()
    obj["coo"] = Reduce(torch._utils._rebuild_sparse_tensor,
                        (torch.sparse_coo, (coo._indices(), coo._values(), coo.size(), coo.is_coalesced())))
    save(obj, "sparse_torch2.pt")
    tensors, values, coalesced = {}, {}, {}
    sparse("csr", csr, "sparse_csr")
    sparse("csc", csc, "sparse_csc")
    sparse("bsr", bsr, "sparse_bsr")
    sparse("bsc", bsc, "sparse_bsc")
    sparse("coo", coo, "sparse_coo")
    MANIFEST["sparse_torch2.pt"] = {"format": "zip", "tensors": tensors, "values": values, "coalesced": coalesced}


def nested_fixtures():
    """torch 2.x's _rebuild_nested_tensor(buffer, sizes, strides, storage_offsets)."""
    torch.manual_seed(5)
    a, b = torch.randn(2, 3), torch.randn(4, 3)
    buffer = torch.cat([a.reshape(-1), b.reshape(-1)])
    sizes = torch.tensor([[2, 3], [4, 3]])
    strides = torch.tensor([[3, 1], [3, 1]])
    offsets = torch.tensor([0, 6])
    nt = StandIn("torch._utils", "_rebuild_nested_tensor")
    save({"nested": Reduce(nt, (buffer, sizes, strides, offsets))}, "nested.pt")
    delattr(torch._utils, "_rebuild_nested_tensor")
    MANIFEST["nested.pt"] = {"format": "zip", "values": {}, "tensors": {
        "nested.values": describe(buffer), "nested.sizes": describe(sizes),
        "nested.strides": describe(strides), "nested.storage_offsets": describe(offsets)}}


def meta_fixtures():
    obj = {"weight": torch.empty(3, 4, device="meta"), "half": torch.empty(2, dtype=torch.float16, device="meta").expand(5, 2),
           "bias": torch.arange(4.0)}
    save(obj, "meta.pt")
    got = load("meta.pt")
    assert got["weight"].is_meta and got["half"].stride() == (0, 1)
    MANIFEST["meta.pt"] = {"format": "zip", "values": {}, "tensors": {
        "weight": {"dtype": "F32", "shape": [3, 4], "no_data": True},
        "half": {"dtype": "F16", "shape": [5, 2], "no_data": True},
        "bias": describe(obj["bias"])}}


# ---------------------------------------------------------------------------
# TorchScript archives.


def script_state(name):
    m = torch.jit.load(path(name))
    return {k: describe(v) for k, v in m.state_dict().items()}


def script_class(name):
    """The TorchScript class of an archive's root module."""
    return torch.jit.load(path(name))._c._type().qualified_name()


def reference(model, name, x, state=None):
    """The reference tensors of a recurrent module, as check reads them."""
    with torch.no_grad():
        out = model(x) if state is None else model(x, state)
    y, hn = out
    ref = {"input": x, "output": y}
    if isinstance(hn, tuple):
        ref["h_n"], ref["c_n"] = hn
    else:
        ref["h_n"] = hn
    if state is not None:
        if isinstance(state, tuple):
            ref["h0"], ref["c0"] = state
        else:
            ref["h0"] = state
    torch.save(ref, path(name))


def torchscript_fixtures():
    cases = [
        ("script_lstm.pt", "script", lambda: nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True), (2, 7, 3)),
        ("script_rnn_relu.pt", "script", lambda: nn.RNN(4, 6, nonlinearity="relu"), (5, 2, 4)),
        ("script_gru.pt", "script", lambda: nn.GRU(3, 4, num_layers=2, bias=False), (6, 1, 3)),
        ("trace_lstm.pt", "trace", lambda: nn.LSTM(3, 4, proj_size=2), (5, 2, 3)),
        ("trace_gru.pt", "trace", lambda: nn.GRU(2, 3, batch_first=True, bidirectional=True), (2, 4, 2)),
        ("trace_rnn.pt", "trace", lambda: nn.RNN(3, 3, num_layers=3), (4, 3, 3)),
    ]
    for i, (name, how, make, shape) in enumerate(cases):
        torch.manual_seed(10 + i)
        m = make().eval()
        x = torch.randn(*shape)
        sm = torch.jit.script(m) if how == "script" else torch.jit.trace(m, x)
        torch.jit.save(sm, path(name))
        reference(m, name.replace(".pt", ".ref.pt"), x)
        loaded = torch.jit.load(path(name))
        for k, v in m.state_dict().items():
            assert torch.equal(loaded.state_dict()[k], v), k
        if how == "trace":
            with torch.no_grad():
                assert torch.equal(loaded(x)[0], m(x)[0])
        MANIFEST[name] = {"format": "torchscript", "values": {}, "tensors": script_state(name),
                          "class": script_class(name)}

    # A scripted module that holds a recurrent module and runs it.
    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(2, 3, batch_first=True)

        def forward(self, x):
            return self.rnn(x)

    torch.manual_seed(19)
    w = Wrapper().eval()
    x = torch.randn(2, 5, 2)
    torch.jit.save(torch.jit.script(w), path("script_wrapped_lstm.pt"))
    with torch.no_grad():
        assert torch.equal(torch.jit.load(path("script_wrapped_lstm.pt"))(x)[0], w(x)[0])
    reference(w, "script_wrapped_lstm.ref.pt", x)
    MANIFEST["script_wrapped_lstm.pt"] = {"format": "torchscript", "values": {}, "tensors": script_state("script_wrapped_lstm.pt"),
                                          "class": script_class("script_wrapped_lstm.pt")}

    # Modules within modules, a buffer, and a traced constant (constants.pkl).
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
            self.register_buffer("mean", torch.tensor([0.5, -0.5, 0.25]))

        def forward(self, x):
            return self.body(x - self.mean) + torch.tensor([1.5, -2.5])

    torch.manual_seed(20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = torch.jit.trace(Net(), torch.randn(2, 3))
    torch.jit.save(net, path("trace_net.pt"))
    with zipfile.ZipFile(path("trace_net.pt")) as z:
        assert any(n.endswith("/constants/0") for n in z.namelist())
    MANIFEST["trace_net.pt"] = {"format": "torchscript", "values": {}, "tensors": script_state("trace_net.pt"),
                                "constants": [describe(torch.tensor([1.5, -2.5]))], "class": script_class("trace_net.pt")}
    torch.manual_seed(21)
    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), path("script_linear.pt"))
    MANIFEST["script_linear.pt"] = {"format": "torchscript", "values": {}, "tensors": script_state("script_linear.pt"),
                                    "class": script_class("script_linear.pt")}

    # A scripted quantized module keeps its weights in a __getstate__ tuple.
    torch.manual_seed(22)
    q = torch.nn.quantized.Linear(3, 2)
    q.set_weight_bias(torch.quantize_per_tensor(torch.randn(2, 3), 0.02, 0, torch.qint8), torch.randn(2))
    torch.jit.save(torch.jit.script(q), path("script_quantized.pt"))
    MANIFEST["script_quantized.pt"] = {"error": "only its TorchScript code interprets"}


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    assert torch.__version__.startswith("1.13"), torch.__version__
    torch.set_num_threads(1)
    for name in os.listdir(OUT):
        if name.endswith(".pt") or name == "MANIFEST.json":
            os.remove(path(name))
    dtype_fixtures()
    lazy_bit_fixtures()
    crc_fixtures()
    quantized_fixtures()
    sparse_fixtures()
    nested_fixtures()
    meta_fixtures()
    torchscript_fixtures()
    names = sorted(n for n in os.listdir(OUT) if n.endswith(".pt") and not n.endswith(".ref.pt"))
    assert names == sorted(MANIFEST), set(names) ^ set(MANIFEST)
    with open(path("MANIFEST.json"), "w") as f:
        f.write(json.dumps(MANIFEST, indent=1, sort_keys=True))
    total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT) if n.endswith(".pt"))
    print(f"{len(names)} fixtures, {total} bytes")


if __name__ == "__main__":
    main()
