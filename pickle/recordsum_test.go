package pickle

import (
	"bytes"
	"errors"
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
// a view of part of the storage is read unchecked; the intact file reads.
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
				if err := readFn(ts["v"]); err != nil {
					t.Errorf("view of part of the storage: %v", err)
				}
				for i := range 2 {
					err := readFn(ts["w"])
					var fe *FormatError
					if !errors.As(err, &fe) || fe.Where != "good/data/0" || !strings.Contains(err.Error(), "CRC-32 mismatch") {
						t.Errorf("reading %d: error %v, want a *FormatError of good/data/0's CRC-32", i+1, err)
					}
				}
				if err := readFn(ts["v"]); err == nil {
					t.Error("the view reads once its storage is known corrupt")
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
