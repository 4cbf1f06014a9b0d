package convert

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// TestExportCorruptRecord converts the files of testdata/pickle/crc, torch's and numpy's
// files with a byte of a stored record flipped, to every format: each conversion fails
// with a *pickle.FormatError naming the record, safetensors included, whose tensors
// would be copied within the kernel, whole or sharded, and leaves nothing in the output
// folder; the intact files convert.
func TestExportCorruptRecord(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pickle", "crc")
	for _, c := range []struct {
		in, record string // record is "" for the intact files
	}{
		{"good.pt", ""}, {"flipped.pt", "good/data/0"},
		{"good.npz", ""}, {"flipped.npz", "w.npy"},
	} {
		for _, f := range Formats {
			for _, shard := range []int64{0, 16} {
				if shard != 0 && (f != Safetensors || filepath.Ext(c.in) != ".npz") {
					continue // the npz's two members make two shards of 16 bytes
				}
				t.Run(c.in+"/"+string(f)+map[bool]string{true: "/sharded"}[shard != 0], func(t *testing.T) {
					cp, err := Open(filepath.Join(dir, c.in), nil)
					if err != nil {
						t.Fatal(err)
					}
					defer cp.Close()
					outDir := t.TempDir()
					out := filepath.Join(outDir, "out."+string(f))
					_, err = ExportFiles(context.Background(), out, f, cp, ExportOptions{MaxShardSize: shard})
					left, _ := os.ReadDir(outDir)
					if c.record == "" {
						if want := map[bool]int{false: 1, true: 3}[shard != 0]; err != nil || len(left) != want {
							t.Fatalf("intact: %v, %d files written, want %d", err, len(left), want)
						}
						if shard == 0 {
							sameTensors(t, cp, out)
						}
						return
					}
					var fe *pickle.FormatError
					if !errors.As(err, &fe) || fe.Where != c.record || !strings.Contains(err.Error(), "CRC-32 mismatch") {
						t.Errorf("error %v, want a *pickle.FormatError of %s's CRC-32", err, c.record)
					}
					for _, e := range left {
						t.Errorf("left in the output folder: %s", e.Name())
					}
				})
			}
		}
	}
}

// TestExportCorruptView converts, on its own, the view v of testdata/pickle/crc's
// flipped.pt, which views an intact part of the corrupt record: every format refuses it,
// naming the record, as it refuses the whole file.
func TestExportCorruptView(t *testing.T) {
	cp, err := Open(filepath.Join("..", "testdata", "pickle", "crc", "flipped.pt"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			v, err := cp.Select(Selection{Paths: []string{"v"}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = ExportFiles(context.Background(), filepath.Join(t.TempDir(), "v."+string(f)), f, v, ExportOptions{})
			var fe *pickle.FormatError
			if !errors.As(err, &fe) || fe.Where != "good/data/0" || !strings.Contains(err.Error(), "CRC-32 mismatch") {
				t.Errorf("error %v, want a *pickle.FormatError of good/data/0's CRC-32", err)
			}
		})
	}
}

// sameTensors checks that the checkpoint at path holds the tensors of cp, byte for byte.
func sameTensors(t *testing.T, cp *Checkpoint, path string) {
	t.Helper()
	back, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	got := map[string][]byte{}
	for _, l := range back.Leaves {
		if x, ok := l.Value.(*pickle.Tensor); ok {
			if got[l.Name], err = x.Bytes(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, l := range cp.Leaves {
		if x, ok := l.Value.(*pickle.Tensor); ok {
			want, err := x.Bytes()
			if err != nil || !bytes.Equal(got[l.Name], want) {
				t.Errorf("%s: %v, read back as %x, want %x", l.Name, err, got[l.Name], want)
			}
		}
	}
}

// TestExportSpanCharge converts to safetensors a checkpoint read from memory, whose
// tensors' spans the kernel cannot copy, under an expansion limit between their bytes
// and twice them: the bytes are written from the spans, charged once, where reading the
// tensors again after their spans went past the limit.
func TestExportSpanCharge(t *testing.T) {
	path := filepath.Join("..", "testdata", "notebook", "model.pt")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var data int64
	probe, err := NewCheckpoint(path, bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range probe.Leaves {
		if x, ok := l.Value.(*pickle.Tensor); ok {
			data += x.NumBytes()
		}
	}
	limit := data + data/2
	cp, err := NewCheckpoint(path, bytes.NewReader(b), int64(len(b)), &pickle.Options{ExpandLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	out := filepath.Join(t.TempDir(), "model.safetensors")
	if _, err := ExportFiles(context.Background(), out, Safetensors, cp, ExportOptions{}); err != nil {
		t.Fatalf("%d bytes of tensors under a limit of %d: %v", data, limit, err)
	}
	sameTensors(t, probe, out)
}
