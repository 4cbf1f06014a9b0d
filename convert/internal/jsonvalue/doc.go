// Package jsonvalue is the typed JSON encoding of the non-tensor leaves of a checkpoint
// that ptport's outputs keep (safetensors "ptport.values", the npz member __metadata__,
// the JSON document's "values"): integers stay integers and floats floats across a
// round trip, and the values JSON has no form of its own for (NaN and infinite floats,
// bytes, complex numbers, numpy scalars) are objects of one member named for their
// type, so that each comes back as the type it was. Each value is an item of a tree's
// root and nests, as every tree ptport reads or writes, at most pickle.MaxDepth levels
// below it: ReadLeaves refuses a deeper one, as package leaf's Nested does for the
// writers. It also holds the text of float elements that package ptjson writes, which
// keeps every bit of a NaN.
package jsonvalue
