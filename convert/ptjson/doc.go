// Package ptjson reads and writes ptport's JSON format: a checkpoint's tensors, with
// their names, dtypes, shapes and every element in C order, and its non-tensor values,
// as one JSON document that any language reads without a library for tensors.
//
// Elements round-trip exactly: floats are written in the shortest form that reads back
// to the same value of their dtype (float16 and bfloat16 through float32, which holds
// them exactly; reading rounds to nearest even), NaN and infinities as the strings
// "NaN", "Infinity" and "-Infinity", complex numbers as [real, imag] pairs. Non-tensor
// values are typed JSON: integers stay integers and floats floats.
//
// String metadata, such as the provenance a batch conversion records, comes first in
// the document, one key each, so that ReadMetadata reads it without reading the tensors.
//
// The package works on []pickle.Leaf, not on a convert.Checkpoint, so that package
// convert can open and export JSON documents through it.
package ptjson
