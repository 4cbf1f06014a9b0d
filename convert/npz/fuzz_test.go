package npz

import (
	"archive/zip"
	"bytes"
	"io"
	"math"
	"testing"

	"github.com/ptport/ptport/convert/internal/fuzzcheck"
	"github.com/ptport/ptport/pickle"
)

// fuzzSeeds are the seeds of FuzzRead: files Write wrote, a deflated one, and hostile ones.
func fuzzSeeds(t testing.TB) map[string][]byte {
	f32, _ := pickle.NewTensor(pickle.F32, []int{2, 3}, make([]byte, 24))
	u8, _ := pickle.NewTensor(pickle.U8, []int{3}, []byte{1, 2, 3})
	var buf bytes.Buffer
	if err := Write(&buf, []pickle.Leaf{{Name: "w", Value: f32}, {Name: "enc/b", Value: u8}, {Name: "epoch", Value: int64(3)}}, map[string]string{"note": "seed"}); err != nil {
		t.Fatal(err)
	}
	written := append([]byte(nil), buf.Bytes()...)
	// The same members sharing their bytes: b's directory entry points at a's header.
	buf.Reset()
	Write(&buf, []pickle.Leaf{{Name: "a", Value: u8}, {Name: "b", Value: u8}}, nil)
	overlap := buf.Bytes()
	cd := bytes.Index(overlap, []byte("PK\x01\x02"))
	i := cd + bytes.Index(overlap[cd:], []byte("b.npy")) - 46
	copy(overlap[i+42:i+46], []byte{0, 0, 0, 0})
	// A member named outside the archive, which Write refuses to write.
	buf.Reset()
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "../../x.npy", Method: zip.Store})
	w.Write(npyHeader("<f4", []int{1}))
	w.Write(make([]byte, 4))
	zw.Close()
	traversal := append([]byte(nil), buf.Bytes()...)
	// BF16, widened and recorded, and values of every tagged kind.
	bf16, _ := pickle.NewTensor(pickle.BF16, []int{2}, []byte{0x80, 0x3f, 0xff, 0xff})
	buf.Reset()
	if err := Write(&buf, []pickle.Leaf{{Name: "w", Value: bf16}, {Name: "nan", Value: math.NaN()},
		{Name: "b", Value: []byte("x")}, {Name: "z", Value: complex(1, math.Inf(-1))}}, nil); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"written":   written,
		"bf16":      append([]byte(nil), buf.Bytes()...),
		"deflated":  deflatedNPZ(t, 1<<10),
		"overlap":   overlap,
		"traversal": traversal,
	}
}

func TestFuzzSeeds(t *testing.T) { fuzzcheck.Seeds(t, "FuzzRead", fuzzSeeds(t)) }

// FuzzRead reads arbitrary bytes as an npz file, reads every tensor and writes what it
// read back: no input may panic, hang or allocate beyond 64 MiB + 64 × its size (a
// deflated member's tensor, up to 1032 times its compressed size, is streamed, not held).
func FuzzRead(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzcheck.Budget(t, 64<<20+64*uint64(len(b)), func() {
			leaves, err := Read("fuzz", bytes.NewReader(b), int64(len(b)))
			if err != nil {
				return
			}
			for _, l := range leaves {
				if tt, ok := l.Value.(*pickle.Tensor); ok {
					tt.WriteTo(io.Discard) // a deflated member may be corrupt past its header
				}
			}
			var out bytes.Buffer
			if err := Write(&out, leaves, nil); err != nil {
				return
			}
			if _, err := Read("again", bytes.NewReader(out.Bytes()), int64(out.Len())); err != nil {
				t.Fatalf("reading what Write wrote: %v", err)
			}
		})
	})
}
