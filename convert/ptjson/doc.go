// Package ptjson reads and writes ptport's JSON format: a checkpoint's tensors, with
// their names, dtypes, shapes and every element in C order, and its non-tensor values,
// as one JSON document that any language reads without a library for tensors.
//
// Elements round-trip exactly, to the bit: floats are written in the shortest form that
// reads back to the same value of their dtype (float16 and bfloat16 through float32,
// which holds them exactly; reading rounds to nearest even, and refuses a number that
// would round to an infinity, outside its dtype's range), infinities as the strings
// "Infinity" and "-Infinity", the dtype's canonical quiet NaN
// (torch.tensor(float("nan"), dtype=...)'s: 0x7ff8000000000000 in float64, 0x7fc00000
// in float32, 0x7e00 in float16, 0x7fc0 in bfloat16) as "NaN", and any other NaN, whose
// sign and payload JSON has no number for, as "NaN:0x" and its bits in hexadecimal, two
// digits a byte ("NaN:0xffc00000"); complex numbers are [real, imag] pairs of their
// parts' dtype. Non-tensor values are typed JSON: integers stay integers and floats
// floats, and the values JSON has no form of its own for are objects of one member
// named for their type, {"builtins.float": "NaN"}, {"builtins.bytes": BASE64},
// {"numpy.float32": 0.1}. Each value is an item of a tree's root, and nests at most
// pickle.MaxDepth (1000) levels below that root, as trees do in every format ptport
// reads and writes: Read refuses a deeper one, and Write refuses to write one, before
// anything is written, so that every document it writes reads back, and converts to
// every other format.
//
// Documents written before NaNs carried their bits, which wrote every NaN as "NaN", read
// as they did, "NaN" as the canonical NaN; their NaN and infinite values, written as the
// strings "NaN", "Infinity" and "-Infinity", and their bytes, as base64 strings, read as
// those strings.
//
// A document holding two entries of one name (two tensors, a tensor and a value, two
// members of one object: the document's, a tensor's, a value's) is ambiguous: json.load
// keeps the last member of an object, and ptport refuses it, naming the object and the
// name, rather than guess. Write refuses leaves that share a name (see Write), so that
// every document it writes reads back.
//
// The format is ptport's own, and Read takes of it what Write writes: a tensor is an
// object of the members name, dtype, shape and data, in that order or at least with
// data after dtype and shape. A tensor with a member of another name is refused: it might
// change what the data mean (a "strides", an "order"), which skipping it would misread.
// The document's members other than "tensors" and "values" are its metadata.
//
// String metadata, such as the provenance a batch conversion records, comes first in
// the document, one key each, so that ReadMetadata reads it without reading the tensors.
//
// The package works on []pickle.Leaf, not on a convert.Checkpoint, so that package
// convert can open and export JSON documents through it.
package ptjson
