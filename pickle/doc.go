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
// the tar format of torch <= 0.1.10. A TorchScript archive is refused with
// an error saying to save a state_dict instead.
//
// # Safety
//
// The object pickle is decoded on gopickle's opcode machine after a
// validating pre-scan of the opcode stream: every length, count and offset
// the file claims is checked against the bytes that exist before anything
// is allocated, the memory decoding would take is bounded by a multiple of
// the file's size, and gopickle's panics on malformed input are turned
// into errors. Every global the pickle names is checked against an
// allowlist modelled on torch's weights_only unpickler, plus the classes
// of torch.nn.modules (whole pickled modules become inert *Object values).
// Other globals are an *UnsafeGlobalError; Options.AllowObjects turns them
// into inert values, except globals that could run code under torch.load
// (os.system, subprocess, eval, exec, getattr, __import__, torch.load,
// ...), which are always refused. Nothing from the file is ever executed.
//
// # Values
//
// File.Root and the trees Leaves walks hold nil, bool, int64, *big.Int
// (ints beyond int64), float64, complex128, string, []byte, *Dict, List,
// Tuple, *Tensor, *Storage (a bare pickled storage), *Object and Global.
// A Python set or frozenset becomes a List in a deterministic order, a
// torch.Size a Tuple, a torch.device its string ("cpu", "cuda:0") and a
// torch dtype a Global such as torch.float32.
//
// # Tensors
//
// Tensors are strided views (shape, strides, offset) on storages whose
// bytes stay in the file and are read on demand through an io.ReaderAt (a
// read-only memory map when Open is given a regular file), so opening a
// large checkpoint reads only its pickle and its directory. Tensors sharing
// a storage share the *Storage. Float16 and bfloat16 are decoded by this
// package, exactly.
package pickle
