// Package npz reads and writes NumPy's npz format (a zip of .npy arrays, as numpy.savez
// and numpy.savez_compressed write it) over a checkpoint's leaves, as package pickle
// names them.
//
// Read takes every array of a dtype ptport knows as a tensor named after its member,
// without ".npy"; C-order and Fortran-order arrays keep their layout as strides, and
// big-endian arrays ('>f4', '>i8', as numpy.load reads them) are byte-swapped as they are
// read, into the little-endian order of every tensor ptport gives. Stored members stay
// in the file and are read lazily; compressed ones are inflated into memory, never past
// their declared size, which is itself bounded by the file's. A file whose names clash
// is ambiguous and refused, naming the name: two members of one name (which Python's
// zipfile writes, warning, and numpy.load reads as the last), or a tensor and a value
// of __metadata__ of one name; ptport does not guess which one its writer meant.
//
// Write stores each tensor C-contiguous, widening bfloat16 (which NumPy lacks) exactly
// to float32 and recording its dtype in the 0-d string array "__dtypes__", so that Read
// gives it back as bfloat16, bit for bit (numpy.load gives the float32 array). A
// checkpoint's non-tensor values are kept as typed JSON in the 0-d string array
// "__metadata__", which Read gives back as the values they were; other string metadata,
// such as the provenance a batch conversion records, goes in 0-d string arrays
// "__KEY__" and is read back with ReadMetadata. A value nests at most pickle.MaxDepth
// (1000) levels below the root of the tree whose item it is, as in every format ptport
// reads and writes: Read refuses a deeper one and Write does not write it. numpy.load
// reads every array Write writes. The names "__metadata__" and "__dtypes__" are Write's
// own: it refuses tensors of them, and Read refuses a file whose member of either name
// is not a string array.
//
// The package works on []pickle.Leaf, not on a convert.Checkpoint, so that package
// convert can open and export npz files through it.
package npz
