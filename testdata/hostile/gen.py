"""Hostile inputs: files that claim or imply far more work, memory or output than they hold.

Run from the repository root (any Python 3; torch is not needed to write them):

    /usr/bin/python3 testdata/hostile/gen.py [OUTDIR]

Each case is written as OUTDIR/NAME (default: this folder), gzip-compressed as NAME.gz
when the file is larger than 64 KiB, and listed in cases.json with the class of attack
it stands for and what it claims. PyTorch cannot be asked to write these files (its
pickler and zip writer never produce them), so they are assembled here byte by byte,
following the pickle opcodes of CPython's Lib/pickletools.py, torch.save's zip layout
(torch/serialization.py: records <archive>/data.pkl, data/<key>, version; persistent
ids ('storage', torch.<T>Storage, key, location, numel); tensors as
torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
OrderedDict())) and the tar layout of torch <= 0.1.10 (members storages, tensors,
pickle; torch/serialization.py's legacy_load).

scripts/hostile_torch.py loads every case with torch.load(weights_only=True) under a
time and memory limit and records what torch does in torch.json.
"""
import gzip
import io
import json
import os
import struct
import sys
import tarfile
import zlib

here = os.path.dirname(os.path.abspath(__file__))
out_dir = sys.argv[1] if len(sys.argv) > 1 else here
cases = []


# ---- pickles, opcode by opcode ----

class P:
    """A pickle assembled opcode by opcode (Lib/pickletools.py names)."""

    def __init__(self, proto=2):
        self.b = bytearray(b"\x80" + bytes([proto]))

    def op(self, *codes):
        for c in codes:
            self.b += c if isinstance(c, bytes) else bytes([c])
        return self

    def raw(self, data):
        self.b += data
        return self

    def global_(self, module, name):
        self.b += b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        return self

    def str_(self, s):
        data = s.encode("utf-8")
        self.b += b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE
        return self

    def int_(self, v):
        if 0 <= v < 256:
            self.b += b"K" + bytes([v])
        elif -(1 << 31) <= v < (1 << 31):
            self.b += b"J" + struct.pack("<i", v)
        else:
            self.b += b"\x8a\x08" + struct.pack("<q", v)
        return self

    def put(self, i):
        self.b += b"q" + bytes([i]) if i < 256 else b"r" + struct.pack("<I", i)
        return self

    def get(self, i):
        self.b += b"h" + bytes([i]) if i < 256 else b"j" + struct.pack("<I", i)
        return self

    def ints(self, vs):
        self.op(b"(")
        for v in vs:
            self.int_(v)
        return self.op(b"t")

    def ordered_dict(self):
        return self.global_("collections", "OrderedDict").op(b")", b"R")

    def storage(self, cls, key, numel):
        self.op(b"(").str_("storage").global_("torch", cls).str_(key).str_("cpu").int_(numel)
        return self.op(b"t", b"Q")

    def tensor(self, cls, key, numel, offset, shape, stride):
        self.global_("torch._utils", "_rebuild_tensor_v2").op(b"(")
        self.storage(cls, key, numel).int_(offset).ints(shape).ints(stride)
        return self.op(b"\x89").ordered_dict().op(b"t", b"R")

    def stop(self):
        return bytes(self.b + b".")


# ---- containers ----

def crc_of(chunks):
    crc = 0
    for c in chunks:
        crc = zlib.crc32(c, crc)
    return crc


class Zip:
    """A zip archive written entry by entry. Each central-directory entry may point at
    any local header, so that records can share their data."""

    def __init__(self):
        self.buf = bytearray()
        self.central = []

    def local(self, name, data, method=0, size=None, crc=None):
        """Writes a local header and data (already compressed when method is 8)."""
        off = len(self.buf)
        name_b = name.encode()
        if size is None:
            size = len(data)
        if crc is None:
            crc = zlib.crc32(data)
        self.buf += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc,
                                len(data), size, len(name_b), 0) + name_b + data
        return dict(off=off, method=method, crc=crc, csize=len(data), size=size)

    def entry(self, name, loc):
        """Adds a central-directory entry named name for the local header loc."""
        self.central.append((name, loc))

    def add(self, name, data, method=0):
        raw = data if method == 0 else deflate(data)
        self.entry(name, self.local(name, raw, method, size=len(data), crc=zlib.crc32(data)))

    def bytes(self):
        cd = bytearray()
        for name, loc in self.central:
            name_b = name.encode()
            cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, loc["method"], 0, 0x21,
                              loc["crc"], loc["csize"], loc["size"], len(name_b), 0, 0, 0, 0, 0,
                              loc["off"]) + name_b
        start = len(self.buf)
        eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(self.central), len(self.central),
                           len(cd), start, 0)
        return bytes(self.buf + cd + eocd)


def deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def deflated_zeros(n):
    """The raw deflate stream of n zero bytes, with its CRC-32, made in 1 MiB pieces."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    out, crc = [], 0
    for _ in range(n >> 20):
        out.append(c.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    out.append(c.flush())
    return b"".join(out), crc


def torch_zip(records, archive="archive"):
    """A zip checkpoint as torch.save lays it out (records stored unless deflated)."""
    z = Zip()
    for name, data, method in records:
        z.add(f"{archive}/{name}", data, method)
    z.add(f"{archive}/version", b"3\n")
    return z.bytes()


def write(name, data, section, klass, claim, reader="pickle"):
    """Writes a case, gzip-compressed when large, and lists it in cases.json. reader
    names the Go package whose tests read it."""
    file = name
    if len(data) > 64 << 10:
        file += ".gz"
        data = gzip.compress(data, 9, mtime=0)
    with open(os.path.join(out_dir, file), "wb") as f:
        f.write(data)
    cases.append(dict(name=name, file=file, section=section, klass=klass, claim=claim, reader=reader))


# ---- section 2: bounded work and memory ----

def laughs(p, levels, first_memo):
    """Pushes a list of t0 = (1,), tk = (tk-1, tk-1) for k = 1..levels, memoised from
    first_memo on: t_levels has 2^levels paths. (The list keeps the stack clean without
    POP, which torch 1.13's weights_only unpickler does not support.)"""
    p.op(b"]").int_(1).op(b"\x85").put(first_memo).op(b"a")
    for k in range(1, levels + 1):
        p.get(first_memo + k - 1).get(first_memo + k - 1).op(b"\x86").put(first_memo + k).op(b"a")
    return p


def with_junk(p, levels, first_memo):
    """On an OrderedDict on the stack: sets its attribute junk to the laughs list."""
    p.op(b"}").str_("junk")
    return laughs(p, levels, first_memo).op(b"s", b"b")


def key_laughs():
    # OrderedDict {t60: 1}: a key whose repr has 2^60 elements.
    p = P(2).ordered_dict().put(0)
    with_junk(p, 60, 1).get(61).int_(1).op(b"s")
    write("key_laughs.pt", torch_zip([("data.pkl", p.stop(), 0)]), "2", "dict key walked without memo",
          "a dict key of 2^60 paths built from 61 memo entries (billion laughs)")


def key_deep_memo():
    # Segments of 900 nested 1-tuples, each starting from the previous one through the
    # memo: every segment is below the depth limit, their chain is 180,000 deep. The
    # root lists the segments (so a converter memoising them sees each one shallow)
    # and then uses the deepest as a dict key.
    segments, depth = 200, 900
    p = P(2).op(b"]", b"N")
    for s in range(segments):
        if s > 0:
            p.get(s - 1)
        for _ in range(depth):
            p.op(b"\x85")
        p.put(s).op(b"a")
    p.op(b"}").get(segments - 1).int_(1).op(b"s", b"a")
    write("key_deep_memo.pt", torch_zip([("data.pkl", p.stop(), 0)]), "2", "dict key nested through the memo",
          f"a dict key {segments * depth} tuples deep, built from {segments} memo segments of {depth}")


def attr_laughs():
    # An OrderedDict state_dict whose _metadata attribute maps a billion-laughs key:
    # not a leaf, but written back by a .pt writer.
    p = P(2).ordered_dict().put(0).op(b"(").str_("w").tensor("FloatStorage", "0", 1, 0, [1], [1]).op(b"u")
    p.op(b"}").str_("junk")
    laughs(p, 60, 1).op(b"s")  # state = {"junk": [t0 .. t60]}
    p.str_("_metadata").op(b"}").get(61).op(b"}", b"s", b"s", b"b")  # state["_metadata"] = {t60: {}}
    write("attr_laughs.pt", torch_zip([("data.pkl", p.stop(), 0), ("data/0", bytes(4), 0)]), "2",
          "shared structure in an OrderedDict attribute",
          "state_dict whose _metadata has a dict key of 2^60 paths (written back to .pt)")


def long4():
    n = 1 << 20
    p = P(2).op(b"\x8b").raw(struct.pack("<i", n)).raw(b"\x01" * n)
    write("long4_1mb.pt", torch_zip([("data.pkl", p.stop(), 0)]), "2", "huge integer",
          "one LONG4 integer of 1 MiB (8 Mbit)")


def long_text():
    p = P(0).raw(b"L" + b"7" * (1 << 20) + b"L\n")
    write("long_text_1m_digits.pt", torch_zip([("data.pkl", p.stop(), 0)]), "2", "huge integer",
          "one LONG integer of 1,048,576 decimal digits")


def module_lookup():
    # 200,000 references to one nn.Module whose __dict__ has 100,000 attributes before
    # _parameters: finding _parameters by a linear search costs 2e10 comparisons.
    attrs, refs = 100_000, 200_000
    p = P(2).op(b"]").global_("torch.nn.modules.linear", "Linear").op(b")", b"\x81", b"}")
    for start in range(0, attrs, 1000):
        p.op(b"(")
        for i in range(start, min(start + 1000, attrs)):
            p.str_(f"a{i}").int_(i & 0xff)
        p.op(b"u")
    p.str_("_parameters").ordered_dict().str_("weight").tensor("FloatStorage", "0", 1, 0, [1], [1]).op(b"s")
    p.op(b"s", b"b").put(0).op(b"a")
    for start in range(1, refs, 1000):
        p.op(b"(")
        for _ in range(start, min(start + 1000, refs)):
            p.get(0)
        p.op(b"e")
    write("module_lookup.pt", torch_zip([("data.pkl", p.stop(), 0), ("data/0", bytes(4), 0)]), "2",
          "linear attribute lookup in a loop",
          f"{refs} references to one nn.Module with {attrs} attributes before _parameters")


def long_key(leaf):
    # {K: [X, X, ...]} with a 1.5 MB key K and 200,000 children: every child's path
    # starts with K.
    n = 200_000
    p = P(2).op(b"}").str_("k" * 1_500_000).op(b"]")
    for start in range(0, n, 1000):
        p.op(b"(")
        for i in range(start, min(start + 1000, n)):
            p.op(b"K\x00" if leaf else b"}")
        p.op(b"e")
    p.op(b"s")
    name = "long_key_leaves.pt" if leaf else "long_key_empty.pt"
    what = "int leaves" if leaf else "empty dicts"
    write(name, torch_zip([("data.pkl", p.stop(), 0)]), "2", "paths built before the budget is charged",
          f"a 1.5 MB key over a list of {n} {what}")


def tar_headers():
    # torch <= 0.1.10's tar layout with 1,000,000 storage headers of zero elements.
    n = 1_000_000
    header = P(2).op(b"(").str_("0").str_("cpu").global_("torch", "FloatStorage").op(b"t").stop()
    storages = bytearray(P(2).int_(n).stop())
    storages += (header + struct.pack("<q", 0)) * n
    storages += P(2).op(b"]").stop()
    members = [("storages", bytes(storages)), ("tensors", P(2).int_(0).stop()), ("pickle", P(2).op(b"}").stop())]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tf.addfile(info, io.BytesIO(data))
    write("tar_headers.pt", buf.getvalue(), "2", "per-header cost in a tar checkpoint",
          f"a tar checkpoint with {n} storage headers")


GIB = 1 << 30


def zip_overlap():
    # Four storage records whose directory entries all point at one deflated blob of
    # 1 GiB of zeros (1 MiB in the file): 4 GiB of tensors from a 1 MiB file.
    blob, crc = deflated_zeros(GIB)
    numel = GIB // 4
    p = P(2).op(b"}", b"(")
    for i in range(4):
        p.str_(f"w{i}").tensor("FloatStorage", str(i), numel, 0, [numel], [1])
    p.op(b"u")
    z = Zip()
    z.add("archive/data.pkl", p.stop())
    loc = z.local("archive/data/0", blob, method=8, size=GIB, crc=crc)
    for i in range(4):
        z.entry(f"archive/data/{i}", loc)
    z.add("archive/version", b"3\n")
    write("zip_overlap.pt", z.bytes(), "2", "overlapping zip records",
          "four 1 GiB storage records sharing one 1 MiB deflated blob")


def zip_bomb_storage():
    # One deflated storage of 1 GiB of zeros; the only tensor views its first element.
    blob, crc = deflated_zeros(GIB)
    p = P(2).op(b"}").str_("w").tensor("FloatStorage", "0", GIB // 4, 0, [1], [1]).op(b"s")
    z = Zip()
    z.add("archive/data.pkl", p.stop())
    z.entry("archive/data/0", z.local("archive/data/0", blob, method=8, size=GIB, crc=crc))
    z.add("archive/version", b"3\n")
    write("zip_bomb_storage.pt", z.bytes(), "2", "deflated record inflated whole",
          "a 4-byte tensor in a deflated storage record of 1 GiB (1 MiB in the file)")


def zip_bomb_pickle():
    # data.pkl deflated: 1 GiB of pickle (a list of a billion Nones) in 1 MiB.
    n = GIB - 16
    head = bytes(P(2).op(b"(").b)
    tail = b"l."
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts, crc = [c.compress(head)], zlib.crc32(head)
    chunk = b"N" * (1 << 20)
    left = n
    while left:
        piece = chunk[:min(left, len(chunk))]
        parts.append(c.compress(piece))
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    parts.append(c.compress(tail))
    crc = zlib.crc32(tail, crc)
    parts.append(c.flush())
    blob = b"".join(parts)
    z = Zip()
    z.entry("archive/data.pkl", z.local("archive/data.pkl", blob, method=8, size=len(head) + n + len(tail), crc=crc))
    z.add("archive/version", b"3\n")
    write("zip_bomb_pickle.pt", z.bytes(), "2", "deflated pickle bomb",
          "a deflated data.pkl of 1 GiB (a list of 1,073,741,808 Nones) in 1 MiB")


def expand_views():
    # 300 zero-stride views of one 4-byte storage, each 16 MiB when materialised.
    n, numel = 300, 1 << 22
    p = P(2).op(b"}")
    for start in range(0, n, 100):
        p.op(b"(")
        for i in range(start, start + 100):
            p.str_(f"v{i}").tensor("FloatStorage", "0", 1, 0, [numel], [0])
        p.op(b"u")
    write("expand_views.pt", torch_zip([("data.pkl", p.stop(), 0), ("data/0", struct.pack("<f", 1.5), 0)]),
          "2", "expansion budget per tensor, not per file",
          f"{n} zero-stride views of one 4-byte storage, 16 MiB each (4.8 GiB in all)")


def memo_walks():
    # A container of the memo given to an opcode that walks its items, again and again:
    # each walk is work the pickle's bytes do not pay for (BUILD sets the 2,000
    # attributes of one state dict 20,000 times; OrderedDict(pairs) copies the 2,000
    # pairs of one list 20,000 times): 4e7 items walked for a pickle of 180 KB.
    attrs, builds = 2000, 20_000
    p = P(2).op(b"(")
    for i in range(attrs):
        p.str_(f"a{i}").int_(i & 0xff)
    p.op(b"d").put(0).global_("__main__", "Config").op(b")", b"\x81")
    for _ in range(builds):
        p.get(0).op(b"b")
    write("build_memo_state.pt", torch_zip([("data.pkl", p.stop(), 0)]), "2", "a memo container walked by each opcode given it",
          f"BUILD {builds} times on one instance with one memo dict of {attrs} attributes")
    pairs, calls = 2000, 20_000
    p = P(2).op(b"(")
    for i in range(pairs):
        p.op(b"(").str_(f"k{i}").int_(i & 0xff).op(b"t")
    p.op(b"l").put(0).op(b"(")
    for _ in range(calls):
        p.global_("collections", "OrderedDict").op(b"(").get(0).op(b"t", b"R")
    p.op(b"l")
    write("call_memo_args.pt", torch_zip([("data.pkl", p.stop(), 0)]), "2", "a memo container walked by each opcode given it",
          f"OrderedDict(pairs) called {calls} times on one memo list of {pairs} pairs")


def shared_values():
    # A plain value of the memo at many places: each is a leaf whose value a converter
    # renders, 100,000 times a 200 KB string (20 GB of text from 700 KB); 60,000
    # objects of one class of a 4,000-byte name (240 MB of class names).
    n = 100_000
    p = P(2).str_("s" * 200_000).put(0).op(b"]")
    for start in range(0, n, 1000):
        p.op(b"(")
        for _ in range(start, min(start + 1000, n)):
            p.get(0)
        p.op(b"e")
    write("value_refs.pt", torch_zip([("data.pkl", p.stop(), 0)]), "2", "a plain value yielded at many paths",
          f"a list of {n} references to one 200 KB string")
    n = 60_000
    p = P(2).global_("m" * 2000, "C" * 2000).put(0).op(b"]")
    for start in range(0, n, 1000):
        p.op(b"(")
        for _ in range(start, min(start + 1000, n)):
            p.get(0).op(b")", b"\x81")
        p.op(b"e")
    write("class_refs.pt", torch_zip([("data.pkl", p.stop(), 0)]), "2", "a plain value yielded at many paths",
          f"a list of {n} instances of one class named by 4,000 bytes")


def numpy_refs():
    # One numpy array of 100 KB (its bytes in the pickle, not a storage record), at 2,000
    # places: 200 MB read from a file of 110 KB.
    nbytes, refs = 100_000, 2000
    p = P(2).global_("numpy.core.multiarray", "_reconstruct").global_("numpy", "ndarray").int_(0).op(b"\x85")
    p.op(b"C", b"\x01", b"b", b"\x87", b"R")
    p.op(b"(").int_(1).int_(nbytes // 4).op(b"\x85")
    p.global_("numpy", "dtype").str_("f4").op(b"\x89", b"\x88", b"\x87", b"R")
    p.op(b"(").int_(3).str_("<").op(b"N", b"N", b"N").int_(-1).int_(-1).int_(0).op(b"t", b"b")
    p.op(b"\x89").op(b"B").raw(struct.pack("<I", nbytes) + bytes(nbytes)).op(b"t", b"b").put(0)
    p.op(b"]", b"(")
    for _ in range(refs):
        p.get(0)
    p.op(b"e")
    write("numpy_refs.pt", torch_zip([("data.pkl", p.stop(), 0)]), "2", "expansion budget per tensor, not per file",
          f"{refs} references to one numpy array of {nbytes} bytes ({refs * nbytes // 1000000} MB read)")


def span_views():
    # 1,000 views of the whole of one 64 KiB storage: a converter that copies each
    # view's bytes within the kernel (copy_file_range) writes 64 MiB from 200 KB.
    numel, n = 1 << 14, 1000
    p = P(2).op(b"}")
    for start in range(0, n, 100):
        p.op(b"(")
        for i in range(start, start + 100):
            p.str_(f"v{i}").tensor("FloatStorage", "0", numel, 0, [numel], [1])
        p.op(b"u")
    write("span_views.pt", torch_zip([("data.pkl", p.stop(), 0), ("data/0", bytes(4 * numel), 0)]), "2",
          "views copied without being read", f"{n} views of the whole of one {4 * numel} B storage ({n * 4 * numel >> 20} MiB written)",
          reader="cmd")


def fuzz_seeds():
    # Small forms of the memo walks, shared values and numpy references, as seeds of
    # pickle's FuzzOpen (the go test fuzz v1 format: one []byte literal).
    def seed(name, data):
        lit = "".join(chr(c) if 32 <= c < 127 and c not in b'"\\' else "\\x%02x" % c for c in data)
        path = os.path.join(here, "..", "..", "pickle", "testdata", "fuzz", "FuzzOpen", name)
        with open(path, "w") as f:
            f.write('go test fuzz v1\n[]byte("' + lit + '")\n')
    p = P(2).op(b"(")
    for i in range(20):
        p.str_(f"a{i}").int_(i)
    p.op(b"d").put(0).global_("__main__", "Config").op(b")", b"\x81")
    for _ in range(20):
        p.get(0).op(b"b")
    seed("seed-hostile-memo-walks", torch_zip([("data.pkl", p.stop(), 0)]))
    p = P(2).str_("s" * 100).put(0).op(b"]", b"(")
    for _ in range(50):
        p.get(0)
    seed("seed-hostile-value-refs", torch_zip([("data.pkl", p.op(b"e").stop(), 0)]))
    p = P(2).global_("numpy.core.multiarray", "_reconstruct").global_("numpy", "ndarray").int_(0).op(b"\x85")
    p.op(b"C", b"\x01", b"b", b"\x87", b"R")
    p.op(b"(").int_(1).int_(4).op(b"\x85")
    p.global_("numpy", "dtype").str_("f4").op(b"\x89", b"\x88", b"\x87", b"R")
    p.op(b"(").int_(3).str_("<").op(b"N", b"N", b"N").int_(-1).int_(-1).int_(0).op(b"t", b"b")
    p.op(b"\x89").op(b"B").raw(struct.pack("<I", 16) + bytes(16)).op(b"t", b"b").put(0).op(b"]", b"(")
    for _ in range(20):
        p.get(0)
    seed("seed-hostile-numpy-refs", torch_zip([("data.pkl", p.op(b"e").stop(), 0)]))


# ---- sections 2 to 4, through the command ----

def state_dict(entries, storages):
    """A zip checkpoint of an OrderedDict of (name, pickle-writer) entries and storage
    records (key, bytes)."""
    p = P(2).ordered_dict()
    for start in range(0, len(entries), 100):
        p.op(b"(")
        for name, value in entries[start:start + 100]:
            p.str_(name)
            value(p)
        p.op(b"u")
    return torch_zip([("data.pkl", p.stop(), 0)] + [(f"data/{k}", b, 0) for k, b in storages])


def tensor_of(key, numel, shape, stride, offset=0, cls="FloatStorage"):
    return lambda p: p.tensor(cls, key, numel, offset, shape, stride)


def expand_layers():
    # nn.RNN(1024, 1024, num_layers=300)'s state_dict, every weight and bias a
    # zero-stride view of one 4-byte storage: 2.4 GB when materialised.
    h, layers = 1024, 300
    entries = []
    for k in range(layers):
        entries += [(f"weight_ih_l{k}", tensor_of("0", 1, [h, h], [0, 0])),
                    (f"weight_hh_l{k}", tensor_of("0", 1, [h, h], [0, 0])),
                    (f"bias_ih_l{k}", tensor_of("0", 1, [h], [0])),
                    (f"bias_hh_l{k}", tensor_of("0", 1, [h], [0]))]
    write("expand_layers.pt", state_dict(entries, [("0", struct.pack("<f", 0.01))]), "2",
          "expanded weights of a model to run", f"nn.RNN({h}, {h}, num_layers={layers}) whose weights are zero-stride views of one 4-byte storage (2.4 GB materialised)",
          reader="cmd")
    write("input_1024.pt", state_dict([("input", tensor_of("0", h, [1, 1, h], [h, h, 1]))], [("0", bytes(4 * h))]),
          "-", "a benign input", f"one step of {h} features", reader="aux")


def run_steps():
    # A model of hidden size 1024 and an input of 4,194,304 steps of one feature, a
    # zero-stride view of one float: 16 GB of output.
    h, steps = 1024, 1 << 22
    model = [("weight_ih_l0", tensor_of("0", h, [h, 1], [1, 1])), ("weight_hh_l0", tensor_of("1", h * h, [h, h], [h, 1])),
             ("bias_ih_l0", tensor_of("2", h, [h], [1])), ("bias_hh_l0", tensor_of("2", h, [h], [1]))]
    write("rnn_1024.pt", state_dict(model, [("0", bytes(4 * h)), ("1", bytes(4 * h * h)), ("2", bytes(4 * h))]),
          "-", "a benign model", f"nn.RNN(1, {h}) with zero weights", reader="aux")
    ref = [("input", tensor_of("0", 1, [steps, 1, 1], [0, 0, 0])),
           ("output", tensor_of("0", 1, [steps, 1, h], [0, 0, 0])),
           ("h_n", tensor_of("0", 1, [1, 1, h], [0, 0, 0]))]
    write("run_steps.pt", state_dict(ref, [("0", bytes(4))]), "2", "work claimed by a run or check input",
          f"an input (and reference) of {steps} steps, zero-stride views of one float: {steps * h * 4 >> 30} GiB of output for nn.RNN(1, {h})",
          reader="cmd")


def names():
    # Names that would redraw the terminal, forge lines, or point outside an archive.
    x = tensor_of("0", 1, [1], [1])
    write("names_escape.pt", state_dict([("w\x1b[2K\rlayer.weight", x), ("note\nglobals: torch._utils._rebuild_tensor_v2", x),
                                         ("\u202egnp.exe", x)], [("0", bytes(4))]),
          "4", "terminal controls in names", "tensor names holding ESC, CR, newline and a right-to-left override", reader="cmd")
    p = P(2).global_("os\x1b[1A", "system\x1b[2K\r").op(b"(").str_("id").op(b"t", b"R")
    write("global_escape.pt", torch_zip([("data.pkl", p.stop(), 0)]), "4", "terminal controls in a refused global",
          "a call of a global whose module and name hold ESC and CR", reader="cmd")
    dup = P(2).ordered_dict().op(b"(").str_("a.b").tensor("FloatStorage", "0", 1, 0, [1], [1])
    dup.str_("a").op(b"}").str_("b").tensor("FloatStorage", "0", 1, 0, [1], [1]).op(b"s", b"u")
    write("dup_names.pt", torch_zip([("data.pkl", dup.stop(), 0), ("data/0", bytes(4), 0)]), "3",
          "two leaves of one name", 'keys "a.b" and a["b"]: both leaves are named a.b', reader="cmd")
    write("metadata_name.pt", state_dict([("__metadata__", x)], [("0", bytes(4))]), "3",
          "a tensor named like safetensors' metadata", "a tensor named __metadata__", reader="cmd")
    write("traversal_names.pt", state_dict([("../../x", x), ("/etc/x", x)], [("0", bytes(4))]), "3",
          "npz member names outside the archive", "tensors named ../../x and /etc/x", reader="cmd")


def json_cases():
    deep = 9990
    doc = ('{"tensors": [{"name": "x", "dtype": "F32", "shape": [1], "data": [1.0]}], "values": {"a": '
           + "[" * deep + "1" + "]" * deep + "}}")
    write("json_deep.json", doc.encode(), "2", "JSON nested deep", f"a JSON input whose values nest {deep} levels deep", reader="cmd")
    # Each tag's value read again at each level would be depth times size of work. The
    # dicts nest as deep as a tree may (pickle.MaxDepth, 1000 levels: "a" at depth 1, the
    # string at 1000).
    levels, size = 999, 2_000_000
    doc = ('{"tensors": [{"name": "x", "dtype": "F32", "shape": [1], "data": [1.0]}], "values": {"a": '
           + '{"builtins.dict": {"k": ' * levels + '"' + "x" * size + '"' + "}}" * levels + "}}")
    write("json_deep_tags.json", doc.encode(), "2", "JSON tags nested around a large value",
          f'values nesting {{"builtins.dict": ...}} {levels} levels deep around a string of {size} bytes', reader="cmd")
    doc = '{"tensors": [{"name": "x", "dtype": "U8", "shape": [2], "data": [300, -1]}]}'
    write("json_int_range.json", doc.encode(), "3", "JSON integers out of their dtype's range",
          "a U8 tensor of 300 and -1", reader="cmd")


def safetensors_deep():
    deep = 1_000_000
    hdr = ('{"__metadata__": {"a": ' + "[" * deep + "]" * deep + '}, "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}').encode()
    hdr += b" " * (-len(hdr) % 8)
    write("st_metadata_deep.safetensors", struct.pack("<Q", len(hdr)) + hdr + bytes(4), "2", "safetensors metadata nested deep",
          f"__metadata__ nested {deep} levels deep", reader="cmd")
    # The values ptport records are a JSON document in a string of the metadata, which
    # the header's own depth limit does not reach.
    deep = 5_000_000
    values = '{"a": ' + "[" * deep + "]" * deep + "}"
    hdr = json.dumps({"__metadata__": {"ptport.values": values}, "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    hdr += b" " * (-len(hdr) % 8)
    write("st_values_deep.safetensors", struct.pack("<Q", len(hdr)) + hdr + bytes(4), "2", "safetensors values nested deep",
          f"the values of __metadata__'s ptport.values nested {deep} levels deep", reader="cmd")


def npz_cases():
    # numpy.savez_compressed layout: members NAME.npy, deflated.
    def npy(shape, n):
        dict_ = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{d}, " for d in shape).rstrip(" ")
        head = 10 + len(dict_) + 1
        dict_ += " " * (-head % 64) + "\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(dict_)) + dict_.encode()
    n = GIB // 4
    header = npy([n], n)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts, crc = [c.compress(header)], zlib.crc32(header)
    chunk = bytes(1 << 20)
    for _ in range(GIB >> 20):
        parts.append(c.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    parts.append(c.flush())
    blob = b"".join(parts)
    z = Zip()
    z.entry("w.npy", z.local("w.npy", blob, method=8, size=len(header) + GIB, crc=crc))
    write("npz_bomb.npz", z.bytes(), "2", "npz members inflated when opened",
          "an npz whose one member inflates to 1 GiB (1 MiB in the file)", reader="cmd")
    z = Zip()
    member = npy([4], 4) + bytes(16)
    loc = z.local("a.npy", member)
    z.entry("a.npy", loc)
    z.entry("b.npy", loc)
    write("npz_overlap.npz", z.bytes(), "2", "overlapping npz members", "two members sharing their bytes", reader="cmd")


def main():
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if f.endswith((".pt", ".gz", ".json", ".npz", ".safetensors")) and f not in ("cases.json", "torch.json"):
            os.remove(os.path.join(out_dir, f))
    key_laughs()
    key_deep_memo()
    attr_laughs()
    long4()
    long_text()
    module_lookup()
    long_key(False)
    long_key(True)
    tar_headers()
    zip_overlap()
    zip_bomb_storage()
    zip_bomb_pickle()
    expand_views()
    memo_walks()
    shared_values()
    numpy_refs()
    span_views()
    if out_dir == here:
        fuzz_seeds()
    expand_layers()
    run_steps()
    names()
    json_cases()
    safetensors_deep()
    npz_cases()
    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)
        f.write("\n")


main()
