#!/usr/bin/python3
"""Checks how `ptport convert IN -o OUT.pt` writes what torch.load(weights_only=True)
refuses: instances of user classes, records of calls and references to classes.

Usage: check_inert.py PTPORT

Converts testdata/pickle/content/objects.pt (written by gen_content.py from the objects
of its object_values()) to a .pt file, then, with real PyTorch:

- every GLOBAL of the written data.pkl must be one that torch.load(weights_only=True)
  allows: torch 1.13's torch._weights_only_unpickler._get_allowed_globals(), or one
  that torch 2.x's adds (its _get_allowed_globals(): collections.Counter,
  _codecs.encode, builtins.bytearray, builtins.set, builtins.complex);
- torch.load of the file (which then needs no class of the script) must equal the
  objects of object_values() as the writer documents them (pickle.Write): a module as
  its state_dict; any other object as a plain dict, first "__class__" (for the record
  of a call, "__call__") naming its class as "module.qualname" (gen_content's classes
  are __main__'s, as it pickled them), then what its __reduce_ex__(2) gives the pickle:
  the arguments of cls.__new__ or of the call by index, the attributes (and slots) by
  name, the dict items by key, the list items by index; a class referenced as a value
  that weights_only refuses as its name; a torch dtype as itself.

Prints one line per check; exits 1 if any fails.
"""

import collections
import copyreg
import io
import os
import pickletools
import subprocess
import sys
import tempfile
import zipfile

import torch
import torch._weights_only_unpickler as wo

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "testdata", "pickle"))
import gen_content  # noqa: E402

# What torch 2.x's _get_allowed_globals() allows beyond torch 1.13's.
TORCH2_ALLOWED = {"collections.Counter", "_codecs.encode", "builtins.bytearray",
                  "builtins.set", "builtins.complex"}


def class_name(cls):
    module = "__main__" if cls.__module__ == gen_content.__name__ else cls.__module__
    return f"{module}.{cls.__qualname__}"


def expected(obj):
    """obj as pickle.Write documents that it writes it."""
    if isinstance(obj, torch.nn.Module):
        return collections.OrderedDict(obj.state_dict())
    if isinstance(obj, torch.Tensor) or obj is None or type(obj) in (bool, int, float, str, bytes):
        return obj
    if isinstance(obj, torch.dtype):
        return obj
    if isinstance(obj, type):
        return class_name(obj)  # weights_only refuses it: its name
    if type(obj) in (dict, collections.Counter):
        return {k: expected(v) for k, v in obj.items()}
    if type(obj) is list:
        return [expected(v) for v in obj]
    if type(obj) is tuple:
        return tuple(expected(v) for v in obj)
    rv = obj.__reduce_ex__(2)
    func, args = rv[0], rv[1]
    state = rv[2] if len(rv) > 2 else None
    listitems = list(rv[3]) if len(rv) > 3 and rv[3] is not None else []
    dictitems = list(rv[4]) if len(rv) > 4 and rv[4] is not None else []
    if func is copyreg.__newobj__:
        out = {"__class__": class_name(args[0])}
        args = args[1:]
    else:
        out = {"__call__": class_name(func)}
    for i, a in enumerate(args):
        out[i] = expected(a)
    attrs = []
    if isinstance(state, dict):
        attrs = [state]
    elif isinstance(state, tuple) and len(state) == 2 and all(s is None or isinstance(s, dict) for s in state):
        attrs = [s for s in state if s]
    elif state is not None:
        raise TypeError(f"no rule for the state of {obj!r}")
    for d in attrs:
        for k, v in d.items():
            out[k] = expected(v)
    for k, v in dictitems:
        out[k] = expected(v)
    for i, v in enumerate(listitems):
        out[i] = expected(v)
    return out


def same(want, got, path, errors):
    if isinstance(want, torch.Tensor):
        if not isinstance(got, torch.Tensor) or want.dtype != got.dtype or want.shape != got.shape \
                or not torch.equal(want.detach(), got.detach()):
            errors.append(f"{path}: {got!r}, want {want!r}")
        return
    if type(want) is not type(got):
        errors.append(f"{path}: a {type(got).__name__}, want a {type(want).__name__} ({want!r})")
        return
    if isinstance(want, dict):
        if list(want) != list(got):
            errors.append(f"{path}: keys {list(got)}, want {list(want)}")
            return
        for k in want:
            same(want[k], got[k], f"{path}.{k}" if path else str(k), errors)
    elif isinstance(want, (list, tuple)):
        if len(want) != len(got):
            errors.append(f"{path}: {len(got)} items, want {len(want)}")
            return
        for i, (a, b) in enumerate(zip(want, got)):
            same(a, b, f"{path}.{i}", errors)
    elif want != got:
        errors.append(f"{path}: {got!r}, want {want!r}")


def pickle_globals(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        pkl = z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))
    return {arg.replace(" ", ".") for op, arg, _ in pickletools.genops(pkl) if op.name == "GLOBAL"}


def main():
    ptport = sys.argv[1]
    src = os.path.join(ROOT, "testdata", "pickle", "content", "objects.pt")
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "objects.pt")
        r = subprocess.run([ptport, "convert", src, "-o", out], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL convert: {r.stderr.strip()}")
            sys.exit(1)
        with open(out, "rb") as f:
            data = f.read()
    allowed = set(wo._get_allowed_globals()) | TORCH2_ALLOWED
    refused = sorted(pickle_globals(data) - allowed)
    if refused:
        failed += 1
        print(f"FAIL globals weights_only=True refuses: {refused}")
    else:
        print("ok   every global is one weights_only=True allows")
    got = torch.load(io.BytesIO(data))
    errors = []
    same(expected(gen_content.object_values()), got, "", errors)
    for e in errors:
        print(f"FAIL {e}")
    if errors:
        failed += 1
    else:
        print(f"ok   torch.load gives the objects as plain data ({len(got)} entries)")
    print(f"{2 - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
