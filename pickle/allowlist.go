package pickle

//go:generate /usr/bin/python3 ../scripts/gen_globals.py

// gkind says what an allowed global is to this package: how the unpickler
// interprets it.
type gkind int

const (
	gUser          gkind = iota // a class or function of code outside torch, numpy and the standard library
	gShipped                    // user code of a package that pip installs with torch (torchRequirements): instances as gUser's, but never called, built from arguments or passed where code would call it
	gInertClass                 // a class pickles build as instances (NEWOBJ, copyreg._reconstructor), never by calling it: inert *Object values
	gValueClass                 // a class of values pickles build by calling it with plain values (pathlib, datetime, ...): inert records of the call
	gInertCall                  // a function known harmless, called with plain values, whose result is kept as an inert *Object
	gParameter                  // torch.nn.parameter.Parameter
	gRebuildTensor              // torch._utils._rebuild_tensor
	gRebuildTensorV2
	gRebuildTensorV3
	gRebuildParameter
	gRebuildParameterWithState
	gRebuildFromTypeV2
	gRebuildDeviceFromCPU // torch._utils._rebuild_device_tensor_from_cpu_tensor
	gRebuildUnsupported   // sparse, quantized, meta, wrapper-subclass and numpy tensors
	gRebuildQTensor       // torch._utils._rebuild_qtensor
	gRebuildSparse        // torch._utils._rebuild_sparse_tensor
	gRebuildSparseCSR     // torch._utils._rebuild_sparse_csr_tensor (torch 1.10-1.13)
	gRebuildNested        // torch._utils._rebuild_nested_tensor
	gRebuildMeta          // torch._utils._rebuild_meta_tensor_no_storage
	gRebuildWrapper       // torch._utils._rebuild_wrapper_subclass
	gRebuildFromNumpy     // torch._utils._rebuild_device_tensor_from_numpy
	gJitList              // torch.jit._pickle.build_intlist, ...: the list itself
	gJitTypeTag           // torch.jit._pickle.restore_type_tag: the value itself
	gJitTensorFromID      // torch.jit._pickle.build_tensor_from_id
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
	gNewObjFn             // copyreg.__newobj__
	gNewObjExFn           // copyreg.__newobj_ex__
	gCodecsEncode         // _codecs.encode
	gInt                  // builtins.int
	gFloat                // builtins.float
	gStr                  // builtins.str
	gBool                 // builtins.bool
	gNumpyDType           // numpy.dtype
	gNumpyDTypeClass      // numpy 2's dtype classes: numpy.dtypes.Float64DType, ...
	gNumpyScalar          // numpy.core.multiarray.scalar
	gNumpyReconstruct     // numpy.core.multiarray._reconstruct
	gNumpyNDArray         // numpy.ndarray
	gNumpyFromBuffer      // numpy.core.numeric._frombuffer
)

// An entry is a global known to be safe: what ptport reads it as, and
// whether torch.load(weights_only=True) accepts it (the _get_allowed_globals
// of torch/_weights_only_unpickler.py; see Options.Strict for the version).
// path is the canonical dotted path: the defining module, then the name;
// weights_only knows a global by the path the pickle spells, after torch's
// own mapping of Python 2 names (see woPath).
type entry struct {
	path string
	kind gkind
	wo   bool
}

// Values of entry.wo.
const (
	weightsOnly = true  // torch.load(weights_only=True) accepts it
	notWO       = false // torch.load(weights_only=True) refuses it
)

// allowlist is every global of torch, numpy and Python's standard library
// that ptport reads, besides the families that initAllowlist adds (torch
// dtypes, storage and tensor classes, the nn.Module classes of
// torch.nn.modules and torch.optim's classes). An entry is added only for a
// name shown harmless by reading torch's, numpy's or Python's source: a
// class whose construction runs nothing but its own initialisation of
// data, or a function that only builds data.
var allowlist = []entry{
	{"collections.OrderedDict", gOrderedDict, weightsOnly},
	{"collections.Counter", gCounter, weightsOnly},
	{"collections.defaultdict", gDefaultDict, notWO},
	{"builtins.set", gSet, weightsOnly},
	{"builtins.frozenset", gFrozenSet, notWO},
	{"builtins.list", gList, notWO},
	{"builtins.dict", gDict, notWO},
	{"builtins.tuple", gTuple, notWO},
	{"builtins.bytearray", gBytearray, weightsOnly},
	{"builtins.bytes", gBytes, notWO},
	{"builtins.complex", gComplex, weightsOnly},
	{"builtins.object", gObject, notWO},
	{"builtins.int", gInt, notWO},
	{"builtins.float", gFloat, notWO},
	{"builtins.str", gStr, notWO},
	{"builtins.bool", gBool, notWO},
	{"builtins.slice", gValueClass, notWO},
	{"copyreg._reconstructor", gReconstructor, notWO},
	{"copyreg.__newobj__", gNewObjFn, notWO},
	{"copyreg.__newobj_ex__", gNewObjExFn, notWO},
	{"_codecs.encode", gCodecsEncode, weightsOnly},

	// numpy values (numpy 1.x spells numpy._core numpy.core).
	{"numpy.dtype", gNumpyDType, notWO},
	{"numpy.ndarray", gNumpyNDArray, notWO},
	{"numpy.core.multiarray.scalar", gNumpyScalar, notWO},
	{"numpy._core.multiarray.scalar", gNumpyScalar, notWO},
	{"numpy.core.multiarray._reconstruct", gNumpyReconstruct, notWO},
	{"numpy._core.multiarray._reconstruct", gNumpyReconstruct, notWO},
	{"numpy.core.numeric._frombuffer", gNumpyFromBuffer, notWO},
	{"numpy._core.numeric._frombuffer", gNumpyFromBuffer, notWO},

	{"torch._utils._rebuild_tensor", gRebuildTensor, weightsOnly},
	{"torch._utils._rebuild_tensor_v2", gRebuildTensorV2, weightsOnly},
	{"torch._utils._rebuild_tensor_v3", gRebuildTensorV3, weightsOnly},
	{"torch._utils._rebuild_parameter", gRebuildParameter, weightsOnly},
	{"torch._utils._rebuild_parameter_with_state", gRebuildParameterWithState, weightsOnly},
	{"torch._utils._rebuild_device_tensor_from_cpu_tensor", gRebuildDeviceFromCPU, weightsOnly},
	{"torch._utils._rebuild_sparse_tensor", gRebuildSparse, weightsOnly},
	{"torch._utils._rebuild_sparse_csr_tensor", gRebuildSparseCSR, notWO},
	{"torch._utils._rebuild_meta_tensor_no_storage", gRebuildMeta, weightsOnly},
	{"torch._utils._rebuild_qtensor", gRebuildQTensor, weightsOnly},
	{"torch._utils._rebuild_wrapper_subclass", gRebuildWrapper, weightsOnly},
	{"torch._utils._rebuild_device_tensor_from_numpy", gRebuildFromNumpy, weightsOnly},
	{"torch._utils._rebuild_xla_tensor", gRebuildFromNumpy, notWO},
	{"torch._utils._rebuild_nested_tensor", gRebuildNested, notWO},
	// What TorchScript's data.pkl calls (torch/jit/_pickle.py): each returns
	// its argument, or part of it.
	{"torch.jit._pickle.build_intlist", gJitList, notWO},
	{"torch.jit._pickle.build_tensorlist", gJitList, notWO},
	{"torch.jit._pickle.build_doublelist", gJitList, notWO},
	{"torch.jit._pickle.build_boollist", gJitList, notWO},
	{"torch.jit._pickle.build_tensor_from_id", gJitTensorFromID, notWO},
	{"torch.jit._pickle.restore_type_tag", gJitTypeTag, notWO},
	{"torch._tensor._rebuild_from_type_v2", gRebuildFromTypeV2, weightsOnly},
	{"torch._utils._rebuild_from_type_v2", gRebuildFromTypeV2, notWO},
	{"torch._tensor.Tensor", gTensorClass, notWO},
	{"torch.nn.parameter.Parameter", gParameter, weightsOnly},
	{"torch.serialization._get_layout", gLayoutFn, weightsOnly},
	{"torch.storage.UntypedStorage", gStorageClass, weightsOnly},
	{"torch.storage._UntypedStorage", gStorageClass, notWO},
	{"torch.storage.TypedStorage", gTypedStorage, weightsOnly},
	{"torch.storage._TypedStorage", gTypedStorage, notWO},
	{"torch.Size", gSize, weightsOnly},
	{"torch.device", gDevice, weightsOnly},
	{"torch.Tensor", gTensorClass, weightsOnly},

	// Old torch (<= 0.4) modules keep their backend, the result of this
	// call, in _backend.
	{"torch.nn.backends.thnn._get_thnn_function_backend", gInertCall, notWO},
	// The cuDNN RNN's weight buffer, pickled as a placeholder.
	{"torch.backends.cudnn.rnn.Unserializable", gInertClass, notWO},

	// Data classes of the standard library that checkpoints carry: values
	// their pickles build by a call with plain values (pathlib, datetime,
	// decimal, fractions, slice, SimpleNamespace), instances otherwise.
	{"argparse.Namespace", gInertClass, notWO},
	{"types.SimpleNamespace", gValueClass, notWO},
	{"pathlib.Path", gValueClass, notWO},
	{"pathlib.PosixPath", gValueClass, notWO},
	{"pathlib.WindowsPath", gValueClass, notWO},
	{"pathlib.PurePath", gValueClass, notWO},
	{"pathlib.PurePosixPath", gValueClass, notWO},
	{"pathlib.PureWindowsPath", gValueClass, notWO},
	{"datetime.datetime", gValueClass, notWO},
	{"datetime.date", gValueClass, notWO},
	{"datetime.time", gValueClass, notWO},
	{"datetime.timedelta", gValueClass, notWO},
	{"datetime.timezone", gValueClass, notWO},
	{"decimal.Decimal", gValueClass, notWO},
	{"fractions.Fraction", gValueClass, notWO},
	{"uuid.UUID", gInertClass, notWO},
	{"collections.UserDict", gInertClass, notWO},
	{"collections.UserList", gInertClass, notWO},
	{"collections.UserString", gInertClass, notWO},
}

// tensorClasses are torch's legacy tensor types (torch.FloatTensor, ...):
// torch._tensor_classes, which torch/csrc/tensor/python_tensor.cpp declares
// for the CPU and CUDA backends (torch, torch.cuda) and their sparse ones
// (torch.sparse, torch.cuda.sparse), of these scalar types; the sparse
// backends have no BoolTensor. torch.Tensor is on the allowlist itself.
var tensorClasses = map[string]bool{
	"DoubleTensor": true, "FloatTensor": true, "HalfTensor": true, "BFloat16Tensor": true,
	"LongTensor": true, "IntTensor": true, "ShortTensor": true, "CharTensor": true,
	"ByteTensor": true, "BoolTensor": false,
}

// torchConstants are torch values with no behaviour: quantization schemes
// (which torch.load(weights_only=True) accepts), layouts and memory formats.
var torchConstants = map[string]bool{
	"per_tensor_affine": true, "per_tensor_symmetric": true, "per_channel_affine": true,
	"per_channel_symmetric": true, "per_channel_affine_float_qparams": true,
	"strided": false, "sparse_coo": false, "sparse_csr": false, "sparse_csc": false,
	"sparse_bsr": false, "sparse_bsc": false, "_mkldnn": false,
	"contiguous_format": false, "channels_last": false, "channels_last_3d": false, "preserve_format": false,
}

// otherDTypes are torch dtypes with no DType here; they are allowed as
// values, and an error where elements of them must be read.
var otherDTypes = map[string]bool{
	"quint8": true, "qint8": true, "qint32": true, "quint4x2": true, "quint2x4": true,
	"uint1": true, "uint2": true, "uint3": true, "uint4": true, "uint5": true, "uint6": true, "uint7": true,
	"int1": true, "int2": true, "int3": true, "int4": true, "int5": true, "int6": true, "int7": true,
}

// allowed indexes the allowlist and its families by canonical path.
var allowed = initAllowlist()

func initAllowlist() map[string]entry {
	m := make(map[string]entry)
	add := func(e entry) {
		if _, dup := m[e.path]; dup {
			panic("pickle: allowlist entry " + e.path + " appears twice")
		}
		m[e.path] = e
	}
	for _, e := range allowlist {
		add(e)
	}
	for n, dt := range torchDTypes {
		// weights_only knows a dtype by str(dtype): torch.float32, not the
		// alias torch.float.
		add(entry{"torch." + n, gDType, dtypeNames[dt] == n})
	}
	for n := range otherDTypes {
		if _, ok := torchDTypes[n]; !ok {
			add(entry{"torch." + n, gDType, weightsOnly})
		}
	}
	for n := range storageDTypes {
		// torch._storage_classes: the legacy classes of torch and
		// torch.cuda (which has no quantized ones), and
		// torch.storage.UntypedStorage by its module, not torch.UntypedStorage.
		_, quantized := quantizedStorages[n]
		add(entry{"torch." + n, gStorageClass, n != "UntypedStorage"})
		if n != "UntypedStorage" {
			add(entry{"torch.cuda." + n, gStorageClass, !quantized})
		}
	}
	for n, sparse := range tensorClasses {
		add(entry{"torch." + n, gTensorClass, weightsOnly})
		add(entry{"torch.cuda." + n, gTensorClass, weightsOnly})
		if sparse {
			add(entry{"torch.sparse." + n, gTensorClass, weightsOnly})
			add(entry{"torch.cuda.sparse." + n, gTensorClass, weightsOnly})
		}
	}
	for n, wo := range torchConstants {
		add(entry{"torch." + n, gConstant, wo})
	}
	for _, p := range nnOtherModules {
		add(entry{p, gInertClass, notWO})
	}
	for _, p := range optimClasses {
		add(entry{p, gInertClass, notWO})
	}
	for n := range npDTypeClasses {
		add(entry{"numpy.dtypes." + n, gNumpyDTypeClass, notWO})
	}
	return m
}

// lookupAllowed returns the allowlist entry of a canonical path.
func lookupAllowed(path string) (entry, bool) {
	if e, ok := allowed[path]; ok {
		return e, true
	}
	// torch.nn.modules.<submodule>.<Class>: an nn.Module class by its class
	// name, under any submodule torch has defined one in.
	if rest, ok := cutPrefix(path, "torch.nn.modules."); ok {
		if sub, class, ok := cutDot(rest); ok && nnSubmodules[sub] && nnModuleClasses[class] {
			return entry{path, gInertClass, notWO}, true
		}
	}
	return entry{}, false
}
