package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/pickle"
)

func TestWriteNames(t *testing.T) {
	x, err := pickle.NewTensor(pickle.F32, []int{1}, make([]byte, 4))
	if err != nil {
		t.Fatal(err)
	}
	for _, leaves := range [][]pickle.Leaf{
		{{Name: "a.b", Value: x}, {Name: "a.b", Value: x}},
		{{Name: "a", Value: x}, {Name: "a", Value: "text"}},
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
