// Package pickle reads the checkpoints PyTorch writes with torch.save
// (.pt, .pth, .bin, .ckpt) without Python and without running any code
// from them.
//
// Three containers are recognised by their content: the zip format of
// torch >= 1.6, the legacy format (consecutive pickles followed by raw
// storages) and the tar format of torch <= 0.1.10. The object pickle is
// decoded on gopickle's opcode machine after a validating pre-scan of the
// opcode stream: every length, count and offset the file claims is
// checked against the file before anything is allocated, and every global
// the pickle names is checked against an allowlist modelled on torch's
// weights_only unpickler. Nothing from the file is ever executed.
//
// Tensors are views (shape, strides, offset) on storages whose bytes stay
// in the file and are read on demand through an io.ReaderAt (a read-only
// memory map when Open is given a regular file), so opening a large
// checkpoint reads only its pickle and its directory.
package pickle
