#!/usr/bin/env python3
"""Writes pickle/globals_gen.go: the name tables of package pickle's globals policy.

Run from anywhere with Debian's Python 3.11 and PyTorch 1.13:

    /usr/bin/python3 scripts/gen_globals.py

The tables, and where each comes from:

- The standard library's top-level modules: the union of
  * sys.stdlib_module_names of the running interpreter (CPython 3.11),
  * CPYTHON_SOURCE_NAMES below: Python/stdlib_module_names.h of CPython's source
    (python/cpython at 00271b5d79a4cf6ffaa600e90d413cb2927a3230, a 3.14
    development tree; it holds every name of 3.13's sys.stdlib_module_names, the
    3.12 and 3.13 additions among them: _colorize, _interpchannels,
    _interpqueues, _interpreters, _ios_support, _android_support,
    _opcode_metadata, _pydatetime, _pylong, _pyrepl, _suggestions, _sysconfig,
    _wmi, ...),
  * PYTHON2_MODULES below: modules of Python 2.7's library index that Python 3
    no longer has (torch 0.x ran on Python 2, and pickles name them), and
  * "test", CPython's own test package (shipped with the library, absent from
    sys.stdlib_module_names), and CPYTHON_TEST_MODULES below: the test and
    example extension modules and frozen test modules CPython builds and installs
    (Modules/Setup.stdlib.in and Modules/Setup, Python/frozen.c; absent from
    sys.stdlib_module_names, and installed by python.org builds and Debian's
    libpython3.x-testsuite: _testcapi.run_in_subinterp runs code) and those of
    3.14 (compression, _zstd, _remote_debugging); package pickle also governs
    every name beginning with _test, _xx or xxlimited, the prefixes CPython
    keeps for them, and
  * every top-level module the running interpreter has: its library folder's
    modules and packages, its extension modules (lib-dynload), its built-in and
    frozen modules.
  The union is larger than any one version's list; every name in it is governed
  (see pickle/globals.go), so a larger list is the stricter one.
- Each module's purpose (PURPOSES below): ptport's own reading of the library's
  documentation, used only to word refusals ("runs code", "opens the
  network", ...), never to decide them.
- _compat_pickle.NAME_MAPPING and IMPORT_MAPPING of the running interpreter:
  the names Python's unpickler maps Python 2 globals to (Lib/_compat_pickle.py).
- The nn.Module classes of torch.nn.modules: every class that subclasses
  torch.nn.Module in a submodule of torch.nn.modules of the running torch (1.13),
  plus the names of torch 2.x's torch/nn/modules/__init__.py __all__
  (TORCH2_NN_MODULES below, from pytorch/pytorch's source) and of torch 0.4's
  (TORCH0_NN_MODULES), and the submodule names of all three.
- Other nn.Module classes of torch 1.13 outside torch.nn.modules (torch.nn.*,
  torch.ao.nn.*), by their defining module, and the classes of torch.optim's
  submodules (optimizers, lr schedulers, swa_utils), plus torch 2.x's additions
  (TORCH2_OPTIM below).

Output is deterministic: rerunning gives an identical file.
"""

import _compat_pickle
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
import warnings

import torch
import torch.nn
import torch.optim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "pickle", "globals_gen.go")

# Python/stdlib_module_names.h of python/cpython at
# 00271b5d79a4cf6ffaa600e90d413cb2927a3230.
CPYTHON_SOURCE_NAMES = """
__future__ _abc _aix_support _android_support _ast _asyncio _bisect _blake2 _bz2
_codecs _codecs_cn _codecs_hk _codecs_iso2022 _codecs_jp _codecs_kr _codecs_tw
_collections _collections_abc _colorize _compat_pickle _compression _contextvars _csv
_ctypes _curses _curses_panel _datetime _dbm _decimal _elementtree _frozen_importlib
_frozen_importlib_external _functools _gdbm _hashlib _heapq _hmac _imp _interpchannels
_interpqueues _interpreters _io _ios_support _json _locale _lsprof _lzma _markupbase
_md5 _multibytecodec _multiprocessing _opcode _opcode_metadata _operator _osx_support
_overlapped _pickle _posixshmem _posixsubprocess _py_abc _pydatetime _pydecimal _pyio
_pylong _pyrepl _queue _random _scproxy _sha1 _sha2 _sha3 _signal _sitebuiltins
_socket _sqlite3 _sre _ssl _stat _statistics _string _strptime _struct _suggestions
_symtable _sysconfig _thread _threading_local _tkinter _tokenize _tracemalloc _typing
_uuid _warnings _weakref _weakrefset _winapi _wmi _zoneinfo abc annotationlib
antigravity argparse array ast asyncio atexit base64 bdb binascii bisect builtins bz2
cProfile calendar cmath cmd code codecs codeop collections colorsys compileall
concurrent configparser contextlib contextvars copy copyreg csv ctypes curses
dataclasses datetime dbm decimal difflib dis doctest email encodings ensurepip enum
errno faulthandler fcntl filecmp fileinput fnmatch fractions ftplib functools gc
genericpath getopt getpass gettext glob graphlib grp gzip hashlib heapq hmac html http
idlelib imaplib importlib inspect io ipaddress itertools json keyword linecache locale
logging lzma mailbox marshal math mimetypes mmap modulefinder msvcrt multiprocessing
netrc nt ntpath nturl2path numbers opcode operator optparse os pathlib pdb pickle
pickletools pkgutil platform plistlib poplib posix posixpath pprint profile pstats pty
pwd py_compile pyclbr pydoc pydoc_data pyexpat queue quopri random re readline reprlib
resource rlcompleter runpy sched secrets select selectors shelve shlex shutil signal
site smtplib socket socketserver sqlite3 sre_compile sre_constants sre_parse ssl stat
statistics string stringprep struct subprocess symtable sys sysconfig syslog tabnanny
tarfile tempfile termios textwrap this threading time timeit tkinter token tokenize
tomllib trace traceback tracemalloc tty turtle turtledemo types typing unicodedata
unittest urllib uuid venv warnings wave weakref webbrowser winreg winsound wsgiref xml
xmlrpc zipapp zipfile zipimport zlib zoneinfo
""".split()

# CPython's test, example and frozen test modules, which sys.stdlib_module_names
# leaves out (Modules/Setup.stdlib.in, Modules/Setup and Python/frozen.c of 3.8 to
# 3.14), and the modules 3.14 added after CPYTHON_SOURCE_NAMES's tree.
CPYTHON_TEST_MODULES = """
_testcapi _testinternalcapi _testbuffer _testimportmultiple _testmultiphase
_testsinglephase _testclinic _testclinic_limited _testexternalinspection _testlimitedcapi
_testcppext _ctypes_test _xxtestfuzz _xxsubinterpreters _xxinterpchannels _xxinterpqueues
xxlimited xxlimited_35 xxsubtype __hello__ __hello_alias__ __hello_only__ __phello__
__phello_alias__ compression _zstd _remote_debugging
""".split()


def installed_modules():
    """The top-level modules of the running interpreter's own installation."""
    import _imp
    import sysconfig

    out = set(sys.builtin_module_names)
    if hasattr(_imp, "_frozen_module_names"):
        out |= {n.split(".")[0] for n in _imp._frozen_module_names()}
    for key in ("stdlib", "platstdlib"):
        root = sysconfig.get_paths()[key]
        for folder in (root, os.path.join(root, "lib-dynload")):
            if not os.path.isdir(folder):
                continue
            for entry in os.listdir(folder):
                path = os.path.join(folder, entry)
                name = entry.split(".")[0]
                if entry.endswith((".py", ".so", ".pyd")) or os.path.isfile(os.path.join(path, "__init__.py")):
                    out.add(name)
    return {n for n in out if n.isidentifier() and n != "site-packages"}


# Modules of Python 2.7's library index (docs.python.org/2.7/py-modindex.html)
# that Python 3 removed or renamed.
PYTHON2_MODULES = """
__builtin__ _winreg AL BaseHTTPServer Bastion CGIHTTPServer ColorPicker ConfigParser
Cookie DEVICE DocXMLRPCServer EasyDialogs FL FrameWork GL HTMLParser MacOS MimeWriter
Nav Queue SUNAUDIODEV ScrolledText SimpleHTTPServer SimpleXMLRPCServer SocketServer
StringIO Tix Tkinter UserDict UserList UserString W al anydbm applesingle autoGIL
bsddb buildtools cPickle cStringIO cd cfmfile commands compiler cookielib copy_reg
dbhash dircache dl dumbdbm dummy_thread dummy_threading exceptions findertools fl fm
fpectl fpformat future_builtins gdbm gensuitemodule gl hotshot htmlentitydefs htmllib
httplib ic icopen imageop imgfile imputil jpeg macostools macpath macresource md5
mhlib mimetools mimify multifile mutex new popen2 posixfile repr rexec rfc822
robotparser sets sgmllib sha statvfs sunaudiodev thread ttk urllib2 urlparse user
videoreader whichdb xmlrpclib
""".split()

# Purposes, for the wording of refusals only. A module not listed is "other".
PURPOSES = {
    "code": """
        builtins __builtin__ code codeop runpy importlib imp zipimport pkgutil pydoc timeit
        pdb bdb trace profile cProfile doctest unittest ctypes _ctypes compileall py_compile
        inspect types functools _functools operator _operator threading _thread thread
        dummy_thread dummy_threading _dummy_thread multiprocessing _multiprocessing
        concurrent asyncio _asyncio sched atexit site _sitebuiltins idlelib turtledemo cmd
        rlcompleter readline dis ast symtable _symtable opcode modulefinder copy
        _frozen_importlib _frozen_importlib_external _imp rexec Bastion imputil new
        compiler hotshot lib2to3 distutils ensurepip venv zipapp test _interpreters
        _interpchannels _interpqueues _pyrepl tkinter Tkinter _tkinter turtle
        _testcapi _testinternalcapi _testbuffer _testimportmultiple _testmultiphase
        _testsinglephase _testclinic _testclinic_limited _testexternalinspection
        _testlimitedcapi _testcppext _ctypes_test _xxtestfuzz _xxsubinterpreters
        _xxinterpchannels _xxinterpqueues xxlimited xxlimited_35 xxsubtype __hello__
        __hello_alias__ __hello_only__ __phello__ __phello_alias__
        """,
    "system": """
        os posix nt subprocess _posixsubprocess _bootsubprocess pty tty termios resource
        pwd grp spwd platform msvcrt winreg _winreg _winapi sysconfig _sysconfig syslog
        fcntl signal _signal faulthandler sys commands popen2 gc crypt _crypt nis
        getpass ossaudiodev winsound _osx_support _aix_support _wmi _posixshmem
        _overlapped _scproxy _remote_debugging
        """,
    "files": """
        io _io _pyio fileinput tempfile shutil glob pathlib posixpath ntpath genericpath
        macpath filecmp tarfile zipfile gzip bz2 _bz2 lzma _lzma dbm _dbm _gdbm gdbm
        anydbm dbhash dumbdbm whichdb sqlite3 _sqlite3 mailbox mhlib linecache codecs
        logging wave aifc sunau chunk tabnanny netrc mmap configparser ConfigParser
        StringIO cStringIO dircache statvfs posixfile imghdr sndhdr uu mailcap compression
        """,
    "network": """
        socket _socket ssl _ssl http urllib urllib2 httplib ftplib smtplib smtpd poplib
        imaplib nntplib telnetlib xmlrpc xmlrpclib socketserver SocketServer
        BaseHTTPServer SimpleHTTPServer CGIHTTPServer DocXMLRPCServer
        SimpleXMLRPCServer asynchat asyncore select selectors webbrowser wsgiref cgi
        cgitb antigravity urlparse robotparser cookielib Cookie
        """,
    "deserialization": """
        pickle _pickle cPickle pickletools marshal shelve copyreg copy_reg _compat_pickle
        plistlib xdrlib
        """,
    "data": """
        collections _collections _collections_abc datetime _datetime _pydatetime decimal
        _decimal _pydecimal fractions numbers enum dataclasses typing _typing array struct
        _struct uuid _uuid string _string math cmath statistics _statistics random _random
        heapq _heapq bisect _bisect calendar time zoneinfo _zoneinfo ipaddress argparse
        abc _abc _py_abc keyword textwrap unicodedata base64 binascii hashlib _hashlib hmac
        secrets UserDict UserList UserString sets md5 sha re _sre sre_compile sre_parse
        sre_constants weakref _weakref _weakrefset queue _queue Queue reprlib repr
        contextvars _contextvars graphlib colorsys json _json tomllib quopri stringprep
        errno stat _stat locale _locale gettext fnmatch shlex difflib pprint warnings
        _warnings traceback tracemalloc _tracemalloc itertools contextlib exceptions
        __future__ html htmlentitydefs HTMLParser xml pyexpat _elementtree email
        encodings _codecs mimetypes getopt optparse csv _csv _blake2 _md5 _sha1 _sha2
        _sha256 _sha3 _sha512 _hmac zlib _compression _zstd
        """,
}

# torch 2.x's torch/nn/modules/__init__.py (pytorch/pytorch source): submodules
# and the names of __all__.
TORCH2_NN_SUBMODULES = """
module linear activation adaptive batchnorm channelshuffle container conv distance
dropout flatten fold instancenorm linear_cross_entropy_options loss normalization
padding pixelshuffle pooling rnn sparse transformer upsampling lazy utils _functions
""".split()
TORCH2_NN_MODULES = """
AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveLogSoftmaxWithLoss
AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d AlphaDropout AvgPool1d AvgPool2d
AvgPool3d BCELoss BCEWithLogitsLoss BatchNorm1d BatchNorm2d BatchNorm3d Bilinear CELU
CTCLoss ChannelShuffle CircularPad1d CircularPad2d CircularPad3d ConstantPad1d
ConstantPad2d ConstantPad3d Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d
ConvTranspose3d CosineEmbeddingLoss CosineSimilarity CrossEntropyLoss CrossMapLRN2d
Dropout Dropout1d Dropout2d Dropout3d ELU Embedding EmbeddingBag FeatureAlphaDropout
Flatten Fold FractionalMaxPool2d FractionalMaxPool3d GELU GLU GRU GRUCell
GaussianNLLLoss GroupNorm Hardshrink Hardsigmoid Hardswish Hardtanh HingeEmbeddingLoss
HuberLoss Identity InstanceNorm1d InstanceNorm2d InstanceNorm3d KLDivLoss L1Loss
LPPool1d LPPool2d LPPool3d LSTM LSTMCell LayerNorm LazyBatchNorm1d LazyBatchNorm2d
LazyBatchNorm3d LazyConv1d LazyConv2d LazyConv3d LazyConvTranspose1d
LazyConvTranspose2d LazyConvTranspose3d LazyInstanceNorm1d LazyInstanceNorm2d
LazyInstanceNorm3d LazyLinear LeakyReLU Linear LinearCrossEntropyLoss
LinearCrossEntropyOptions LocalResponseNorm LogSigmoid LogSoftmax MSELoss
MarginRankingLoss MaxPool1d MaxPool2d MaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d
Mish Module ModuleDict ModuleList MultiLabelMarginLoss MultiLabelSoftMarginLoss
MultiMarginLoss MultiheadAttention NLLLoss PReLU PairwiseDistance ParameterDict
ParameterList PixelShuffle PixelUnshuffle PoissonNLLLoss RMSNorm RNN RNNBase RNNCell
RNNCellBase RReLU ReLU ReLU6 ReflectionPad1d ReflectionPad2d ReflectionPad3d
ReplicationPad1d ReplicationPad2d ReplicationPad3d SELU Sequential SiLU Sigmoid
SmoothL1Loss SoftMarginLoss Softmax Softmax2d Softmin Softplus Softshrink Softsign
SyncBatchNorm Tanh Tanhshrink Threshold Transformer TransformerDecoder
TransformerDecoderLayer TransformerEncoder TransformerEncoderLayer TripletMarginLoss
TripletMarginWithDistanceLoss Unflatten Unfold Upsample UpsamplingBilinear2d
UpsamplingNearest2d ZeroPad1d ZeroPad2d ZeroPad3d
""".split()
# torch 0.4's torch/nn/modules/__init__.py: names it had that later versions
# dropped or moved.
TORCH0_NN_MODULES = "Container NLLLoss2d".split()

# torch 2.x additions to torch.optim (torch/optim/__init__.py and
# torch/optim/lr_scheduler.py __all__ of torch 2.x): (submodule, class).
TORCH2_OPTIM = [
    ("_adafactor", "Adafactor"),
    ("lr_scheduler", "LRScheduler"),
    ("lr_scheduler", "_LRScheduler"),
]


def go_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nn_modules():
    import torch.nn.modules as M

    subs = {m.name for m in pkgutil.iter_modules(M.__path__)}
    classes = set()
    for s in sorted(subs):
        mod = importlib.import_module("torch.nn.modules." + s)
        for n, v in vars(mod).items():
            if inspect.isclass(v) and issubclass(v, torch.nn.Module) and v.__module__ == mod.__name__:
                classes.add(n)
    classes |= set(M.__all__) | set(TORCH2_NN_MODULES) | set(TORCH0_NN_MODULES)
    subs |= set(TORCH2_NN_SUBMODULES)
    return sorted(subs), sorted(classes)


def walk_packages(pkg):
    yield pkg.__name__
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        yield m.name


def other_nn_modules():
    """nn.Module classes of torch 1.13 outside torch.nn.modules, by defining module."""
    out = set()
    roots = [torch.nn, importlib.import_module("torch.ao.nn")]
    for root in roots:
        for name in walk_packages(root):
            if name.startswith("torch.nn.modules") or ".test" in name:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    mod = importlib.import_module(name)
            except Exception:
                continue
            for n, v in vars(mod).items():
                if (
                    inspect.isclass(v)
                    and issubclass(v, torch.nn.Module)
                    and v.__module__ == name
                    and not n.startswith("_")
                ):
                    out.add(name + "." + n)
    # Hook objects that modules keep in their hook dicts.
    for path in [
        "torch.nn.utils.weight_norm.WeightNorm",
        "torch.nn.utils.spectral_norm.SpectralNorm",
        "torch.nn.utils.spectral_norm.SpectralNormLoadStateDictPreHook",
        "torch.nn.utils.spectral_norm.SpectralNormStateDictHook",
    ]:
        out.add(path)
    return sorted(out)


def optim_classes():
    out = set()
    for m in pkgutil.iter_modules(torch.optim.__path__):
        mod = importlib.import_module("torch.optim." + m.name)
        for n, v in vars(mod).items():
            if inspect.isclass(v) and v.__module__ == mod.__name__:
                out.add((m.name, n))
    out |= set(TORCH2_OPTIM)
    return sorted(out)


def main():
    stdlib = (set(sys.stdlib_module_names) | set(CPYTHON_SOURCE_NAMES) | set(PYTHON2_MODULES) | {"test"}
              | set(CPYTHON_TEST_MODULES) | installed_modules())
    purpose = {}
    for p, names in PURPOSES.items():
        for n in names.split():
            if n in purpose:
                raise SystemExit(f"{n} has two purposes")
            purpose[n] = p
    for n in purpose:
        if n not in stdlib and n != "_dummy_thread":
            raise SystemExit(f"purpose given for {n}, which is not a listed module")
    stdlib.add("_dummy_thread")

    subs, classes = nn_modules()
    others = other_nn_modules()
    optim = optim_classes()

    names = _compat_pickle.NAME_MAPPING
    imports = _compat_pickle.IMPORT_MAPPING
    kinds = {
        "code": "purposeCode",
        "system": "purposeSystem",
        "files": "purposeFiles",
        "network": "purposeNetwork",
        "deserialization": "purposeDeserialization",
        "data": "purposeData",
        "other": "purposeOther",
    }

    w = []
    w.append("// Code generated by scripts/gen_globals.py; DO NOT EDIT.\n")
    w.append("\npackage pickle\n")
    w.append(
        "\n// stdlibModules maps each top-level module of Python's standard library"
        "\n// (CPython 3.11 to 3.14 and Python 2.7) to its purpose.\n"
    )
    w.append("var stdlibModules = map[string]purpose{\n")
    for n in sorted(stdlib):
        w.append(f"\t{go_str(n)}: {kinds[purpose.get(n, 'other')]},\n")
    w.append("}\n")
    w.append(
        "\n// compatNames is _compat_pickle.NAME_MAPPING: Python 2 (module, name)"
        "\n// pairs and the Python 3 globals the unpickler reads them as.\n"
    )
    w.append("var compatNames = map[[2]string][2]string{\n")
    for (m, n), (m3, n3) in sorted(names.items()):
        w.append(f"\t{{{go_str(m)}, {go_str(n)}}}: {{{go_str(m3)}, {go_str(n3)}}},\n")
    w.append("}\n")
    w.append("\n// compatModules is _compat_pickle.IMPORT_MAPPING: Python 2 modules and their Python 3 names.\n")
    w.append("var compatModules = map[string]string{\n")
    for m, m3 in sorted(imports.items()):
        w.append(f"\t{go_str(m)}: {go_str(m3)},\n")
    w.append("}\n")
    w.append("\n// nnSubmodules are the submodules of torch.nn.modules (torch 0.4, 1.13 and 2.x).\n")
    w.append("var nnSubmodules = map[string]bool{\n")
    for s in subs:
        w.append(f"\t{go_str(s)}: true,\n")
    w.append("}\n")
    w.append("\n// nnModuleClasses are the nn.Module classes of torch.nn.modules (torch 0.4, 1.13 and 2.x).\n")
    w.append("var nnModuleClasses = map[string]bool{\n")
    for c in classes:
        w.append(f"\t{go_str(c)}: true,\n")
    w.append("}\n")
    w.append("\n// nnOtherModules are nn.Module classes (and module hooks) of torch 1.13 outside torch.nn.modules.\n")
    w.append("var nnOtherModules = []string{\n")
    for c in others:
        w.append(f"\t{go_str(c)},\n")
    w.append("}\n")
    w.append("\n// optimClasses are the classes of torch.optim's submodules (torch 1.13 and 2.x).\n")
    w.append("var optimClasses = []string{\n")
    for s, c in optim:
        w.append(f"\t{go_str('torch.optim.' + s + '.' + c)},\n")
    w.append("}\n")
    with open(OUT, "w") as f:
        f.write("".join(w))
    subprocess.run(["gofmt", "-w", OUT], check=True)
    print(f"wrote {OUT}: {len(stdlib)} modules, {len(names)}+{len(imports)} mappings, "
          f"{len(subs)} nn submodules, {len(classes)} nn classes, {len(others)} other modules, {len(optim)} optim classes")


if __name__ == "__main__":
    main()
