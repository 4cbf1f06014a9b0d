package pickle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWrongFiles opens the files of testdata/pickle/wrong, each a common file that is
// taken for a checkpoint and is none, and expects a *FormatError that names the file and
// says what it is, where a reading of it as a pickle said "unknown opcode".
func TestWrongFiles(t *testing.T) {
	want := map[string]string{
		"model.pt.gz":  "gzip-compressed, not a PyTorch checkpoint as it is: decompress it first (gunzip)",
		"model.pt.bz2": "bzip2-compressed",
		"model.pt.xz":  "xz-compressed",
		"model.pt.zst": "zstd-compressed",
		"array.npy":    "a NumPy .npy array, not a PyTorch checkpoint: ptport reads .npz archives (numpy.savez)",
		"keras.h5":     "an HDF5 file (Keras/h5py), not a PyTorch checkpoint",
		"mixed.npz":    "a zip archive of 1 .npy array and other records (notes.txt): neither an npz archive",
		"zipped.zip":   "a zip archive holding model.pt, not a torch.save checkpoint (no data.pkl record): extract the file from it first",
		"other.zip":    "a zip archive of 1 record, the first README.txt: not a torch.save checkpoint (no data.pkl record)",
		"model.pt.lfs": "a Git LFS pointer file, not the checkpoint it stands for",
		"error.html":   "an HTML page, not a PyTorch checkpoint",
		"error.xml":    "an XML document, not a PyTorch checkpoint",
		"zeros.pt":     "its first 512 bytes are all zero",
		"model.onnx":   "an ONNX model",
		"model.gguf":   "a GGUF model (llama.cpp)",
	}
	files, err := filepath.Glob(filepath.Join("..", "testdata", "pickle", "wrong", "*"))
	if err != nil {
		t.Fatal(err)
	}
	// Files of the formats package convert reads, given to this package.
	others := map[string]string{
		filepath.Join("..", "testdata", "training", "sharded_st", "model-00001-of-00003.safetensors"): "a safetensors file, not a torch.save checkpoint",
		filepath.Join("..", "testdata", "convert", "pretty", "jq.json"):                               "a JSON document, not a PyTorch checkpoint",
	}
	for path, w := range others {
		_, err := Open(path, nil)
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %v, want a *FormatError saying %q", path, err, w)
		}
	}
	seen := 0
	for _, path := range files {
		name := filepath.Base(path)
		if name == "gen.py" {
			continue
		}
		seen++
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expected error for %s", name)
			}
			f, err := Open(path, nil)
			if err == nil {
				f.Close()
				t.Fatal("opened")
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != path {
				t.Fatalf("error %v (%T), want a *FormatError of %s", err, err, path)
			}
			if msg := err.Error(); !strings.Contains(msg, w) || strings.Contains(msg, "opcode") {
				t.Errorf("error %q, want one saying %q", msg, w)
			}
		})
	}
	if seen != len(want) {
		t.Errorf("%d files in testdata/pickle/wrong, want %d", seen, len(want))
	}
}

// TestIdentifyCheckpoints asks identify of the first bytes of every file that torch
// wrote among the fixtures: none is taken for another kind of file.
func TestIdentifyCheckpoints(t *testing.T) {
	var files []string
	for _, pattern := range []string{"pickle/*.pt", "pickle/torch2/*.pt", "convert/*.pt", "hostile/*.pt"} {
		m, err := filepath.Glob(filepath.Join("..", "testdata", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 50 {
		t.Fatalf("%d fixtures found", len(files))
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if what := identify(b[:min(len(b), 512)]); what != "" {
			t.Errorf("%s: identified as %q", path, what)
		}
	}
}
