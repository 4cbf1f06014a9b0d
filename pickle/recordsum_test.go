package pickle

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordCRC reads the checkpoints of testdata/pickle/crc, torch's files with one
// byte of a storage record flipped, which torch.load reads without a word: a storage
// read whole and in order fails with a *FormatError naming the record, through every
// reading method and either source (a memory map, an io.ReaderAt), and keeps failing;
// so does, read first, a view of part of the storage (whose own bytes are intact: the
// record is checked whole before any of them is returned) and a transposed view of the
// whole storage, which reads it out of order; the intact file reads.
func TestRecordCRC(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pickle", "crc")
	openers := map[string]func(path string) (*File, error){
		"Open": func(path string) (*File, error) { return Open(path, nil) },
		"NewReader": func(path string) (*File, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			return NewReader(bytes.NewReader(b), int64(len(b)), nil)
		},
	}
	reads := map[string]func(*Tensor) error{
		"Bytes":    func(x *Tensor) error { _, err := x.Bytes(); return err },
		"WriteTo":  func(x *Tensor) error { _, err := x.WriteTo(io.Discard); return err },
		"Float64s": func(x *Tensor) error { _, err := x.Float64s(); return err },
	}
	for how, open := range openers {
		for read, readFn := range reads {
			t.Run(how+"/"+read, func(t *testing.T) {
				f, err := open(filepath.Join(dir, "flipped.pt"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				ts := leafTensors(t, f.Root)
				wantCRC := func(what string, err error) {
					t.Helper()
					var fe *FormatError
					if !errors.As(err, &fe) || fe.Where != "good/data/0" || !strings.Contains(err.Error(), "CRC-32 mismatch") {
						t.Errorf("%s: error %v, want a *FormatError of good/data/0's CRC-32", what, err)
					}
				}
				wantCRC("the view of part of the storage, read first", readFn(ts["v"]))
				for i := range 2 {
					wantCRC(fmt.Sprintf("reading the storage whole, %d", i+1), readFn(ts["w"]))
				}
			})
			t.Run(how+"/"+read+"/transposed", func(t *testing.T) {
				f, err := open(filepath.Join(dir, "flipped.pt"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				w := leafTensors(t, f.Root)["w"] // 6 elements: w.view(2, 3).t()
				tr := &Tensor{DType: w.DType, Shape: []int{3, 2}, Strides: []int{1, 3}, Storage: w.Storage}
				err = readFn(tr)
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Where != "good/data/0" {
					t.Errorf("a transposed view of the whole storage: error %v, want good/data/0's CRC-32 mismatch", err)
				}
			})
		}
		t.Run(how+"/big-endian", func(t *testing.T) {
			f, err := open(filepath.Join(dir, "flipped_big.pt"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			bad := 0
			for name, x := range leafTensors(t, f.Root) {
				if _, err := x.Bytes(); err != nil {
					if !strings.Contains(err.Error(), "bigendian/data/0: CRC-32 mismatch") {
						t.Errorf("%s: %v", name, err)
					}
					bad++
				}
			}
			if bad == 0 {
				t.Error("no tensor of the corrupt record is refused")
			}
		})
		t.Run(how+"/intact", func(t *testing.T) {
			f, err := open(filepath.Join(dir, "good.pt"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ts := leafTensors(t, f.Root)
			for range 2 {
				for _, name := range []string{"w", "v"} {
					if _, err := ts[name].Bytes(); err != nil {
						t.Errorf("%s: %v", name, err)
					}
				}
			}
		})
	}
}

// TestRecordCRCOrder reads a corrupt storage out of order: from its middle first,
// which is not checked, then whole, which is.
func TestRecordCRCOrder(t *testing.T) {
	f, err := Open(filepath.Join("..", "testdata", "pickle", "crc", "flipped.pt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := leafTensors(t, f.Root)["w"].Storage
	p := make([]byte, 8)
	if _, err := s.ReadAt(p, 8); err != nil {
		t.Fatalf("a read from the middle: %v", err)
	}
	if _, err := s.ReadAt(p[:4], 20); err != nil {
		t.Fatalf("a read of the end out of order: %v", err)
	}
	whole := make([]byte, 24)
	if _, err := s.ReadAt(whole[:8], 0); err != nil {
		t.Fatalf("the first part in order: %v", err)
	}
	if _, err := s.ReadAt(whole[8:], 8); err == nil || !strings.Contains(err.Error(), "CRC-32 mismatch") {
		t.Fatalf("the read that completes the record: %v, want a CRC-32 mismatch", err)
	}
}

// TestRecordVerify: Storage.Verify and Tensor.Span check a stored record's CRC-32,
// reading the record once for all the tensors that view it; Span reports no span of a
// corrupt record, whose tensors then fail to read, and a span of an intact one.
func TestRecordVerify(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pickle", "crc")
	for _, c := range []struct {
		file    string
		corrupt bool
	}{{"good.pt", false}, {"flipped.pt", true}} {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			src := &countingReaderAt{r: bytes.NewReader(b)}
			f, err := NewReader(src, int64(len(b)), nil)
			if err != nil {
				t.Fatal(err)
			}
			ts := leafTensors(t, f.Root)
			opened := src.n
			_, _, _, vOK := ts["v"].Span() // a view of part of w's storage: the whole record is checked
			_, _, n, wOK := ts["w"].Span()
			if vOK == c.corrupt || wOK == c.corrupt {
				t.Errorf("Span of v, w: ok %v, %v; want %v", vOK, wOK, !c.corrupt)
			}
			if read := src.n - opened; read != 24 {
				t.Errorf("the spans of two views of a 24-byte record read %d bytes, want 24", read)
			}
			err = ts["w"].Storage.Verify()
			_, readErr := ts["w"].Bytes()
			if !c.corrupt {
				if err != nil || readErr != nil || n != 24 {
					t.Errorf("intact: Verify %v, Bytes %v, span of %d bytes", err, readErr, n)
				}
				return
			}
			for what, err := range map[string]error{"Verify": err, "Bytes": readErr} {
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Where != "good/data/0" || !strings.Contains(err.Error(), "CRC-32 mismatch") {
					t.Errorf("%s: %v, want a *FormatError of good/data/0's CRC-32", what, err)
				}
			}
		})
	}
}

// TestZipRecordCRC reads the member w.npy of testdata/pickle/crc/flipped.npz, numpy's
// file with a byte of w's data flipped, through ZipRecord: reads in order from its start,
// overlapping ones included, fail with a *FormatError naming it once they reach its end,
// and so does Verify of a storage over its data, whose Span reports no span; the intact
// file's member reads, and its storage's span lies in the file.
func TestZipRecordCRC(t *testing.T) {
	for _, c := range []struct {
		file    string
		corrupt bool
	}{{"good.npz", false}, {"flipped.npz", true}} {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "testdata", "pickle", "crc", c.file))
			if err != nil {
				t.Fatal(err)
			}
			zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			var member *zip.File
			for _, f := range zr.File {
				if f.Name == "w.npy" {
					member = f
				}
			}
			open := func() (io.ReaderAt, int64) {
				r, n, err := ZipRecord(member, bytes.NewReader(b), int64(len(b)))
				if err != nil {
					t.Fatal(err)
				}
				return r, n
			}
			checkErr := func(what string, err error) {
				t.Helper()
				var fe *FormatError
				if c.corrupt != (err != nil) || err != nil && (!errors.As(err, &fe) || fe.Where != "w.npy" || !strings.Contains(err.Error(), "CRC-32 mismatch")) {
					t.Errorf("%s: %v, want a CRC-32 mismatch of w.npy: %v", what, err, c.corrupt)
				}
			}
			r, n := open()
			p := make([]byte, n)
			_, err1 := r.ReadAt(p[:12], 0)
			_, err2 := r.ReadAt(p[10:n-4], 10) // overlaps the read before
			if err1 != nil || err2 != nil {
				t.Fatalf("reads before the end: %v, %v", err1, err2)
			}
			_, err = r.ReadAt(p[n-4:], n-4)
			checkErr("the read that reaches the end", err)

			r, n = open()
			data := n - 24 // w's 6 float32s end the member
			s, err := NewStorageAt(F32, r, data, 24)
			if err != nil {
				t.Fatal(err)
			}
			x := &Tensor{DType: F32, Shape: []int{6}, Strides: []int{1}, Storage: s}
			src, off, _, ok := x.Span()
			checkErr("Verify", s.Verify())
			if ok == c.corrupt {
				t.Errorf("Span: ok %v", ok)
			}
			if ok && (src == nil || !bytes.Equal(b[off:off+24], p[data:])) {
				t.Errorf("the span at %d is not the member's data", off)
			}
			_, err = x.Bytes()
			checkErr("Bytes", err)
		})
	}
}
