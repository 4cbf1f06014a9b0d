package safetensors

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert/internal/fuzzcheck"
	"github.com/ptport/ptport/pickle"
)

// fileOf is a safetensors file of the JSON header hdr and data.
func fileOf(hdr string, data []byte) []byte {
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	return append(append(b, hdr...), data...)
}

// fuzzSeeds are the seeds of FuzzRead: files Write wrote, and hostile ones.
func fuzzSeeds(t testing.TB) map[string][]byte {
	f32, _ := pickle.NewTensor(pickle.F32, []int{2, 3}, make([]byte, 24))
	bf16, _ := pickle.NewTensor(pickle.BF16, []int{4}, []byte{0x80, 0x3f, 0, 0, 0x80, 0xbf, 0xc0, 0x7f})
	i64, _ := pickle.NewTensor(pickle.I64, []int{}, make([]byte, 8))
	var buf bytes.Buffer
	leaves := []pickle.Leaf{{Name: "w", Value: f32}, {Name: "h", Value: bf16}, {Name: "step", Value: i64}, {Name: "epoch", Value: int64(3)}, {Name: "lr", Value: 0.5}}
	if err := Write(&buf, leaves, map[string]string{"note": "seed"}); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"written":         buf.Bytes(),
		"deep-metadata":   fileOf(`{"__metadata__":{"a":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}}`, nil),
		"overlap":         fileOf(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)),
		"past-the-end":    fileOf(`{"a":{"dtype":"F32","shape":[1048576,1048576],"data_offsets":[0,4398046511104]}}`, make([]byte, 4)),
		"header-size":     binary.LittleEndian.AppendUint64(nil, 1<<62),
		"metadata-tensor": fileOf(`{"__metadata__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"dup-field":       fileOf(`{"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4],"x":1}}`, make([]byte, 4)),
		"dup-metadata":    fileOf(`{"__metadata__":{"k":"v","k":"w"}}`, nil),
		"dup-keys":        fileOf(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"names":           fileOf(`{"w\u001b[2K\r":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"../../x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)),
	}
}

func TestFuzzSeeds(t *testing.T) { fuzzcheck.Seeds(t, "FuzzRead", fuzzSeeds(t)) }

// FuzzRead reads arbitrary bytes as a safetensors file, reads every tensor and writes
// what it read back: no input may panic, hang or allocate beyond 64 MiB + 64 × its size.
// ReadWithMetadata must give what Read and ReadMetadata give, errors included.
func FuzzRead(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzcheck.Budget(t, 64<<20+64*uint64(len(b)), func() {
			r := bytes.NewReader(b)
			leaves, err := Read("fuzz", r, int64(len(b)))
			both, meta, errBoth := ReadWithMetadata(context.Background(), "fuzz", r, int64(len(b)))
			if fmt.Sprint(err) != fmt.Sprint(errBoth) || !reflect.DeepEqual(leaves, both) {
				t.Fatalf("ReadWithMetadata: %d leaves, %v; Read: %d leaves, %v", len(both), errBoth, len(leaves), err)
			}
			if err != nil {
				return
			}
			if alone, err := ReadMetadata("fuzz", r, int64(len(b))); err != nil || !reflect.DeepEqual(alone, meta) {
				t.Fatalf("ReadWithMetadata's metadata %v, ReadMetadata's %v (%v)", meta, alone, err)
			}
			for _, l := range leaves {
				if tt, ok := l.Value.(*pickle.Tensor); ok {
					if _, err := tt.WriteTo(io.Discard); err != nil {
						t.Fatalf("%s: a tensor Read gave cannot be read: %v", l.Name, err)
					}
				}
			}
			var out bytes.Buffer
			if err := Write(&out, leaves, nil); err != nil {
				return // names Write refuses
			}
			back, err := Read("again", bytes.NewReader(out.Bytes()), int64(out.Len()))
			if err != nil || len(back) < len(leaves)-1 {
				t.Fatalf("reading what Write wrote: %d leaves of %d, %v", len(back), len(leaves), err)
			}
		})
	})
}
