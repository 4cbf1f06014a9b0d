package convert_test

import (
	"archive/zip"
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
)

// TestInspectMemory: reading and listing a file of a value in each byte (a list of one
// int repeated by DUP, of empty tuples, of one tuple repeated by DUP) holds about 110
// bytes per byte of the file: its tree, its leaves and the inventory's values made at
// their size (48 bytes each), their JSON in shared buffers. It held 146 to 170, and the
// work allocated 560 to 960.
func TestInspectMemory(t *testing.T) {
	const n = 512 << 10
	for name, p := range map[string]string{
		"dup":         "\x80\x02](K\x00" + strings.Repeat("2", n) + "e.",
		"empty tuple": "\x80\x02](" + strings.Repeat(")", n) + "e.",
		"dup tuple":   "\x80\x02](K\x00\x85" + strings.Repeat("2", n) + "e.",
	} {
		var z bytes.Buffer
		zw := zip.NewWriter(&z)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(p))
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cp, err := convert.NewCheckpoint(name, bytes.NewReader(z.Bytes()), int64(z.Len()), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		inv := convert.Inspect(cp)
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		runtime.GC()
		runtime.ReadMemStats(&after)
		live := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		runtime.KeepAlive(cp)
		if len(inv.Values) < n {
			t.Fatalf("%s: %d values, want %d or more", name, len(inv.Values), n)
		}
		size := float64(z.Len())
		t.Logf("%s: %d values, %.0f bytes live and %.0f allocated per byte of the file", name, len(inv.Values), float64(live)/size, float64(alloc)/size)
		if live > 128*int64(z.Len()) {
			t.Errorf("%s: a %d-byte file and its inventory hold %d bytes, %.0f a byte, want at most 128", name, z.Len(), live, float64(live)/size)
		}
		if alloc > 640*uint64(z.Len()) {
			t.Errorf("%s: reading and listing a %d-byte file allocated %d bytes, %.0f a byte, want at most 640", name, z.Len(), alloc, float64(alloc)/size)
		}
	}
}
