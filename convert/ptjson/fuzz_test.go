package ptjson

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert/internal/fuzzcheck"
	"github.com/ptport/ptport/pickle"
)

// fuzzSeeds are the seeds of FuzzRead: documents Write wrote, and hostile ones.
func fuzzSeeds(t testing.TB) map[string][]byte {
	f16, _ := pickle.NewTensor(pickle.F16, []int{2}, []byte{0, 0x3c, 0, 0x7e})
	c64, _ := pickle.NewTensor(pickle.C64, []int{1}, make([]byte, 8))
	b, _ := pickle.NewTensor(pickle.BOOL, []int{2}, []byte{0, 1})
	var buf bytes.Buffer
	if err := Write(&buf, []pickle.Leaf{{Name: "h", Value: f16}, {Name: "z", Value: c64}, {Name: "m", Value: b},
		{Name: "epoch", Value: int64(3)}, {Name: "cfg", Value: pickle.List{"a", 1.5}}}, map[string]string{"note": "seed"}); err != nil {
		t.Fatal(err)
	}
	doc := func(dtype, data string) []byte {
		return []byte(`{"tensors": [{"name": "x", "dtype": "` + dtype + `", "shape": [2], "data": [` + data + `]}]}`)
	}
	return map[string][]byte{
		"written":     buf.Bytes(),
		"u8-range":    doc("U8", "300, -1"),
		"i32-float":   doc("I32", "1.5, 2"),
		"deep-values": []byte(`{"tensors": [], "values": {"a": ` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `}}`),
		"huge-shape":  []byte(`{"tensors": [{"name": "x", "dtype": "F64", "shape": [4294967296, 4294967296], "data": []}]}`),
		"dup-member":  []byte(`{"tensors": [{"name": "x", "dtype": "F32", "dtype": "I32", "shape": [1], "data": [1], "x": 0}]}`),
		"data-first":  []byte(`{"tensors": [{"data": [1], "name": "x", "dtype": "F32", "shape": [1]}]}`),
		"nan-bits":    doc("BF16", `"NaN:0xffff", "NaN:0x7fc00000"`),
		"tagged": []byte(`{"tensors": [], "values": {"f": {"builtins.float": "NaN:0xfff8000000000000"}, ` +
			`"b": {"builtins.bytes": "eA=="}, "z": {"builtins.complex": ["NaN", 1.0]}, "d": {"builtins.dict": {"builtins.dict": {}}}, ` +
			`"n": {"numpy.float16": "NaN:0xfe00"}, "x": {"builtins.float": 1.0, "y": 2}}}`),
	}
}

func TestFuzzSeeds(t *testing.T) { fuzzcheck.Seeds(t, "FuzzRead", fuzzSeeds(t)) }

// FuzzRead reads arbitrary bytes as a JSON document and writes what it read back: no
// input may panic, hang or allocate beyond 64 MiB + 256 × its size, and what Write
// writes reads back to as many leaves.
func FuzzRead(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzcheck.Budget(t, 64<<20+256*uint64(len(b)), func() {
			leaves, err := Read("fuzz", bytes.NewReader(b), int64(len(b)))
			if err != nil {
				return
			}
			var out bytes.Buffer
			if err := Write(&out, leaves, nil); err != nil {
				return
			}
			back, err := Read("again", bytes.NewReader(out.Bytes()), int64(out.Len()))
			if err != nil || len(back) != len(leaves) {
				t.Fatalf("reading what Write wrote: %d leaves of %d, %v", len(back), len(leaves), err)
			}
		})
	})
}
