// Package export writes a checkpoint in each output format with string metadata, and
// reads the metadata back: what package convert's Export and package batch share.
//
// Metadata maps names to strings, and each format keeps the entry KEY in its own place:
// safetensors in __metadata__ as "ptport.KEY", npz as the 0-d string array "__KEY__",
// JSON as the document's key KEY before "tensors", .pt as the record ".ptport_KEY"
// beside data.pkl, which torch.load ignores.
package export
