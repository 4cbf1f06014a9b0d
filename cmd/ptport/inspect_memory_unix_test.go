//go:build unix

package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
)

// TestInspectFloodMemory: inspect --json of a file of a value in each byte (a list of
// one int repeated by DUP, the shape its JSON took the most room for) writes the
// document as it makes it: ptport's peak resident memory is at most 210 bytes per byte
// of the file (160 to 180 measured), where encoding/json made the whole document
// twice (compact, then indented) before writing it (235 to 320).
func TestInspectFloodMemory(t *testing.T) {
	const n = 1 << 20
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("\x80\x02](K\x00" + strings.Repeat("2", n) + "e."))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "dup.pt")
	if err := os.WriteFile(in, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr, _, _, rss := runChild(t, "inspect", in, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var inv convert.Inventory
	if err := json.Unmarshal([]byte(stdout), &inv); err != nil || len(inv.Values) != n+1 {
		t.Fatalf("%d values, want %d: %v", len(inv.Values), n+1, err)
	}
	perByte := float64(rss) / float64(z.Len())
	t.Logf("peak RSS %d MiB, %.0f bytes per byte of the file", rss>>20, perByte)
	if rss <= 0 || perByte > 210*raceFactor {
		t.Errorf("inspect --json of a %d-byte file of a value in each byte: peak RSS %d MiB, %.0f bytes per byte of the file; want at most %d", z.Len(), rss>>20, perByte, 210*raceFactor)
	}
}
