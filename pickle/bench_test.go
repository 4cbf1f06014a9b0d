package pickle

import (
	"archive/zip"
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// writeLargeCheckpoint writes a zip-format checkpoint of nTensors float32
// tensors of perTensor bytes each, laid out as torch.save lays it out:
// archive/data.pkl, then archive/data/0, archive/data/1, ... stored.
func writeLargeCheckpoint(b *testing.B, name string, nTensors int, perTensor int64) {
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	numel := perTensor / 4
	p := newPK(2).orderedDict().op(opMARK)
	for i := 0; i < nTensors; i++ {
		key := strconv.Itoa(i)
		p.str("layers."+key+".weight").tensorV2("FloatStorage", key, numel, 0, []int64{numel / 1024, 1024}, []int64{1024, 1})
	}
	p.op(opSETITEMS)
	recs := []struct {
		name string
		data []byte
	}{{"data.pkl", p.stop()}, {"byteorder", []byte("little")}, {"version", []byte("3\n")}}
	for _, r := range recs {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/" + r.name, Method: zip.Store})
		if err != nil {
			b.Fatal(err)
		}
		w.Write(r.data)
	}
	chunk := seq(1<<18, 4) // 1 MiB
	for i := 0; i < nTensors; i++ {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/data/" + strconv.Itoa(i), Method: zip.Store})
		if err != nil {
			b.Fatal(err)
		}
		for n := int64(0); n < perTensor; n += int64(len(chunk)) {
			if _, err := w.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpenLarge opens a 1 GiB checkpoint (64 tensors of 16 MiB) and
// lists its leaves; tensor bytes stay in the file.
func BenchmarkOpenLarge(b *testing.B) {
	name := filepath.Join(b.TempDir(), "large.pt")
	writeLargeCheckpoint(b, name, 64, 16<<20)
	b.Run("Open+Leaves", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			f, err := Open(name, nil)
			if err != nil {
				b.Fatal(err)
			}
			leaves, err := Leaves(f.Root)
			if err != nil || len(leaves) != 64 {
				b.Fatalf("%d leaves, %v", len(leaves), err)
			}
			f.Close()
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/open")
	})
	b.Run("WriteTo", func(b *testing.B) {
		f, err := Open(name, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		t := f.Root.(*Dict).Entries[0].Value.(*Tensor)
		b.SetBytes(t.NumBytes())
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := t.WriteTo(discard{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkLeaves lists the leaves of a list of a million ints.
func BenchmarkLeaves(b *testing.B) {
	items := make(List, 1<<20)
	for i := range items {
		items[i] = int64(i)
	}
	root := &Dict{Entries: []DictEntry{{Key: "x", Value: items}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Leaves(root); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(items)), "ns/leaf")
}

// BenchmarkRecordCRC reads a 256 MiB storage whole, as a conversion does, with its
// record's CRC-32 checked and without, from a memory map (Open) and through the file
// (NewReader of an *os.File, as package convert reads).
func BenchmarkRecordCRC(b *testing.B) {
	name, file, size := largeRecord(b)
	var err error
	opts := &Options{ExpandLimit: math.MaxInt64} // each run reads the storage again
	for _, src := range []string{"mmap", "file"} {
		var f *File
		if src == "mmap" {
			f, err = Open(name, opts)
		} else {
			f, err = NewReader(file, size, opts)
		}
		if err != nil {
			b.Fatal(err)
		}
		t := f.Root.(*Dict).Entries[0].Value.(*Tensor)
		sum := t.Storage.sum
		for _, checked := range []bool{false, true} {
			b.Run(src+"/crc="+strconv.FormatBool(checked), func(b *testing.B) {
				b.SetBytes(t.NumBytes())
				for i := 0; i < b.N; i++ {
					t.Storage.sum = nil
					if checked {
						t.Storage.sum = &recordSum{file: sum.file, record: sum.record, want: sum.want, src: sum.src, base: sum.base, size: sum.size}
					}
					if _, err := t.WriteTo(discard{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		f.Close()
	}
}

// BenchmarkRecordVerify checks a 256 MiB stored record with Storage.Verify, as Tensor.Span
// does before a copy within the kernel: through a memory map (Open) and through an
// *os.File (NewReader, as convert reads), from the page cache.
func BenchmarkRecordVerify(b *testing.B) {
	name, file, size := largeRecord(b)
	var err error
	for _, src := range []string{"mmap", "file"} {
		var f *File
		if src == "mmap" {
			f, err = Open(name, nil)
		} else {
			f, err = NewReader(file, size, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
		s := f.Root.(*Dict).Entries[0].Value.(*Tensor).Storage
		sum := s.sum
		b.Run(src, func(b *testing.B) {
			b.SetBytes(sum.size)
			for i := 0; i < b.N; i++ {
				s.sum = &recordSum{file: sum.file, record: sum.record, want: sum.want, src: sum.src, base: sum.base, size: sum.size}
				if err := s.Verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
		f.Close()
	}
}

// largeRecord writes a checkpoint of one 256 MiB storage for the record benchmarks and
// opens it, closed when the benchmark ends.
func largeRecord(b *testing.B) (name string, file *os.File, size int64) {
	name = filepath.Join(b.TempDir(), "record.pt")
	writeLargeCheckpoint(b, name, 1, 256<<20)
	file, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { file.Close() })
	fi, err := file.Stat()
	if err != nil {
		b.Fatal(err)
	}
	return name, file, fi.Size()
}
