// Package batch converts many checkpoints, or checks many models against their
// references, in parallel, resumably and safely.
//
// Run walks its inputs (files, and folders recursively, a chunk of entries at a time, so
// that a folder of any size needs bounded memory; and a list of paths, a line at a
// time), converts each to OutDir with the tree mirrored, and reports every input once:
// ok, skipped (its output is up to date, or there is no reference to check against) or
// failed with the reason. One failed input never stops the batch; Run's error is only
// for unusable options, folders or lists. The output folder may be a folder of the
// inputs: the outputs found there (the files that record a source, of any format) are
// never inputs, and no output replaces an input. A
// sharded checkpoint (an index and its
// shards) is one input, converted whole; its shards are never inputs of their own.
//
// Each output is written to a temporary file beside its target and renamed into place
// when complete (see convert.WriteFile), so after a crash no partial output exists under
// a final name; the temporaries an interrupted run left are removed by the next run of
// the same shard. Workers commit each output (fsync, rename) in the background while
// they convert their next input. Cancelling the context abandons the work in progress
// and removes its temporaries.
//
// Every output records its source: the input's size, modification time (mtime_ns) and
// sha256, as the JSON object {"size", "mtime_ns", "sha256"} in the format's own place
// for metadata (safetensors' __metadata__ "ptport.source", the npz string array
// "__source__", the JSON document's first key "source", the .pt record
// ".ptport_source", which torch.load ignores; the index's "metadata" as "ptport.source"
// for an output in shards), and for a sharded input each of its shards' too, under
// "shards" ({"file", "size", "mtime_ns", "sha256"}). A rerun skips an input whose output
// records, for each of its files, the same size and time, or the same size and hash (a
// copy, a touch); Options.Force converts it again. The record names the input, by its
// path relative to its root ("input"), and says where it lies from the output
// ("input_place": 16 hex digits of the sha256 of the input's path relative to the
// output's folder, so that no path of the machine is published): an output is
// replaced only by a conversion of the input at that place, or of an input of the
// content it records. So an input of the same name in another tree (a/m.pt, then
// b/m.pt, converted into one folder) is another input, while a tree moved with its
// outputs (converted in place, then copied to another mount point) keeps them as its
// own. A file there that records another input, or no source (a file ptport did not
// write), fails the input with a *ReplaceError and stays; Options.Force replaces only
// ptport's output of an input of the same name at another place (the tree seen from
// another mount point, whose paths from the output differ). Outputs of older versions
// are taken as they were: one that records the input's name alone is of the input of
// that name (or of a path that ends it, or that it ends: a list's zoo/m.pth into . is
// a walk's m.pth into zoo); one that names no input is up to date for an input of its
// content, and rewritten, naming its input, by a conversion with Force while that
// input is unchanged, and otherwise stays.
//
// A walk passes over the files below OutDir that record a source, ptport's outputs,
// and counts them (Summary.PassedOver), and apart those whose input is neither beside
// them nor an input of the run (Summary.Orphans: their input is gone, or in another
// tree); a run into another output folder converts them. An output in a subfolder of
// an input of the run (zoo/pt/m.pt of zoo/m.pth, in a run over zoo) is no orphan.
//
// Shard and Shards take a stable share of the inputs, by a hash of each path relative to
// its root (a sharded checkpoint's by its index's), so that N runs, on one machine or
// many, together convert every input exactly once.
package batch
