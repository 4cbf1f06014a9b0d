package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/convert/internal/limittest"
	"github.com/ptport/ptport/pickle"
)

func TestWriteNames(t *testing.T) {
	x, err := pickle.NewTensor(pickle.F32, []int{1}, make([]byte, 4))
	if err != nil {
		t.Fatal(err)
	}
	for _, leaves := range [][]pickle.Leaf{
		{{Name: "__metadata__", Value: x}},
	} {
		var buf bytes.Buffer
		err := Write(&buf, leaves, nil)
		var ne *leaf.NameError
		if !errors.As(err, &ne) || buf.Len() != 0 {
			t.Errorf("%q: error %v after %d bytes, want a *leaf.NameError before any byte", leaves[0].Name, err, buf.Len())
		}
	}
}

func TestDeepHeader(t *testing.T) {
	for _, depth := range []int{10000, 1000000} {
		meta := `{"__metadata__":{"a":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}}`
		file := binary.LittleEndian.AppendUint64(nil, uint64(len(meta)))
		file = append(file, meta...)
		start := time.Now()
		_, err := Read("deep.safetensors", bytes.NewReader(file), int64(len(file)))
		var fe *pickle.FormatError
		if !errors.As(err, &fe) || len(err.Error()) > 500 {
			t.Errorf("__metadata__ nested %d deep: error %.300v, want a short *pickle.FormatError", depth, err)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("__metadata__ nested %d deep: %v", depth, d)
		}
	}
}

// TestHeaderLimit writes the longest header the limit allows, which reads back, and
// refuses a character of value more before writing anything; a header over the limit is
// refused by the reader as over it, not as not fitting the file. The limit is lowered
// so that the files stay small.
func TestHeaderLimit(t *testing.T) {
	defer func(m int64) { maxHeader = m }(maxHeader)
	maxHeader = 4096
	w, err := pickle.NewTensor(pickle.F32, []int{2}, make([]byte, 8))
	if err != nil {
		t.Fatal(err)
	}
	write := func(n int) ([]byte, error) {
		var buf bytes.Buffer
		err := Write(&buf, []pickle.Leaf{{Name: "w", Value: w}, {Name: "vocab", Value: strings.Repeat("é", n)}}, nil)
		return buf.Bytes(), err
	}
	n, file := limittest.Boundary(t, int(maxHeader), maxHeader, write, func(file []byte, n int) error {
		leaves, err := Read("max.safetensors", bytes.NewReader(file), int64(len(file)))
		if err == nil && leaves[len(leaves)-1].Value != strings.Repeat("é", n) {
			err = errors.New("another value read back")
		}
		return err
	})
	// "é" takes 2 bytes, and the header is padded to a multiple of 8.
	if h := int64(binary.LittleEndian.Uint64(file)); h > maxHeader || h < maxHeader-8 {
		t.Errorf("largest header written has %d bytes, want %d or up to 8 fewer", h, maxHeader)
	}
	maxHeader = MaxHeader
	big, err := write(n + 8)
	if err != nil {
		t.Fatal(err)
	}
	maxHeader = 4096
	_, err = Read("big.safetensors", bytes.NewReader(big), int64(len(big)))
	if err == nil || !strings.Contains(err.Error(), "more than the 4096 (4 KiB) that a safetensors header may have") {
		t.Errorf("header over the limit: error %v, want one naming the limit", err)
	}
}

// TestFirstBadMember: a header with several bad members fails with the error of the
// least key, every time, whatever order its members are read in.
func TestFirstBadMember(t *testing.T) {
	var members []string
	for _, k := range []string{"m", "c", "x", "a", "q", "b"} {
		members = append(members, `"`+k+`":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"dtype":"F32"}`)
	}
	b := fileOf("{"+strings.Join(members, ",")+"}", make([]byte, 4))
	for range 50 {
		_, err := Read("f", bytes.NewReader(b), int64(len(b)))
		if err == nil || !strings.Contains(err.Error(), `tensor "a": `) {
			t.Fatalf("got %v, want the error of tensor \"a\"", err)
		}
	}
}
