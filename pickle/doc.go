// Package pickle reads the checkpoints PyTorch writes with torch.save
// (.pt, .pth, .bin, .ckpt) without Python and without running any code
// from them.
//
// # Containers
//
// Three containers are recognised by their content, not their name: the
// zip format of torch >= 1.6 (records under any archive folder, the
// byteorder record honoured, storages read in place), the legacy format
// (consecutive pickles followed by raw storages, with storage views) and
// the tar format of torch <= 0.1.10. A TorchScript archive (torch.jit.save) is read
// as data: its data.pkl holds the module's objects (inert *Object values of the
// __torch__ namespace) and ordinary tensors, its constants.pkl the constants of its
// code (File.Constants); the code itself is never run. torch.load hands such an
// archive to torch.jit.load, which runs the __setstate__ methods its code defines (and
// TorchScript can create and write files), so an archive whose code/ defines
// __setstate__ anywhere is refused in every mode (an *UnsafeGlobalError with
// ReasonScriptCode); so is one whose objects keep a state that only their code
// interprets (a __setstate__ tuple, as scripted quantized modules do).
//
// A file that is none of these is refused with a *FormatError; when it is one of the
// files commonly taken for a checkpoint, the error says which and what to do: a
// checkpoint compressed with gzip, bzip2, xz or zstd, a zip archive holding one, a
// NumPy .npy file or .npz archive, an HDF5 (Keras, h5py), ONNX, GGUF or safetensors
// file, a JSON document, a Git LFS pointer, an HTML or XML page saved in place of a
// download, a file whose start is all zero bytes. These are told by magic numbers and
// prefixes that no pickle starts with, and only of a file no container reads.
//
// # CRC-32s
//
// torch.load of torch 1.13 checks no zip record's CRC-32, so that a checkpoint
// damaged in a download or on disk loads with wrong values and no word; a converter
// would carry them into every file it writes. This package checks the CRC-32 of a
// record, failing with a *FormatError that names it, when it has read all of the
// record's bytes: the pickle records (data.pkl, constants.pkl, byteorder), read whole
// when the file is opened; a deflated record, when it is inflated to its end; and a
// stored storage record when its bytes have been read in order from its first to its
// last, as reading the tensors that cover a storage whole does (Tensor.Bytes, WriteTo,
// Float32s, Float64s, Int64s: what a conversion does), checked by the read that reaches
// its end, after which every read of the storage fails. Bytes that are copied without
// being read are checked before they are copied: Tensor.Span, which gives where they
// lie for a copy within the kernel, first reads the record whole (Storage.Verify), once
// for all the tensors that view it. A tensor over a stored record whose reading would
// skip bytes of the record or read them out of order (a view of part of a storage, a
// transposed view) has the record read whole and checked first, in the same way, before
// any of its bytes are returned. The CRC-32 is not checked for reads at random offsets through
// Storage.ReadAt, which return the bytes as they are unless Storage.Verify is called,
// and for a record whose CRC-32 is 0, which torch 2.x writes
// for every record with torch.serialization.set_crc32_options(False). ZipRecord's
// stored records, read by other zip containers (npz), are checked in the same ways.
//
// # Safety
//
// The object pickle is decoded, after a validating pre-scan of the opcode
// stream, by this package's own opcode machine, which follows Python's
// unpickler op by op on values of this package: every length, count and
// offset the file claims is checked against the bytes that exist before
// anything is allocated, the memory decoding would take is bounded by a
// multiple of the file's size, and every failure is an error naming the
// file and the offset. Dict keys and set items are hashed as Python hashes
// them (numbers by value, tuples by their items, tensors and objects by
// identity; an unhashable key is an error). Nothing from the file is ever
// executed.
//
// # Globals
//
// A pickle names globals (a module and a name). Each is resolved as
// Python's unpickler resolves it: the module and the name must be dotted
// Python identifiers; Python 2 names are mapped as Python maps them
// (__builtin__ to builtins, copy_reg to copyreg, cPickle to pickle,
// SimpleHTTPServer to http.server, ...); a dotted name is an attribute
// walk from the module. What the walk reaches, its canonical dotted path,
// is judged:
//
//   - In torch, numpy and Python's standard library (every module of
//     CPython 3.11 to 3.14 and of Python 2.7), a global is read only if its
//     path is on this package's allowlist: tensor and storage rebuilding,
//     dtypes, containers, numpy values, the data classes checkpoints carry
//     (argparse.Namespace, pathlib paths, datetime values, ...), the
//     nn.Module classes of torch.nn.modules by class name, torch.optim's
//     classes. A class that pickles build as instances (nn.Module and
//     optimizer classes, argparse.Namespace, ...) is never called: its
//     constructor would run on the file's arguments (LambdaLR calls its
//     lr_lambda); a value class (pathlib, datetime, decimal, fractions,
//     slice, SimpleNamespace) is called with plain values only. Every other global there is refused in every mode
//     (UnsafeGlobalError.Denied): ptport cannot show it harmless, and many
//     are not (torch.save, torch.load, the os module torch imports reached
//     as torch.os.system, codecs.open, numpy.load, builtins.eval).
//   - Elsewhere (__main__, a model's own package, third-party libraries) is
//     code ptport never runs. Instances that a pickle builds the way Python
//     pickles objects are data and are read as inert *Object values. A call
//     of such a function or class (REDUCE, INST, OBJ) is refused unless
//     Options.AllowObjects is set, which keeps it as an inert record of
//     the call; a dotted name there is refused in every mode, as its walk
//     may pass through any module that code imports. Such a global is,
//     without Options.AllowObjects, only ever the class of an instance: as
//     a value it is read in containers and in the attributes of user
//     objects, but never where code of torch, numpy or the standard
//     library that torch.load runs receives it (the state of an instance
//     of an allowed class, whose methods an attribute can hide; the items
//     of its SETITEMS and APPENDS; the arguments of an allowed function or
//     class; and all that these hold, then or later), nor as the append,
//     extend, add or __setstate__ attribute through which Python's
//     unpickler calls an instance. What torch.load may still run is the
//     code of the user classes a file instantiates, as Python unpickles
//     them (their __new__, __setstate__, __setitem__, extend, and the
//     special methods torch's own code uses on them), with the file's data.
//
// A refusal is an *UnsafeGlobalError naming the global, the path it
// reaches, why it is refused and where in the file it is named.
//
// # Values
//
// File.Root and the trees Leaves walks hold nil, bool, int64, *big.Int
// (ints beyond int64), float64, complex128, string, []byte, *Dict, List,
// Tuple, *Tensor, *SparseTensor, *NestedTensor, *Storage (a bare pickled
// storage), Scalar (a numpy scalar, which keeps its dtype), *Object and
// Global. A Python set or frozenset becomes a List in a deterministic
// order, a torch.Size a Tuple, a torch.device its string ("cpu", "cuda:0")
// and a torch dtype a Global such as torch.float32. A numpy array of a numeric or bool dtype (C or
// Fortran order, either byte order) becomes a *Tensor over its bytes; an
// array of objects or strings a nested List. An instance that a pickle
// builds the way Python pickles objects (NEWOBJ or copyreg._reconstructor,
// then BUILD, SETITEMS, APPENDS) becomes an *Object holding what the
// pickle gave it, which Leaves names by the leaf NAME.__class__ (ClassKey)
// and its parts below NAME, and Write writes as a plain dict of the same
// names; a Python 2 OrderedDict (built from a list of pairs) a *Dict. A
// BUILD on a tensor is applied as torch applies it (Tensor.__setstate__: a
// state of four items is set_(storage, offset, size, stride), which makes
// the tensor that view), so that what is read is what torch.load reads;
// torch.Tensor and the legacy tensor classes that a NEWOBJ builds empty are
// read so too.
//
// Options.Strict reads exactly what torch.load(weights_only=True) of torch
// 2.10 and later loads (see Options.Strict for the source it follows and
// how torch 2.6 to 2.9 differ). Whatever mode a file is read in, File.GlobalInfo
// says of each global whether weights_only accepts it, and
// File.WeightsOnlyRefusal whether it would load the file at all.
//
// # Tensors
//
// Tensors are strided views (shape, strides, offset) on storages whose
// bytes stay in the file and are read on demand through an io.ReaderAt (a
// read-only memory map when Open is given a regular file), so opening a
// large checkpoint reads only its pickle and its directory. Tensors sharing
// a storage share the *Storage. Float16 and bfloat16 are decoded by this
// package, exactly, and so are the 8-bit floats of torch 2.x.
//
// A view is checked as torch's set_ checks it: sizes, strides and offset are int64s
// (ints), none negative, and its last element, at offset + Σ (size-1)×stride, lies in
// its storage; its elements take at most 2^62 bytes. A tensor with a size of 0 holds no
// element and is read whatever its strides and offset, as torch reads it, provided its
// other sizes have a product an int holds (the largest stride of its contiguous
// layout; torch's own overflows beyond it).
//
// What torch 2.x writes is read too: the dtypes it pickles with _rebuild_tensor_v3 over
// an UntypedStorage (several dtypes may view one storage), the lazy conjugate and
// negative bits (Tensor.Conj, Tensor.Neg: the reading methods apply them), quantized
// tensors (Tensor.Quantization), sparse and nested tensors (*SparseTensor,
// *NestedTensor, whose components are strided tensors) and meta tensors (a shape and no
// data: reading one is an error wrapping ErrNoData). Leaves names the parts of each.
package pickle
