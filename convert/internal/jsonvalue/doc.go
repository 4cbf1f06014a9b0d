// Package jsonvalue is the typed JSON encoding of the non-tensor leaves of a checkpoint
// that ptport's outputs keep (safetensors "ptport.values", the npz member __metadata__,
// the JSON document's "values"): integers stay integers and floats floats across a round
// trip, and NaN and infinities, which JSON lacks, are the strings "NaN", "Infinity" and
// "-Infinity".
package jsonvalue
