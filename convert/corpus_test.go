package convert_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/convert/safetensors"
	"github.com/ptport/ptport/pickle"
)

// TestCorpusToSafetensors converts every file of the shared corpus (when it is present:
// ../../shared/corpus or $PTPORT_CORPUS) and of testdata/pickle to safetensors and
// requires each tensor there to have the name, dtype, shape and sha256 the manifest,
// made by real PyTorch, gives; the files the manifests mark as broken must not convert.
func TestCorpusToSafetensors(t *testing.T) {
	dirs := []string{fixture.Path("pickle")}
	corpus := os.Getenv("PTPORT_CORPUS")
	if corpus == "" {
		corpus = filepath.Join("..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(corpus, "MANIFEST.json")); err == nil {
		dirs = append(dirs, corpus)
	} else {
		t.Logf("no shared corpus at %s; testdata/pickle only", corpus)
	}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
		if err != nil {
			t.Fatal(err)
		}
		var manifest map[string]struct {
			Error   string `json:"error"`
			Tensors map[string]struct {
				DType  string `json:"dtype"`
				Shape  []int  `json:"shape"`
				SHA256 string `json:"sha256"`
			} `json:"tensors"`
		}
		if err := json.Unmarshal(b, &manifest); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		for name, want := range manifest {
			cp, err := convert.Open(filepath.Join(dir, name), &pickle.Options{AllowObjects: true})
			if want.Error != "" {
				if err == nil {
					cp.Close()
					t.Errorf("%s opened; the manifest says it is broken (%s)", name, want.Error)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			dst := filepath.Join(out, name+".safetensors")
			err = convert.Export(context.Background(), dst, convert.Safetensors, cp)
			cp.Close()
			// A dtype safetensors does not name (C128) must make the export fail,
			// naming the tensor, and leave no output.
			unnamed := ""
			for tn, w := range want.Tensors {
				if !safetensors.DTypes[pickle.DType(w.DType)] && (unnamed == "" || tn < unnamed) {
					unnamed = tn
				}
			}
			if unnamed != "" {
				var de *safetensors.DTypeError
				if !errors.As(err, &de) || !strings.Contains(err.Error(), "tensor ") {
					t.Errorf("%s: export error %v, want a *safetensors.DTypeError", name, err)
				}
				if _, statErr := os.Stat(dst); statErr == nil {
					t.Errorf("%s: an output was left", name)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			got, err := convert.Open(dst, nil)
			if err != nil {
				t.Fatalf("%s: %v", dst, err)
			}
			tensors, _ := leaf.Split(got.Leaves)
			if len(tensors) != len(want.Tensors) {
				t.Errorf("%s: %d tensors, want %d", name, len(tensors), len(want.Tensors))
			}
			for _, l := range tensors {
				w, ok := want.Tensors[l.Name]
				tn := l.Value.(*pickle.Tensor)
				if !ok {
					t.Errorf("%s: unexpected tensor %s", name, l.Name)
					continue
				}
				data, err := tn.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(data)
				if string(tn.DType) != w.DType || !slices.Equal(tn.Shape, w.Shape) || hex.EncodeToString(sum[:]) != w.SHA256 {
					t.Errorf("%s: %s is %s %v with other bytes; want %s %v", name, l.Name, tn.DType, tn.Shape, w.DType, w.Shape)
				}
			}
			got.Close()
		}
	}
}
