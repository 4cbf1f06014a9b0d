package npz

import (
	"archive/zip"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// TestBigEndian reads the big-endian arrays numpy.savez wrote (testdata/numpy/gen.py):
// each tensor's little-endian bytes in C order are those NumPy gives, for every dtype,
// Fortran order, 0-d and empty arrays; and written back, they read the same again.
func TestBigEndian(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "numpy", "bigendian.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []struct {
		Name, Descr, Hex string
		Shape            []int
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join("testdata", "numpy", "bigendian.npz"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, file []byte) []pickle.Leaf {
		leaves, err := Read("bigendian.npz", bytes.NewReader(file), int64(len(file)))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(leaves) != len(want) {
			t.Fatalf("%s: %d leaves, want %d", what, len(leaves), len(want))
		}
		for i, l := range leaves {
			w := want[i]
			tt := l.Value.(*pickle.Tensor)
			dt, _, _ := dtypeOfDescr(w.Descr)
			data, err := tt.Bytes()
			if err != nil {
				t.Fatalf("%s: %s: %v", what, l.Name, err)
			}
			if l.Name != w.Name || tt.DType != dt || !slices.Equal(tt.Shape, w.Shape) || hex.EncodeToString(data) != w.Hex {
				t.Errorf("%s: %q %s %v %x, want NumPy's %q %s %v %s", what, l.Name, tt.DType, tt.Shape, data, w.Name, dt, w.Shape, w.Hex)
			}
		}
		return leaves
	}
	leaves := check("NumPy's", file)
	var buf bytes.Buffer
	if err := Write(&buf, leaves, nil); err != nil {
		t.Fatal(err)
	}
	check("written", buf.Bytes())
}

// TestDuplicateMembers: an npz holding two members of one name (testdata/numpy/dup.npz,
// which numpy.load reads as the last), or a tensor and a value of __metadata__ of one
// name, is refused with a *pickle.FormatError naming it.
func TestDuplicateMembers(t *testing.T) {
	dup, err := os.ReadFile(filepath.Join("testdata", "numpy", "dup.npz"))
	if err != nil {
		t.Fatal(err)
	}
	// A tensor "a" beside __metadata__ holding the value "a": the members of two npz
	// files that Write wrote, in one zip.
	var tensorFile, valueFile bytes.Buffer
	if err := Write(&tensorFile, []pickle.Leaf{{Name: "a", Value: tensor(t, 2)}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := Write(&valueFile, []pickle.Leaf{{Name: "a", Value: int64(5)}}, nil); err != nil {
		t.Fatal(err)
	}
	var both bytes.Buffer
	zw := zip.NewWriter(&both)
	for _, f := range [][]byte{tensorFile.Bytes(), valueFile.Bytes()} {
		zr, err := zip.NewReader(bytes.NewReader(f), int64(len(f)))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range zr.File {
			if err := zw.Copy(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		file []byte
		want string
	}{
		{"dup.npz", dup, `member a.npy: a second member of this name: the file holds two arrays "a"`},
		{"a tensor and a value", both.Bytes(), `"a": the file holds a tensor and a value of this name`},
	} {
		_, err := Read(tc.what, bytes.NewReader(tc.file), int64(len(tc.file)))
		var fe *pickle.FormatError
		if !errors.As(err, &fe) || fe.File != tc.what || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a *pickle.FormatError: ...%s", tc.what, err, tc.want)
		}
	}
}
