// Package safetensors reads and writes the safetensors format
// (https://github.com/huggingface/safetensors) over a checkpoint's leaves, as package
// pickle names them.
//
// A file is an 8-byte little-endian header size, a JSON header naming each tensor's
// dtype, shape and byte range, and the tensors' bytes. Read validates every dtype, shape
// and range against the file before anything is read or allocated (the header is at most
// 100 MiB, as the safetensors crate allows); tensors stay in the file and are read
// lazily. Read refuses what the safetensors crate refuses: a header that is not UTF-8
// (or escapes half of a UTF-16 surrogate pair, which serde_json refuses and encoding/json
// would read as U+FFFD, renaming the tensor), and tensors that do not cover the data
// section exactly, each beginning where the one before it ends, with no byte before,
// between or after them. A header with two members of one key, which the crate's JSON
// reader would take the last of, is refused too, as is a tensor named like one of the
// values ptport keeps in __metadata__: a file holding two entries of one name is
// ambiguous, and ptport does not guess which its writer meant.
//
// A tensor's entry is read as the crate reads it (its TensorInfo): an object holding
// the fields dtype, shape (non-negative integers) and data_offsets (two of them), each
// exactly once, matched by its exact name once its escapes are read. A field given
// twice, of which a JSON reader would take the last and which the crate refuses, is
// refused, naming the tensor and the field. Members of other names, which files other
// tools write may carry, are ignored, as the crate ignores them. A key given twice in
// __metadata__ is refused too, naming it.
//
// Write writes tensors C-contiguous and little-endian under their dotted names. A
// checkpoint's non-tensor values, which safetensors has no place for, are kept as typed
// JSON (integers stay integers, floats floats) in the string map __metadata__ under
// "ptport.values", and Read gives them back as the values they were; a value nests at
// most pickle.MaxDepth (1000) levels below the root of the tree whose item it is, as in
// every format ptport reads and writes: Read refuses a deeper one and Write does not
// write it. Other string metadata, such as the provenance a batch conversion records,
// is kept under "ptport.KEY" and read back with ReadMetadata.
//
// The package works on []pickle.Leaf, not on a convert.Checkpoint, so that package
// convert can open and export safetensors files through it.
package safetensors
