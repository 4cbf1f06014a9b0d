package pickle

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"path"
	"strings"
)

// identify says what a file that is no PyTorch checkpoint is, from head, its first bytes,
// and what to do with it, for the common files that are taken for checkpoints: a
// compressed or archived checkpoint, a file of another library, a page or pointer
// saved in place of a download. It returns "" when head says none of these. Each is
// told by a magic number or a prefix that no pickle starts with (none starts with an
// opcode that could begin the legacy format's magic number), and it is asked only of
// files that no reader of this package took.
func identify(head []byte) string {
	for _, m := range magics {
		if bytes.HasPrefix(head, []byte(m.prefix)) {
			return m.what
		}
	}
	switch {
	case len(head) >= 16 && bytes.Count(head, []byte{0}) == len(head):
		return fmt.Sprintf("its first %d bytes are all zero, not a PyTorch checkpoint: a download that never finished, or space set aside for one? Download the file again", len(head))
	case len(head) >= 9 && head[8] == '{' && binary.LittleEndian.Uint64(head) >= 2 && binary.LittleEndian.Uint64(head) < 1<<32:
		return "a safetensors file, not a torch.save checkpoint"
	case isONNX(head):
		return "an ONNX model (a protobuf ModelProto), not a PyTorch checkpoint: ptport reads the files torch.save writes"
	}
	text := strings.ToLower(string(bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")))
	switch {
	case strings.HasPrefix(text, "<!doctype html") || strings.HasPrefix(text, "<html") || strings.HasPrefix(text, "<head"):
		return "an HTML page, not a PyTorch checkpoint: a download that saved an error or sign-in page in place of the file? Download the file itself"
	case strings.HasPrefix(text, "<?xml"):
		return "an XML document, not a PyTorch checkpoint: a download that saved an error response in place of the file? Download the file itself"
	case strings.HasPrefix(text, "{") || strings.HasPrefix(text, "["):
		return "a JSON document, not a PyTorch checkpoint"
	}
	return ""
}

// magics are the prefixes identify knows, with what each says of its file.
var magics = []struct{ prefix, what string }{
	{"\x1f\x8b", "gzip-compressed, not a PyTorch checkpoint as it is: decompress it first (gunzip)"},
	{"BZh", "bzip2-compressed, not a PyTorch checkpoint as it is: decompress it first (bunzip2)"},
	{"\xfd7zXZ\x00", "xz-compressed, not a PyTorch checkpoint as it is: decompress it first (unxz)"},
	{"\x28\xb5\x2f\xfd", "zstd-compressed, not a PyTorch checkpoint as it is: decompress it first (unzstd)"},
	{"7z\xbc\xaf\x27\x1c", "a 7-Zip archive, not a PyTorch checkpoint: extract the checkpoint from it first (7z x)"},
	{"Rar!\x1a\x07", "a RAR archive, not a PyTorch checkpoint: extract the checkpoint from it first (unrar x)"},
	{"\x93NUMPY", "a NumPy .npy array, not a PyTorch checkpoint: ptport reads .npz archives (numpy.savez)"},
	{"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras/h5py), not a PyTorch checkpoint"},
	{"GGUF", "a GGUF model (llama.cpp), not a PyTorch checkpoint"},
	{"version https://git-lfs.github.com/spec/", "a Git LFS pointer file, not the checkpoint it stands for: fetch the file itself (git lfs pull)"},
}

// isONNX reports whether head starts as an ONNX ModelProto does: field 1, ir_version (a
// small varint), then field 2, producer_name, a short printable string.
func isONNX(head []byte) bool {
	if len(head) < 4 || head[0] != 0x08 || head[1] == 0 || head[1] >= 0x80 || head[2] != 0x12 {
		return false
	}
	n := int(head[3])
	if n == 0 || n >= 0x80 || len(head) < 4+n {
		return false
	}
	for _, c := range head[4 : 4+n] {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// describeZip says what a zip archive without a data.pkl record holds, for the error
// that refuses it: a NumPy archive, an archive holding a checkpoint file, or other
// records.
func describeZip(files []*zip.File) string {
	const notTorch = "not a torch.save checkpoint (no data.pkl record)"
	if len(files) == 0 {
		return "an empty zip archive: " + notTorch
	}
	var other *zip.File
	npy := 0
	for _, f := range files {
		switch path.Ext(f.Name) {
		case ".pt", ".pth", ".bin", ".ckpt", ".tar", ".safetensors", ".npz":
			return fmt.Sprintf("a zip archive holding %s, %s: extract the file from it first (unzip)", f.Name, notTorch)
		case ".npy":
			npy++
		default:
			if other == nil {
				other = f
			}
		}
	}
	switch {
	case other == nil:
		return "a NumPy .npz archive (numpy.savez), " + notTorch
	case npy > 0:
		return fmt.Sprintf("a zip archive of %s and other records (%s): neither an npz archive (numpy.savez writes .npy records only) nor a torch.save checkpoint (no data.pkl record)", count(npy, ".npy array"), other.Name)
	}
	return fmt.Sprintf("a zip archive of %s, the first %s: %s", count(len(files), "record"), other.Name, notTorch)
}

// count returns "1 thing" or "n things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
