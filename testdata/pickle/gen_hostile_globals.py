#!/usr/bin/env python3
"""Writes testdata/pickle/globals/: checkpoints whose pickles name globals that would
run code, touch files or the network, or load another pickle under torch.load, the
benign ones the globals policy must read, and the files that tell torch 2.6's
weights_only rules apart; and their MANIFEST.json.

Run from anywhere with Debian's PyTorch 1.13 (and its python3-six and
python3-typing-extensions, which the markers of the compatibility-layer fixtures use):

    /usr/bin/python3 testdata/pickle/gen_hostile_globals.py

Each fixture is a zip checkpoint written with torch's own zip writer
(torch._C.PyTorchFileWriter) around a data.pkl assembled opcode by opcode, since
Python's pickler cannot spell most of these globals (a dotted name such as
torch + os.system, a Python 2 module name, a malformed module).

TorchScript archives are written by torch.jit.save.

The hostile files are never loaded with torch.load(weights_only=False). What torch
would do with them is measured on a marker twin (NAME.marker.pt): the same pickle
with the same globals reached the same way, calling a harmless function of the same
module (os.mkdir instead of os.system, a file of a fresh temporary directory
instead of a path of the user's), loaded with torch.load(weights_only=False) in
that directory. "torch_runs" records whether the marker appeared. Network globals
have no twin. torch.load(weights_only=True) of torch 1.13 is run on every file,
since it never calls a global it has not allowed ("torch_weights_only").

"expect" is what package pickle must do in each mode (default, allow_objects,
strict): "denied" (an *UnsafeGlobalError that no mode accepts), "refused" (an
*UnsafeGlobalError that another mode accepts), "weights_only" (a
*WeightsOnlyError), "error" (a *FormatError) or "ok"; "reason", "resolved" and
"via" are what the error must say (in strict mode a refused global's reason is that
weights_only refuses it), "rule" the rule of weights_only a file breaks. The strict expectations follow the rules of
torch/_weights_only_unpickler.py of torch 2.6 and later (its opcode set, its
allowed globals, BUILD only on tensors, Parameters, OrderedDicts and allowed
types, APPENDS only on lists, SETITEMS only on dicts); where torch 1.13's own
weights_only differs, "differs" says why.
"""

import io
import json
import os
import pickle
import struct
import sys
import tempfile
import warnings
from typing import Dict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "globals")
MANIFEST = {}
MARKER = "ptport-marker"
PAYLOAD = "echo this fixture must never be unpickled"


# ---------------------------------------------------------------------------
# A pickle assembler.


class P:
    def __init__(self, proto=2):
        self.b = bytearray(b"\x80" + bytes([proto]))

    def op(self, *codes):
        for c in codes:
            self.b += c if isinstance(c, bytes) else bytes([c])
        return self

    def global_(self, module, name):
        return self.op(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def stack_global(self, module, name):
        return self.str(module).str(name).op(b"\x93")

    def str(self, s):
        data = s.encode("utf-8", "surrogatepass")
        return self.op(b"X" + struct.pack("<I", len(data)) + data)

    def bytes_(self, data):
        return self.op(b"C" + bytes([len(data)]) + data if len(data) < 256 else b"B" + struct.pack("<I", len(data)) + data)

    def int(self, n):
        return self.op(b"J" + struct.pack("<i", n))

    def float(self, f):
        return self.op(b"G" + struct.pack(">d", f))

    def call(self, *args):
        """MARK args TUPLE REDUCE, args being callables that emit onto self."""
        self.op(b"(")
        for a in args:
            a(self)
        return self.op(b"t", b"R")

    def stop(self):
        return bytes(self.op(b".").b)


def s(text):
    return lambda p: p.str(text)


def inner_pickle(module, name, arg):
    """A protocol 2 pickle calling module.name(arg)."""
    return P(2).global_(module, name).call(s(arg)).stop()


# ---------------------------------------------------------------------------


def write(name, data):
    """data is a data.pkl, or a function writing the whole file at the path it is given."""
    if callable(data):
        data(os.path.join(OUT, name))
    else:
        gen.write_torch_zip(os.path.join("globals", name), [("data.pkl", data)])


def weights_only_113(name):
    """torch.load(weights_only=True) of torch 1.13, in a fresh directory: it hands
    TorchScript archives to torch.jit.load, which runs their code."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.load(os.path.join(OUT, name), weights_only=True)
        except Exception as e:  # torch raises several exception types
            msg = str(e).splitlines()[0] if str(e) else ""
            msg = msg.split("WeightsUnpickler error: ", 1)[-1]  # past torch's advice
            return f"{type(e).__name__}: {msg[:200]}"
        finally:
            os.chdir(cwd)
    return "ok"


def runs_marker(name):
    """Loads the marker twin with weights_only=False in a fresh directory; True
    when the marker appeared."""
    src = os.path.join(OUT, name)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.load(src, weights_only=False)
        except Exception as e:  # torch raises several exception types
            result = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        else:
            result = None
        finally:
            os.chdir(cwd)
        ran = any(n.startswith(MARKER) for n in os.listdir(tmp))
    return ran, result


SELF = "the fixture itself"


def case(name, data, expect, reason=None, resolved=None, via=None, marker=None, differs=None, rule=None,
         strict_resolved=None, allow_objects_reason=None, allow_objects_resolved=None, torch_requirement=False):
    """marker is the marker twin's pickle, or SELF for a fixture that only calls
    ptport_standin (harmless by construction), which is loaded itself.
    strict_resolved is the global the strict mode refuses, where it is not resolved."""
    write(name, data)
    entry = {"expect": expect, "torch_weights_only": weights_only_113(name)}
    for k, v in (("reason", reason), ("resolved", resolved), ("via", via), ("differs", differs), ("rule", rule),
                 ("strict_resolved", strict_resolved), ("allow_objects_reason", allow_objects_reason),
                 ("allow_objects_resolved", allow_objects_resolved)):
        if v is not None:
            entry[k] = v
    if torch_requirement:
        entry["torch_requirement"] = True
    if marker is SELF:
        ran, err = runs_marker(name)
        entry["torch_runs"], entry["user_code"] = ran, True
        if err is not None:
            entry["torch_error"] = err
    elif marker is not None:
        twin = name.replace(".pt", ".marker.pt")
        write(twin, marker)
        ran, err = runs_marker(twin)
        entry["marker"] = twin
        entry["torch_runs"] = ran
        if err is not None:
            entry["torch_error"] = err
        MANIFEST[twin] = {"expect": expect, "reason": reason, "torch_weights_only": weights_only_113(twin)}
        if torch_requirement:
            MANIFEST[twin]["torch_requirement"] = True
        if differs is not None:
            MANIFEST[twin]["differs"] = differs
    MANIFEST[name] = entry


DENIED = {"default": "denied", "allow_objects": "denied", "strict": "denied"}
RUNS, SYSTEM, FILES, NETWORK, DESER, NOTSAFE, MALFORMED, DOTTED, USERCALL, STRICT = (
    "runs code", "runs programs or changes the system", "reads or writes files",
    "opens the network", "loads another pickle or serialized code", "is not a name known to be safe",
    "is not a valid dotted Python name",
    "is a dotted name in code outside torch, numpy and the standard library, whose attribute walk may pass through any module that code imports",
    "calls code outside torch, numpy and the standard library", "is refused by torch.load(weights_only=True)")
INSTANCEONLY = ("is a class that pickles build as instances, never by calling it; a call runs its constructor "
                "on the file's arguments (LambdaLR calls its lr_lambda)")
VALUEARGS = ("is called with arguments that are not plain values (None, numbers, strings, bytes, tuples of them), "
             "whose code its constructor would run")
ALIAS = "lies in a package that re-exports Python's standard library under other names (six.moves.builtins is builtins)"
USERVALUE = ("is a function or class of code outside torch, numpy and the standard library passed as a value, "
             "which code that torch.load runs may call")
SHIPS = ("lies in a package that pip installs with torch, present wherever torch.load runs; ptport reads "
         "instances of its classes built without arguments, but never calls its functions or classes, builds them "
         "from arguments (their __new__ runs on them) or passes them where code would call them")
SCRIPT = ("defines __setstate__, TorchScript code of the archive that torch.load runs (through torch.jit.load) "
          "for each object of the class")


def hostile():
    mk = s(MARKER)
    # Dotted names walk attributes in protocol 4: torch imports os.
    case("dotted_torch_os_system.pt", P(4).stack_global("torch", "os.system").call(s(PAYLOAD)).stop(),
         DENIED, SYSTEM, "torch.os.system", "torch.os",
         marker=P(4).stack_global("torch", "os.mkdir").call(mk).stop())
    case("dotted_module_torch_os_system.pt",
         P(4).stack_global("torch.nn.modules.module", "torch.os.system").call(s(PAYLOAD)).stop(),
         DENIED, SYSTEM, "torch.nn.modules.module.torch.os.system", "torch.nn.modules.module.torch.os",
         marker=P(4).stack_global("torch.nn.modules.module", "torch.os.mkdir").call(mk).stop())
    # An empty module component: __import__ fails, ptport refuses the spelling.
    case("malformed_module.pt", P(2).global_("torch.nn.modules..os", "system").call(s(PAYLOAD)).stop(),
         DENIED, MALFORMED,
         marker=P(2).global_("torch.nn.modules..os", "mkdir").call(mk).stop())
    # A module class must be a class name, not a path or another attribute.
    case("module_attribute_F.pt", P(4).stack_global("torch.nn.modules.rnn", "F").stop(),
         DENIED, NOTSAFE, "torch.nn.modules.rnn.F")
    case("module_attribute_torch.pt", P(4).stack_global("torch.nn.modules.module", "torch").stop(),
         DENIED, NOTSAFE, "torch.nn.modules.module.torch")
    # torch entry points that write files or load pickles.
    case("torch_save.pt", P(2).global_("torch", "save").call(lambda p: p.int(1), s(PAYLOAD)).stop(),
         DENIED, FILES, "torch.save",
         marker=P(2).global_("torch", "save").call(lambda p: p.int(1), mk).stop())
    case("torch_serialization_pickle_loads.pt",
         P(4).stack_global("torch.serialization", "pickle.loads").call(
             lambda p: p.bytes_(inner_pickle("posix", "system", PAYLOAD))).stop(),
         DENIED, DESER, "torch.serialization.pickle.loads",
         marker=P(4).stack_global("torch.serialization", "pickle.loads").call(
             lambda p: p.bytes_(inner_pickle("posix", "mkdir", MARKER))).stop())
    case("torch_load.pt", P(2).global_("torch", "load").call(s(PAYLOAD)).stop(),
         DENIED, DESER, "torch.load")
    case("model_zoo_load_url.pt",
         P(2).global_("torch.utils.model_zoo", "load_url").call(s("http://127.0.0.1:9/x.pt")).stop(),
         DENIED, NETWORK, "torch.utils.model_zoo.load_url")
    case("torch_hub_load.pt", P(2).global_("torch.hub", "load").call(s("user/repo"), s("model")).stop(),
         DENIED, NETWORK, "torch.hub.load")
    # The standard library: files, code, the system.
    case("codecs_open.pt", P(2).global_("codecs", "open").call(s(PAYLOAD), s("w")).stop(),
         DENIED, FILES, "codecs.open",
         marker=P(2).global_("codecs", "open").call(mk, s("w")).stop())
    case("zipfile_ZipFile.pt", P(2).global_("zipfile", "ZipFile").call(s(PAYLOAD), s("w")).stop(),
         DENIED, FILES, "zipfile.ZipFile",
         marker=P(2).global_("zipfile", "ZipFile").call(mk, s("w")).stop())
    case("numpy_save.pt", P(2).global_("numpy", "save").call(s(PAYLOAD), lambda p: p.int(1)).stop(),
         DENIED, FILES, "numpy.save",
         marker=P(2).global_("numpy", "save").call(mk, lambda p: p.int(1)).stop())
    # A governed module in other case: os on a case-insensitive file system with
    # PYTHONCASEOK set (Windows, macOS); here, Linux, torch fails to import it.
    case("case_alias_os_system.pt", P(2).global_("OS", "system").call(s(PAYLOAD)).stop(), DENIED,
         "lies in a module named as one of torch, numpy or the standard library in other case, which Python "
         "imports as that module on a case-insensitive file system with PYTHONCASEOK set", "OS.system")
    # CPython's test modules, which sys.stdlib_module_names leaves out, are
    # installed beside the library (Debian's libpython3.11-testsuite here).
    case("testcapi_run_in_subinterp.pt",
         P(2).global_("_testcapi", "run_in_subinterp").call(s(f"import os; os.system({PAYLOAD!r})")).stop(),
         DENIED, RUNS, "_testcapi.run_in_subinterp",
         marker=P(2).global_("_testcapi", "run_in_subinterp").call(s(f"import os; os.mkdir({MARKER!r})")).stop())
    case("posix_system.pt", P(2).global_("posix", "system").call(s(PAYLOAD)).stop(),
         DENIED, SYSTEM, "posix.system",
         marker=P(2).global_("posix", "mkdir").call(mk).stop())
    case("builtins_eval.pt", P(3).global_("builtins", "eval").call(s(f"__import__('os').system({PAYLOAD!r})")).stop(),
         DENIED, RUNS, "builtins.eval",
         marker=P(3).global_("builtins", "eval").call(s(f"__import__('os').mkdir({MARKER!r})")).stop())
    case("getattr_chain.pt",
         P(2).global_("__builtin__", "getattr").call(
             lambda p: p.global_("__builtin__", "__import__").call(s("os")), s("system")).call(s(PAYLOAD)).stop(),
         DENIED, RUNS, "builtins.getattr")
    # Python 2 names: judged by the name Python's unpickler maps them to.
    case("py2_cPickle_loads.pt",
         P(2).global_("cPickle", "loads").call(lambda p: p.bytes_(inner_pickle("posix", "system", PAYLOAD))).stop(),
         DENIED, DESER, "pickle.loads",
         marker=P(2).global_("cPickle", "loads").call(lambda p: p.bytes_(inner_pickle("posix", "mkdir", MARKER))).stop())
    case("py2_commands_getoutput.pt", P(2).global_("commands", "getoutput").call(s(PAYLOAD)).stop(),
         DENIED, SYSTEM, "subprocess.getoutput")
    case("py2_SimpleHTTPServer.pt", P(2).global_("SimpleHTTPServer", "test").call().stop(),
         DENIED, NETWORK, "http.server.test")
    case("py2_urllib2_urlopen.pt", P(2).global_("urllib2", "urlopen").call(s("http://127.0.0.1:9/")).stop(),
         DENIED, NETWORK, "urllib.request.urlopen")
    case("py2_builtin_eval.pt", P(2).global_("__builtin__", "eval").call(s(f"__import__('os').system({PAYLOAD!r})")).stop(),
         DENIED, RUNS, "builtins.eval",
         marker=P(2).global_("__builtin__", "eval").call(s(f"__import__('os').mkdir({MARKER!r})")).stop())
    # Python maps Python 2 names only in protocols 0 to 2 (after PROTO 3 it would
    # import a module named UserDict, if some code took that name).
    case("py2_name_protocol3.pt", P(3).global_("UserDict", "UserDict").call().stop(),
         DENIED, NOTSAFE, "UserDict.UserDict")
    case("py2_reconstructor_os_system.pt",
         P(2).global_("copy_reg", "_reconstructor").call(
             lambda p: p.global_("os", "system"), lambda p: p.global_("__builtin__", "object"),
             lambda p: p.op(b"N")).stop(),
         DENIED, SYSTEM, "os.system")
    # User code: instances are data, calls need AllowObjects, dotted names never.
    inst = P(2).op(b"}").str("cfg").global_("__main__", "Config").op(b")", b"\x81", b"}").str("lr") \
        .float(0.5).op(b"s", b"b", b"s")
    case("user_instance.pt", inst.stop(), {"default": "ok", "allow_objects": "ok", "strict": "refused"},
         resolved="__main__.Config")
    case("user_call.pt", P(2).global_("__main__", "make_config").call(lambda p: p.int(3)).stop(),
         {"default": "refused", "allow_objects": "ok", "strict": "refused"}, USERCALL, "__main__.make_config")
    # A call of user code that AllowObjects reads, before a call no mode reads:
    # AllowObjects does not read the file (ptport does not advise it).
    case("user_call_then_denied.pt", P(2).op(b"]", b"(").global_("__main__", "make_config").call(
        lambda p: p.int(3)).global_("torch.optim.lr_scheduler", "LambdaLR").call().op(b"e").stop(),
         {"default": "refused", "allow_objects": "denied", "strict": "refused"}, USERCALL, "__main__.make_config",
         strict_resolved="__main__.make_config", allow_objects_reason=INSTANCEONLY,
         allow_objects_resolved="torch.optim.lr_scheduler.LambdaLR")
    case("user_inst_opcode.pt", P(0).op(b"(").str("x").op(b"i__main__\nbuild\n").stop(),
         {"default": "refused", "allow_objects": "ok", "strict": "weights_only"}, USERCALL, "__main__.build",
         rule="opcode INST")
    case("user_dotted.pt", P(4).stack_global("model", "os.system").call(s(PAYLOAD)).stop(),
         DENIED, DOTTED, "model.os.system")
    case("third_party_dill.pt", P(2).global_("dill", "loads").call(lambda p: p.bytes_(b"x")).stop(),
         DENIED, DESER, "dill.loads")
    # The standard library under another package's names: six.moves.builtins is
    # builtins (six is installed nearly everywhere: Debian's python3-six here).
    # Called, with AllowObjects; and, in the default mode, as the add_module that
    # ModuleDict.__setitem__ calls.
    run_os = lambda cmd: s(f"__import__('os').system({cmd!r})")
    mkdir = s(f"__import__('os').mkdir({MARKER!r})")
    case("six_moves_builtins_exec.pt", P(2).global_("six.moves.builtins", "exec").call(run_os(PAYLOAD)).stop(),
         DENIED, ALIAS, "six.moves.builtins.exec",
         marker=P(2).global_("six.moves.builtins", "exec").call(mkdir).stop())
    case("six_moves_getoutput.pt", P(2).global_("six.moves", "getoutput").call(s(PAYLOAD)).stop(),
         DENIED, ALIAS, "six.moves.getoutput",
         marker=P(2).global_("six.moves", "getoutput").call(s(f"mkdir {MARKER}")).stop())

    def moduledict(code):
        p = P(2).global_("torch.nn.modules.container", "ModuleDict").op(b")", b"\x81", b"}").str(
            "add_module").global_("six.moves.builtins", "exec").op(b"s", b"b", b"(")
        return code(p).op(b"}", b"u").stop()

    case("six_moduledict_add_module.pt", moduledict(run_os(PAYLOAD)), DENIED, ALIAS, "six.moves.builtins.exec",
         marker=moduledict(mkdir))

    def type_hints(code):
        def namespace(p):
            p.global_("types", "SimpleNamespace").call().op(b"}").str("__annotations__").op(b"}").str("x")
            return code(p).op(b"s", b"s", b"b")
        return P(2).global_("typing_extensions", "get_type_hints").call(namespace).stop()

    case("typing_extensions_get_type_hints.pt", type_hints(run_os(PAYLOAD)), DENIED, ALIAS,
         "typing_extensions.get_type_hints", marker=type_hints(mkdir))
    # Unknown class through copy_reg._reconstructor: data.
    recon = P(2).global_("copy_reg", "_reconstructor").call(
        lambda p: p.global_("mylib.nets", "Net"), lambda p: p.global_("__builtin__", "object"),
        lambda p: p.op(b"N")).op(b"}").str("depth").int(2).op(b"s", b"b")
    case("user_reconstructor.pt", recon.stop(), {"default": "ok", "allow_objects": "ok", "strict": "refused"},
         resolved="copyreg._reconstructor")


# TorchScript archives: torch.load hands them to torch.jit.load, which runs the
# __setstate__ of their classes, code of the archive. TorchScript cannot call
# os.mkdir, but torch.from_file(path, shared=True, size) creates (or extends) and
# maps a file, which TorchScript can then write: here it only creates one.


class ScriptWritesFile(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.ones(2)

    def forward(self, x):
        return x * self.w

    @torch.jit.export
    def __getstate__(self) -> Dict[str, torch.Tensor]:
        return {"w": self.w}

    @torch.jit.export
    def __setstate__(self, state: Dict[str, torch.Tensor]):
        f = torch.from_file("ptport-fixture-was-loaded-by-torch", True, 16, dtype=torch.uint8)
        self.w = state["w"] + f[0].float()
        self.training = False


class ScriptWritesMarker(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.ones(2)

    def forward(self, x):
        return x * self.w

    @torch.jit.export
    def __getstate__(self) -> Dict[str, torch.Tensor]:
        return {"w": self.w}

    @torch.jit.export
    def __setstate__(self, state: Dict[str, torch.Tensor]):
        f = torch.from_file("ptport-marker", True, 16, dtype=torch.uint8)
        self.w = state["w"] + f[0].float()
        self.training = False


def jit_save(cls):
    return lambda path: torch.jit.save(torch.jit.script(cls()), path)


def torchscript():
    case("script_setstate_from_file.pt", jit_save(ScriptWritesFile), DENIED, SCRIPT, "__torch__.ScriptWritesFile",
         marker=jit_save(ScriptWritesMarker),
         differs="torch 1.13's weights_only hands TorchScript archives to torch.jit.load, which runs their "
                 "__setstate__; torch 2.6's refuses TorchScript archives")


def user_values():
    """Globals of user code as values: in the default mode a global of code outside
    torch, numpy and the standard library is only the class of an instance; passed
    to allowed code, or set where Python's unpickler calls an instance, torch.load
    calls it. ptport_standin stands for any installed package: its mark() leaves a
    marker, so these fixtures are their own twins ("user_code": with AllowObjects,
    which reads calls of user code, they are read)."""
    mark = lambda p: p.global_("ptport_standin", "mark")
    REFUSED = {"default": "refused", "allow_objects": "ok", "strict": "refused"}

    def inst(p, module, name):
        return p.global_(module, name).op(b")", b"\x81")

    def sgd(p, extra=lambda p: p):
        inst(p, "torch.optim.sgd", "SGD").op(b"}", b"(").str("param_groups").op(b"]", b"(", b"}", b"(")
        p.str("lr").float(0.1).str("params").op(b"]", b"u", b"e").str("defaults").op(b"}").str("state").op(b"}")
        return extra(p).op(b"u", b"b")

    # ModuleDict.__setitem__ calls self.add_module(key, value), which BUILD hid.
    case("user_value_moduledict_add_module.pt",
         inst(P(2), "torch.nn.modules.container", "ModuleDict").op(b"}").str("add_module").global_(
             "ptport_standin", "mark").op(b"s", b"b").str("k").op(b"}", b"s").stop(),
         REFUSED, USERVALUE, "ptport_standin.mark", marker=SELF,
         strict_resolved="torch.nn.modules.container.ModuleDict")
    # Optimizer.__setstate__ calls self._hook_for_profile().
    case("user_value_optimizer_setstate.pt",
         sgd(P(2), lambda p: p.str("_hook_for_profile").global_("ptport_standin", "mark")).stop(),
         REFUSED, USERVALUE, "ptport_standin.mark", marker=SELF, strict_resolved="torch.optim.sgd.SGD")
    # Classes that pickles build as instances are never called: LambdaLR(optimizer,
    # lr_lambda) calls lr_lambda(0), a function or any callable instance.
    lambdalr = lambda arg: P(2).global_("torch.optim.lr_scheduler", "LambdaLR").call(sgd, arg).stop()
    INSTANCEONLY_DENIED = {"default": "denied", "allow_objects": "denied", "strict": "refused"}
    case("call_lambdalr.pt", lambdalr(mark), INSTANCEONLY_DENIED, INSTANCEONLY,
         "torch.optim.lr_scheduler.LambdaLR", marker=SELF)
    case("call_lambdalr_instance.pt", lambdalr(lambda p: inst(p, "ptport_standin", "Thing")),
         INSTANCEONLY_DENIED, INSTANCEONLY, "torch.optim.lr_scheduler.LambdaLR", marker=SELF)
    # Value classes are called with plain values only: PosixPath(x) calls x.__fspath__().
    case("call_path_instance.pt",
         P(2).global_("pathlib", "PosixPath").call(lambda p: inst(p, "ptport_standin", "Thing")).stop(),
         INSTANCEONLY_DENIED, VALUEARGS, "pathlib.PosixPath", marker=SELF, strict_resolved="pathlib.PosixPath")
    # Python's unpickler calls inst.append(x) for APPEND, inst.__setstate__(state)
    # for BUILD: attributes of any instance.
    case("user_value_append_attribute.pt",
         inst(P(2), "ptport_standin", "Thing").op(b"}").str("append").global_("ptport_standin", "mark").op(
             b"s", b"b").str("x").op(b"a").stop(),
         REFUSED, USERVALUE, "ptport_standin.mark", marker=SELF, strict_resolved="ptport_standin.Thing")
    case("user_value_setstate_attribute.pt",
         inst(P(2), "ptport_standin", "Thing").op(b"}").str("__setstate__").global_("ptport_standin", "mark").op(
             b"s", b"b", b"}", b"b").stop(),
         REFUSED, USERVALUE, "ptport_standin.mark", marker=SELF, strict_resolved="ptport_standin.Thing")
    # A user instance governed code receives: an attribute may be called by name.
    case("user_value_in_governed_instance.pt",
         inst(P(2), "torch.nn.modules.container", "ModuleDict").op(b"}").str("_modules").op(b"}").str(
             "x").global_("ptport_standin", "Thing").op(b")", b"\x81", b"}").str("forward").global_(
             "ptport_standin", "mark").op(b"s", b"b", b"s", b"s", b"b").stop(),
         REFUSED, USERVALUE, "ptport_standin.mark", strict_resolved="torch.nn.modules.container.ModuleDict")
    # A dict governed code received stays governed: what the pickle adds to it
    # later is checked too.
    case("user_value_after_governed.pt",
         inst(P(2), "torch.nn.modules.container", "ModuleDict").op(b"}").str("_modules").op(
             b"}", b"q\x07", b"s", b"b", b"0", b"h\x07").str("x").global_("ptport_standin", "mark").op(b"s").stop(),
         REFUSED, USERVALUE, "ptport_standin.mark", strict_resolved="torch.nn.modules.container.ModuleDict")
    # The slots state sets attributes with setattr: __class__ turns the instance
    # into a ModuleDict, whose __setitem__ calls the add_module it was given.
    case("slots_state_class.pt",
         inst(P(2), "ptport_standin", "Thing").op(b"}").str("add_module").global_("ptport_standin", "mark").op(
             b"s", b"}").str("__class__").global_("torch.nn.modules.container", "ModuleDict").op(
             b"s", b"\x86", b"b").str("k").op(b"}", b"s").stop(),
         {"default": "error", "allow_objects": "error", "strict": "refused"}, "__class__", marker=SELF,
         strict_resolved="ptport_standin.Thing")
    # Data: classes of user code as values in plain containers and in instances
    # of user classes (hyper-parameters naming a class), and as the class of an
    # instance, are read.
    case("user_class_in_hparams.pt",
         P(2).op(b"}", b"(").str("cls").global_("ptport_standin", "Thing").str("metrics").op(b"]").global_(
             "ptport_standin", "Thing").op(b"a").str("attrs").global_("ptport_standin", "Thing").op(
             b")", b"\x81", b"}").str("block").global_("ptport_standin", "Thing").op(b"s", b"b", b"u").stop(),
         {"default": "ok", "allow_objects": "ok", "strict": "refused"}, resolved="ptport_standin.Thing")


def torch_requirements():
    """The packages pip installs with torch (install_requires of torch's setup.py:
    sympy, networkx, jinja2, fsspec, filelock, ...; sympy's mpmath, jinja2's
    MarkupSafe) are present wherever torch.load runs: none of their code is ever
    run. Debian's python3-sympy is installed here, so the sympy fixtures have marker
    twins; jinja2 and fsspec are not, so theirs have none. In strict mode their
    globals are refused as weights_only refuses them, at the GLOBAL."""
    SHIPPED = {"default": "denied", "allow_objects": "denied", "strict": "refused"}
    run_os = lambda cmd: s(f"__import__('os').system({cmd!r})")
    mkdir = s(f"__import__('os').mkdir({MARKER!r})")
    # sympify evaluates a string.
    case("requirement_sympy_sympify.pt", P(2).global_("sympy", "sympify").call(run_os(PAYLOAD)).stop(),
         SHIPPED, SHIPS, "sympy.sympify", torch_requirement=True,
         marker=P(2).global_("sympy", "sympify").call(mkdir).stop())

    # NEWOBJ runs cls.__new__(cls, *args): Matrix's sympifies its entries.
    def matrix(code):
        p = P(2).global_("sympy.matrices.dense", "MutableDenseMatrix").op(b"(", b"]", b"]")
        return code(p).op(b"a", b"a", b"t", b"\x81").stop()

    case("requirement_sympy_matrix_newobj.pt", matrix(run_os(PAYLOAD)), SHIPPED, SHIPS,
         "sympy.matrices.dense.MutableDenseMatrix", torch_requirement=True, marker=matrix(mkdir))

    # Python's BUILD calls inst.__setstate__(state), an attribute a first BUILD set.
    def setstate(code):
        p = P(2).global_("ptport_standin", "Thing").op(b")", b"\x81", b"}").str("__setstate__").global_(
            "sympy", "sympify").op(b"s", b"b")
        return code(p).op(b"b").stop()

    case("requirement_sympy_setstate_attribute.pt", setstate(run_os(PAYLOAD)), SHIPPED, SHIPS, "sympy.sympify",
         strict_resolved="ptport_standin.Thing", torch_requirement=True, marker=setstate(mkdir))
    case("requirement_fsspec_open.pt", P(2).global_("fsspec", "open").call(s("https://example.invalid/x")).stop(),
         SHIPPED, SHIPS, "fsspec.open", torch_requirement=True)
    case("requirement_jinja2_template.pt",
         P(2).global_("jinja2", "Template").call(s("{{ cycler.__init__.__globals__.os.system('true') }}")).stop(),
         SHIPPED, SHIPS, "jinja2.Template", torch_requirement=True)
    # An instance pickled without arguments (sympy's ZZ: NEWOBJ of no arguments) is data.
    import sympy
    case("requirement_sympy_instance.pt", lambda path: torch.save({"domain": sympy.ZZ, "w": torch.ones(2)}, path),
         {"default": "ok", "allow_objects": "ok", "strict": "refused"},
         strict_resolved="sympy.polys.domains.integerring.IntegerRing")


def tensor_states():
    """BUILD on a tensor is Tensor.__setstate__: a state of 4 items is set_(storage,
    offset, size, stride), so torch.load reads the tensor the state makes, not the
    one the rebuild function made; torch.Tensor and the legacy tensor classes are
    built empty by NEWOBJ and then set so (weights_only's "legacy unpickling").
    These files hold only torch's own globals and are loaded with torch.load to
    record the values ("values", "requires_grad")."""
    floats = lambda *v: struct.pack(f"<{len(v)}f", *v)
    records = [("data/0", floats(1, 2, 3, 4)), ("data/1", struct.pack("<2d", 7, 8)), ("data/2", floats(5, 6, 7, 8))]

    def storage(p, key, kind="FloatStorage", n=4):
        return p.op(b"(").str("storage").global_("torch", kind).str(key).str("cpu").int(n).op(b"t", b"Q")

    def rebuild(p):
        return p.global_("torch._utils", "_rebuild_tensor_v2").call(
            lambda p: storage(p, "0"), lambda p: p.int(0), lambda p: p.int(2).op(b"\x85"),
            lambda p: p.int(1).op(b"\x85"), lambda p: p.op(b"\x89"),
            lambda p: p.global_("collections", "OrderedDict").call())

    def set_state(p, key="2", kind="FloatStorage", n=4, offset=1):
        storage(p.op(b"("), key, kind, n).int(offset).int(2).op(b"\x85").int(1).op(b"\x85", b"t", b"b")
        return p

    def tensor_case(name, data, expect, reason=None, differs=None, rule=None):
        path = os.path.join(OUT, name)
        case(name, lambda path: gen.write_torch_zip(os.path.join("globals", name), [("data.pkl", data)] + records),
             expect, reason, differs=differs, rule=rule)
        if "ok" in expect.values():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = torch.load(path, weights_only=False)
            MANIFEST[name]["values"] = t.tolist()
            MANIFEST[name]["requires_grad"] = t.requires_grad

    OK = {"default": "ok", "allow_objects": "ok", "strict": "ok"}
    tensor_case("tensor_set_after_rebuild.pt", set_state(rebuild(P(2))).stop(), OK)
    tensor_case("tensor_legacy_newobj.pt", set_state(P(2).global_("torch", "Tensor").op(b")", b"\x81")).stop(), OK,
                differs="torch 1.13's weights_only builds nothing but Parameters with NEWOBJ; torch 2.6's builds "
                        "allowed classes, torch.Tensor among them")
    tensor_case("tensor_legacy_class_newobj.pt",
                set_state(P(2).global_("torch", "DoubleTensor").op(b")", b"\x81"), "1", "DoubleStorage", 2, 0).stop(), OK,
                differs="torch 1.13's weights_only builds nothing but Parameters with NEWOBJ; torch 2.6's builds "
                        "allowed classes, torch.DoubleTensor among them")
    tensor_case("tensor_requires_grad_state.pt",
                rebuild(P(2)).op(b"\x88", b"N").global_("collections", "OrderedDict").call().op(b"\x87", b"b").stop(),
                {"default": "ok", "allow_objects": "ok", "strict": "weights_only"}, rule="BUILD on a tensor",
                differs="torch 2.6's weights_only calls set_(*state) on a tensor, not Tensor.__setstate__, and set_ "
                        "takes no (requires_grad, _, backward_hooks)")
    tensor_case("tensor_set_other_dtype.pt", set_state(rebuild(P(2)), "1", "DoubleStorage", 2).stop(),
                {"default": "error", "allow_objects": "error", "strict": "error"}, "set_")


def weights_only_rules():
    """Benign files that torch 2.6's weights_only rules tell apart."""
    gen.seed(80)
    sd = torch.nn.Linear(2, 2).state_dict()
    buf = io.BytesIO()
    torch.save(sd, buf)
    _, records = gen.zip_records(buf.getvalue())
    data2 = dict(records)["data.pkl"]
    gen.write_torch_zip(os.path.join("globals", "state_dict_proto2.pt"), records)
    MANIFEST["state_dict_proto2.pt"] = {"expect": {"default": "ok", "allow_objects": "ok", "strict": "ok"},
                                        "torch_weights_only": weights_only_113("state_dict_proto2.pt")}
    assert data2.startswith(b"\x80\x02")
    buf = io.BytesIO()
    torch.save(sd, buf, pickle_protocol=4)
    _, records = gen.zip_records(buf.getvalue())
    gen.write_torch_zip(os.path.join("globals", "state_dict_proto4.pt"), records)
    MANIFEST["state_dict_proto4.pt"] = {"expect": {"default": "ok", "allow_objects": "ok", "strict": "weights_only"},
                                        "rule": "opcode FRAME",
                                        "torch_weights_only": weights_only_113("state_dict_proto4.pt")}

    def plain(name, obj, strict, resolved=None, differs=None, protocol=2):
        buf = io.BytesIO()
        torch.save(obj, buf, pickle_protocol=protocol)
        _, records = gen.zip_records(buf.getvalue())
        gen.write_torch_zip(os.path.join("globals", name), records)
        e = {"expect": {"default": "ok", "allow_objects": "ok", "strict": strict},
             "torch_weights_only": weights_only_113(name)}
        if resolved:
            e["resolved"] = resolved
        if differs:
            e["differs"] = differs
        MANIFEST[name] = e

    plain("float.pt", {"lr": 0.5}, "ok",
          differs="torch 1.13's weights_only runs no BINFLOAT; torch 2.6's does")
    plain("set.pt", {"s": {1, 2}}, "ok",
          differs="torch 1.13's weights_only neither maps Python 2 names nor allows builtins.set; torch 2.6's does both")
    plain("frozenset.pt", {"s": frozenset({1, 2})}, "refused", "builtins.frozenset")
    plain("counter.pt", {"c": __import__("collections").Counter(a=2)}, "ok",
          differs="torch 1.13's weights_only does not allow collections.Counter; torch 2.6's does")
    plain("bytes.pt", {"b": b"\x00\xffab"}, "ok",
          differs="torch 1.13's weights_only does not allow _codecs.encode (bytes); torch 2.6's does")
    plain("namespace.pt", {"args": __import__("argparse").Namespace(lr=0.1)}, "refused", "argparse.Namespace")
    import datetime, decimal, fractions, pathlib, types  # noqa: E401
    plain("value_classes.pt", {"t": datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
                               "d": datetime.date(2020, 1, 2), "dt": datetime.timedelta(days=1, seconds=2),
                               "p": pathlib.PurePosixPath("a/b"), "x": decimal.Decimal("1.5"),
                               "f": fractions.Fraction(1, 3), "s": slice(1, 8, 2), "ns": types.SimpleNamespace(a=1)},
          "refused", "datetime.datetime")
    plain("tuple_keys.pt", {(1, "a"): torch.ones(1)}, "ok")
    # Protocol 2 opcodes that weights_only does not run, in a file torch.save could write.
    case("build_on_dict.pt", P(2).op(b"}", b"}").op(b"b").stop(),
         {"default": "error", "allow_objects": "error", "strict": "weights_only"}, "BUILD on a dict",
         rule="BUILD on a dict")
    case("setitems_on_list.pt", P(2).op(b"]", b"(").str("k").int(1).op(b"u").stop(),
         {"default": "error", "allow_objects": "error", "strict": "weights_only"}, "SETITEMS",
         rule="SETITEMS on a list")
    case("appends_on_user_list.pt",
         P(2).global_("__main__", "History").op(b")", b"\x81", b"(").int(1).op(b"e").stop(),
         {"default": "ok", "allow_objects": "ok", "strict": "refused"}, resolved="__main__.History")
    # Section 5: failures of gopickle's machine that must be errors naming the file.
    case("array_reconstructor.pt",
         P(3).global_("array", "_array_reconstructor").call(
             lambda p: p.global_("array", "array"), s("f"), lambda p: p.int(15),
             lambda p: p.bytes_(b"\x00\x00\x80?")).stop(),
         DENIED, NOTSAFE, "array._array_reconstructor")
    case("unhashable_key.pt", P(2).op(b"}", b"]").int(1).op(b"s").stop(),
         {"default": "error", "allow_objects": "error", "strict": "error"}, "unhashable")

    # The rules of torch/_weights_only_unpickler.py as pytorch/pytorch has it at
    # commit 00f730b66e58769f9698d9236f58cd46c3794115 (torch 2.10 and later),
    # which torch 1.13 cannot judge: the expectations come from that source.
    OKS = {"default": "ok", "allow_objects": "ok", "strict": "ok"}
    WO = {"default": "ok", "allow_objects": "ok", "strict": "weights_only"}
    # A GLOBAL is looked up as spelled, after torch's own Python 2 mapping:
    # torch.tensor is not torch._tensor there, nor torch.float torch.float32.
    from_type = P(2).global_("torch.tensor", "_rebuild_from_type_v2").call(
        lambda p: p.global_("torch._utils", "_rebuild_tensor_v2"), lambda p: p.global_("torch", "Tensor"),
        lambda p: p.op(b")"), lambda p: p.op(b"}")).stop()
    case("wo_torch_tensor_module.pt", from_type,
         {"default": "error", "allow_objects": "error", "strict": "refused"}, "tensor_v2",
         strict_resolved="torch._tensor._rebuild_from_type_v2")
    case("wo_dtype_alias.pt", P(2).op(b"}").str("d").global_("torch", "float").op(b"s").stop(),
         {"default": "ok", "allow_objects": "ok", "strict": "refused"}, resolved="torch.float")
    case("wo_dtype.pt", P(2).op(b"}").str("d").global_("torch", "float32").op(b"s").stop(), OKS)
    case("wo_complex.pt", P(2).op(b"}").str("c").global_("builtins", "complex").call(
        lambda p: p.float(1.5), lambda p: p.float(-2)).op(b"s").stop(), OKS,
         differs="torch 1.13's weights_only does not allow builtins.complex; torch 2.10's does")
    case("wo_untyped_storage_module.pt", P(2).op(b"}").str("s").global_("torch", "UntypedStorage").op(b"s").stop(),
         {"default": "ok", "allow_objects": "ok", "strict": "refused"}, resolved="torch.UntypedStorage")
    case("wo_untyped_storage.pt", P(2).op(b"}").str("s").global_("torch.storage", "UntypedStorage").op(b"s").stop(),
         OKS, differs="torch 1.13's weights_only does not allow torch.storage.UntypedStorage; torch 2.10's does")
    # Legacy tensor classes: torch._tensor_classes, dense and sparse, CPU and CUDA;
    # torch has no complex ones, nor torch.cuda.Tensor.
    value = lambda module, name: P(2).op(b"}").str("t").global_(module, name).op(b"s").stop()
    case("wo_sparse_tensor_class.pt", value("torch.sparse", "FloatTensor"), OKS)
    case("wo_cuda_sparse_tensor_class.pt", value("torch.cuda.sparse", "LongTensor"), OKS)
    case("wo_complex_tensor_class.pt", value("torch", "ComplexFloatTensor"), DENIED, NOTSAFE,
         "torch.ComplexFloatTensor")
    case("wo_cuda_tensor.pt", value("torch.cuda", "Tensor"), DENIED, NOTSAFE, "torch.cuda.Tensor")
    # Opcodes its unpickler does not run (protocols 0, 1, 3, 4 and 5).
    big = (1 << 2100) + 12345
    case("wo_long4.pt", P(2).op(b"}").str("n").op(b"\x8b" + struct.pack("<i", len(big.to_bytes(264, "little"))) +
                                                  big.to_bytes(264, "little")).op(b"s").stop(), WO, rule="opcode LONG4")
    case("wo_stack_global.pt", P(4).op(b"}").str("d").stack_global("torch", "float32").op(b"s").stop(),
         WO, rule="opcode STACK_GLOBAL")
    case("wo_memoize.pt", P(4).op(b"}", b"\x94").str("d").int(1).op(b"s").stop(), WO, rule="opcode MEMOIZE")
    case("wo_bytearray8.pt", P(5).op(b"}").str("b").op(b"\x96" + struct.pack("<Q", 3) + b"abc").op(b"s").stop(),
         WO, rule="opcode BYTEARRAY8")
    case("wo_binput_get_text.pt", P(2).op(b"}", b"p0\n", b"0", b"g0\n").stop(), WO, rule="opcode PUT")


def main():
    assert torch.__version__.startswith("1.13"), torch.__version__
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.remove(os.path.join(OUT, name))
    hostile()
    torchscript()
    user_values()
    torch_requirements()
    tensor_states()
    weights_only_rules()
    names = sorted(n for n in os.listdir(OUT) if n.endswith(".pt"))
    assert names == sorted(MANIFEST), set(names) ^ set(MANIFEST)
    for n, e in MANIFEST.items():
        if e.get("torch_runs") and e.get("torch_requirement"):
            assert e["expect"]["default"] == e["expect"]["allow_objects"] == "denied", n
            assert e["expect"]["strict"] != "ok", n
        elif e.get("torch_runs") and e.get("user_code"):
            assert e["expect"]["default"] != "ok" and e["expect"]["strict"] != "ok", n
        elif e.get("torch_runs"):
            assert e["expect"] == DENIED, n  # whatever torch would run, no mode reads
    with open(os.path.join(OUT, "MANIFEST.json"), "w") as f:
        f.write(json.dumps(MANIFEST, indent=1, sort_keys=True))
    ran = sorted(n for n, e in MANIFEST.items() if e.get("torch_runs"))
    print(f"{len(names)} fixtures; torch.load(weights_only=False) ran the marker of {len(ran)}: {ran}")


if __name__ == "__main__":
    main()
