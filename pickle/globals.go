package pickle

import "strings"

// gkind says what a global is to this package.
type gkind int

const (
	gUnknown       gkind = iota // an unknown class or function (inert with AllowObjects)
	gModuleClass                // a class from torch.nn.modules: an inert module object
	gParameter                  // torch.nn.parameter.Parameter
	gRebuildTensor              // torch._utils._rebuild_tensor
	gRebuildTensorV2
	gRebuildTensorV3
	gRebuildParameter
	gRebuildParameterWithState
	gRebuildFromTypeV2
	gRebuildDeviceFromCPU // torch._utils._rebuild_device_tensor_from_cpu_tensor
	gRebuildUnsupported   // sparse, quantized, meta, wrapper-subclass and numpy tensors
	gStorageClass         // torch.FloatStorage, ..., torch.UntypedStorage
	gTypedStorage         // torch.storage.TypedStorage
	gDType                // torch.float32, ...
	gTensorClass          // torch.Tensor, torch.FloatTensor, ...
	gSize                 // torch.Size
	gDevice               // torch.device
	gLayoutFn             // torch.serialization._get_layout
	gConstant             // an allowed value with no behaviour (torch.per_tensor_affine, ...)
	gCounter              // collections.Counter
	gDefaultDict          // collections.defaultdict (a dict; the factory is dropped)
	gOrderedDict          // collections.OrderedDict
	gSet                  // builtins.set
	gFrozenSet            // builtins.frozenset
	gList                 // builtins.list
	gDict                 // builtins.dict
	gTuple                // builtins.tuple
	gBytearray            // builtins.bytearray
	gBytes                // builtins.bytes
	gComplex              // builtins.complex
	gObject               // builtins.object
	gReconstructor        // copyreg._reconstructor
	gCodecsEncode         // _codecs.encode
)

// normalizeModule maps Python 2 module names (as protocol 0-2 pickles
// written by Python 3 spell them) and renamed torch modules to the names
// the policy uses.
func normalizeModule(m string) string {
	switch m {
	case "__builtin__", "exceptions":
		return "builtins"
	case "copy_reg":
		return "copyreg"
	case "torch.tensor":
		return "torch._tensor"
	}
	return m
}

// deniedModules are modules (and their submodules) whose globals can run
// code, touch files, processes or the network, or load further pickles.
// They are refused even with Options.AllowObjects.
var deniedModules = []string{
	"os", "posix", "nt", "posixpath", "ntpath", "subprocess", "_posixsubprocess", "sys",
	"importlib", "imp", "runpy", "socket", "_socket", "ssl", "shutil", "pickle", "_pickle",
	"cPickle", "pickletools", "marshal", "shelve", "dill", "cloudpickle", "joblib",
	"code", "codeop", "pty", "tty", "ctypes", "_ctypes", "cffi", "webbrowser",
	"multiprocessing", "threading", "_thread", "thread", "signal", "asyncio",
	"timeit", "pdb", "bdb", "cProfile", "profile", "trace", "doctest", "pydoc", "idlelib",
	"distutils", "setuptools", "pip", "ensurepip", "venv", "zipimport", "pkgutil",
	"urllib", "urllib2", "http", "httplib", "ftplib", "smtplib", "telnetlib", "xmlrpc",
	"tempfile", "io", "_io", "fileinput", "types", "commands", "popen2", "platform",
	"pipes", "sched", "pexpect", "sh", "functools", "_functools", "operator", "_operator",
	"torch.hub", "torch.jit", "torch._C._jit", "torch._dynamo", "torch.fx", "torch.package",
	"torch.utils.cpp_extension", "torch.ops", "torch._ops", "torch.library",
	"torch.distributed.rpc", "torch.multiprocessing", "torch.compiler",
	"numpy.lib.npyio", "numpy.ctypeslib", "numpy.f2py", "numpy.distutils", "numpy.testing",
}

// deniedGlobals are single globals refused even with Options.AllowObjects.
var deniedGlobals = map[string]bool{
	"torch.load":                       true,
	"torch.serialization.load":         true,
	"torch.serialization._load":        true,
	"torch.serialization._legacy_load": true,
	"torch.storage._load_from_bytes":   true,
	"torch._utils._import_dotted_name": true,
	"numpy.load":                       true,
	"numpy.fromfile":                   true,
	"numpy.loadtxt":                    true,
	"numpy.genfromtxt":                 true,
	"numpy.memmap":                     true,
	"torch.from_file":                  true,
	"torch.classes":                    true,
}

// safeBuiltins are the builtins that construct plain data; every other
// builtin (eval, exec, compile, getattr, setattr, __import__, open, ...)
// is refused.
var safeBuiltins = map[string]gkind{
	"set": gSet, "frozenset": gFrozenSet, "list": gList, "dict": gDict, "tuple": gTuple,
	"bytearray": gBytearray, "bytes": gBytes, "complex": gComplex, "object": gObject,
	"int": gUnknown, "float": gUnknown, "str": gUnknown, "bool": gUnknown,
	"slice": gUnknown, "range": gUnknown,
}

var torchUtilsKinds = map[string]gkind{
	"_rebuild_tensor":                        gRebuildTensor,
	"_rebuild_tensor_v2":                     gRebuildTensorV2,
	"_rebuild_tensor_v3":                     gRebuildTensorV3,
	"_rebuild_parameter":                     gRebuildParameter,
	"_rebuild_parameter_with_state":          gRebuildParameterWithState,
	"_rebuild_from_type_v2":                  gRebuildFromTypeV2,
	"_rebuild_device_tensor_from_cpu_tensor": gRebuildDeviceFromCPU,
	"_rebuild_sparse_tensor":                 gRebuildUnsupported,
	"_rebuild_sparse_csr_tensor":             gRebuildUnsupported,
	"_rebuild_meta_tensor_no_storage":        gRebuildUnsupported,
	"_rebuild_qtensor":                       gRebuildUnsupported,
	"_rebuild_wrapper_subclass":              gRebuildUnsupported,
	"_rebuild_device_tensor_from_numpy":      gRebuildUnsupported,
	"_rebuild_nested_tensor":                 gRebuildUnsupported,
}

var tensorClasses = map[string]bool{
	"Tensor": true, "DoubleTensor": true, "FloatTensor": true, "HalfTensor": true,
	"BFloat16Tensor": true, "LongTensor": true, "IntTensor": true, "ShortTensor": true,
	"CharTensor": true, "ByteTensor": true, "BoolTensor": true,
	"ComplexFloatTensor": true, "ComplexDoubleTensor": true,
}

var torchConstants = map[string]bool{
	"per_tensor_affine": true, "per_tensor_symmetric": true, "per_channel_affine": true,
	"per_channel_symmetric": true, "per_channel_affine_float_qparams": true,
	"strided": true, "sparse_coo": true, "sparse_csr": true, "sparse_csc": true,
	"sparse_bsr": true, "sparse_bsc": true, "_mkldnn": true,
	"contiguous_format": true, "channels_last": true, "channels_last_3d": true, "preserve_format": true,
}

// otherDTypes are torch dtypes with no DType here; they are allowed as
// values, and an error where elements of them must be read.
var otherDTypes = map[string]bool{
	"complex32": true, "chalf": true, "uint16": true, "uint32": true, "uint64": true,
	"float8_e4m3fn": true, "float8_e5m2": true, "float8_e4m3fnuz": true, "float8_e5m2fnuz": true,
	"float8_e8m0fnu": true, "float4_e2m1fn_x2": true,
	"quint8": true, "qint8": true, "qint32": true, "quint4x2": true, "quint2x4": true,
	"uint1": true, "uint2": true, "uint3": true, "uint4": true, "uint5": true, "uint6": true, "uint7": true,
	"int1": true, "int2": true, "int3": true, "int4": true, "int5": true, "int6": true, "int7": true,
	"bits1x8": true, "bits2x4": true, "bits4x2": true, "bits8": true, "bits16": true,
}

// isDenied reports whether module.name is refused even with AllowObjects.
// module must be normalised.
func isDenied(module, name string) bool {
	if module == "builtins" {
		_, ok := safeBuiltins[name]
		return !ok
	}
	if deniedGlobals[module+"."+name] {
		return true
	}
	for _, d := range deniedModules {
		if module == d || strings.HasPrefix(module, d+".") {
			return true
		}
	}
	return false
}

// classify returns what a global is, and its dtype for storage classes
// and dtypes. ok is false for globals that are neither known nor denied.
// module must be normalised.
func classify(module, name string) (k gkind, dt DType, ok bool) {
	switch module {
	case "builtins":
		k, ok := safeBuiltins[name]
		return k, "", ok && k != gUnknown
	case "collections":
		switch name {
		case "OrderedDict":
			return gOrderedDict, "", true
		case "Counter":
			return gCounter, "", true
		case "defaultdict":
			return gDefaultDict, "", true
		}
	case "copyreg":
		if name == "_reconstructor" {
			return gReconstructor, "", true
		}
	case "_codecs":
		if name == "encode" {
			return gCodecsEncode, "", true
		}
	case "torch._utils":
		if k, ok := torchUtilsKinds[name]; ok {
			return k, "", true
		}
	case "torch._tensor":
		if name == "_rebuild_from_type_v2" {
			return gRebuildFromTypeV2, "", true
		}
		if name == "Tensor" {
			return gTensorClass, "", true
		}
	case "torch.nn.parameter":
		if name == "Parameter" {
			return gParameter, "", true
		}
	case "torch.serialization":
		if name == "_get_layout" {
			return gLayoutFn, "", true
		}
	case "torch.storage":
		switch name {
		case "UntypedStorage", "_UntypedStorage":
			return gStorageClass, U8, true
		case "TypedStorage", "_TypedStorage":
			return gTypedStorage, "", true
		}
	case "torch", "torch.cuda":
		if dt, ok := storageDTypes[name]; ok {
			return gStorageClass, dt, true
		}
		if module == "torch" {
			switch {
			case name == "Size":
				return gSize, "", true
			case name == "device":
				return gDevice, "", true
			case tensorClasses[name]:
				return gTensorClass, "", true
			case torchConstants[name]:
				return gConstant, "", true
			case otherDTypes[name]:
				return gDType, "", true
			}
			if dt, ok := torchDTypes[name]; ok {
				return gDType, dt, true
			}
		} else if tensorClasses[name] {
			return gTensorClass, "", true
		}
	}
	if strings.HasPrefix(module, "torch.nn.modules.") || module == "torch.nn.modules" {
		return gModuleClass, "", true
	}
	return gUnknown, "", false
}
