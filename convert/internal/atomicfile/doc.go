// Package atomicfile writes output files that appear whole or not at all: to a temporary
// file beside the target, named with Prefix, then synced and renamed over the target.
// The writer it gives the caller also copies ranges of other files within the kernel
// (copy_file_range, on Linux), which lets a converter move tensor data without reading
// it.
package atomicfile
