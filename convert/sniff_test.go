package convert

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// TestSniffPrettyJSON reads ptport's JSON export of a torch checkpoint as jq and Python's
// json.dump(indent=2) reformat it (testdata/convert/pretty), and with other JSON
// whitespace before the object and its first key: each is the checkpoint it was
// exported from, tensor for tensor.
func TestSniffPrettyJSON(t *testing.T) {
	dir := filepath.Join("..", "testdata", "convert", "pretty")
	want := leafBytes(t, filepath.Join("..", "testdata", "convert", "rnn_tanh.pt"))
	source, err := os.ReadFile(filepath.Join(dir, "source.json"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	variants := map[string][]byte{
		"leading whitespace":     append([]byte(" \t\r\n\n  "), source...),
		"whitespace before key":  append([]byte("{\n\t \r"), source[1:]...),
		"whitespace up to bound": append(bytes.Repeat([]byte(" "), jsonPrefix-2), source...),
	}
	paths := []string{filepath.Join(dir, "jq.json"), filepath.Join(dir, "python.json")}
	for name, b := range variants {
		p := filepath.Join(tmp, strings.ReplaceAll(name, " ", "_")+".json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		cp, err := Open(p, nil)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		got := map[string][]byte{}
		for _, l := range cp.Leaves {
			if tt, ok := l.Value.(*pickle.Tensor); ok {
				got[l.Name], _ = tt.Bytes()
			}
		}
		cp.Close()
		if cp.Format != "json" || len(got) != len(want) || len(want) == 0 {
			t.Errorf("%s: format %q, %d tensors, want json and %d", p, cp.Format, len(got), len(want))
		}
		for name, w := range want {
			if !bytes.Equal(got[name], w) {
				t.Errorf("%s: tensor %s differs from rnn_tanh.pt's", p, name)
			}
		}
	}
}

// leafBytes returns the bytes of the tensors of the checkpoint at path, by name.
func leafBytes(t *testing.T, path string) map[string][]byte {
	t.Helper()
	cp, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	out := map[string][]byte{}
	for _, l := range cp.Leaves {
		if tt, ok := l.Value.(*pickle.Tensor); ok {
			if out[l.Name], err = tt.Bytes(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// TestSniffBounds checks what sniff takes for JSON: an object after at most jsonPrefix
// bytes of whitespace, and never a file torch wrote.
func TestSniffBounds(t *testing.T) {
	sniffOf := func(b []byte) string { return sniff(bytes.NewReader(b), int64(len(b))) }
	for _, tc := range []struct {
		doc  string
		want string
	}{
		{`{"tensors": []}`, "json"},
		{"\n{}", "json"},
		{strings.Repeat(" ", jsonPrefix-3) + `{"a":1}`, "json"},
		{strings.Repeat(" ", jsonPrefix-1) + `{"a":1}`, "pickle"},
		{`{ 1: 2}`, "pickle"},
		{`["tensors"]`, "pickle"},
		{"\xef\xbb\xbf{\"a\": 1}", "pickle"}, // a byte-order mark, which JSON does not allow
		{"", "pickle"},
	} {
		if got := sniffOf([]byte(tc.doc)); got != tc.want {
			t.Errorf("sniff(%.40q) = %s, want %s", tc.doc, got, tc.want)
		}
	}
	var files []string
	for _, pattern := range []string{"pickle/*.pt", "pickle/torch2/*.pt", "convert/*.pt", "hostile/*.pt", "pickle/wrong/*"} {
		m, err := filepath.Glob(filepath.Join("..", "testdata", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 50 {
		t.Fatalf("%d fixtures found", len(files))
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := sniffOf(b); got != "pickle" && !strings.HasSuffix(p, ".py") {
			t.Errorf("%s: sniffed as %s", p, got)
		}
	}
}

// TestOpenDamaged: a file of a format ptport reads, cut short at one point after another
// or with its zip directory pointing past its end, is reported as a damaged file of its
// format, saying what is missing and the sizes, never as a file of another format or of
// none, and naming the file once.
func TestOpenDamaged(t *testing.T) {
	td := filepath.Join("..", "testdata")
	cases := []struct {
		fixture string
		cuts    []int // negative: from the end
		want    string
	}{
		{"pickle/checkpoint.pt", []int{4, 12, 100, 4469, -10, -1}, `^(a torch\.save checkpoint \(zip format\)|a zip archive) cut short: its {N} bytes hold no end-of-central-directory record, which ends every zip archive: the file is truncated`},
		{"pickle/checkpoint.pt", []int{100, 4469, -1}, `^a torch\.save checkpoint \(zip format\) cut short`},
		{"convert/deep/d1000.npz", []int{4, 100, -1}, `^(an npz archive \(numpy\.savez\)|a zip archive) cut short: its {N} bytes hold no end-of-central-directory record`},
		{"convert/deep/d1000.npz", []int{100, -1}, `^an npz archive \(numpy\.savez\) cut short`},
		{"pickle/checkpoint_legacy.pt", []int{3, 4, 8, 13}, `^a legacy-format PyTorch checkpoint cut short: its {N} bytes end inside the magic number that starts the format \(14 bytes\)`},
		{"pickle/checkpoint_legacy.pt", []int{40, 100, 2634, -10, -1}, `\(truncated( file)?\?\)$`},
		{"pickle/tar.pt", []int{8, 9, 100, 511}, `^a tar-format PyTorch checkpoint \(torch <= 0\.1\.10\) cut short: its {N} bytes end inside the 512-byte header of its first member, sys_info`},
		{"pickle/tar.pt", []int{1024, 2048}, `^the archive ends at offset {N}, after its member \S+, with no "storages" member, which a PyTorch tar checkpoint holds, and without the two zero blocks that end a tar archive: the file is truncated`},
		{"pickle/tar.pt", []int{600, 1536, 3000, 4096}, `^member of \d+ bytes at offset \d+ runs past the end of the file$`},
		{"convert/deep/d1000.safetensors", []int{9, 12, 100, 1062, 2119}, `^its 2112 bytes run past the end of the file, which is {N} bytes \(\d+ after the 8-byte length that precedes the header\): the file is cut short`},
		{"convert/deep/d1000.safetensors", []int{-1}, `^tensor "w": its data, bytes \[0, 4\) of the data section, runs past the end of the file, whose data section holds 3 bytes \(the file is {N} bytes\): the file is cut short`},
		{"convert/deep/d1000.json", []int{2, 4, 12, 40, 100, 1048, -2}, `^cut short: the file's {N} bytes end inside the JSON object`},
	}
	tmp := t.TempDir()
	for _, c := range cases {
		whole, err := os.ReadFile(filepath.Join(td, c.fixture))
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range c.cuts {
			if cut < 0 {
				cut += len(whole)
			}
			path := filepath.Join(tmp, fmt.Sprintf("%d.%s", cut, filepath.Base(c.fixture)))
			if err := os.WriteFile(path, whole[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			checkDamaged(t, path, strings.ReplaceAll(c.want, "{N}", strconv.Itoa(cut)))
		}
	}
	// A zip directory whose end record puts it past the end of the file.
	whole, err := os.ReadFile(filepath.Join(td, "pickle/checkpoint.pt"))
	if err != nil {
		t.Fatal(err)
	}
	eocd := bytes.LastIndex(whole, []byte("PK\x05\x06"))
	binary.LittleEndian.PutUint32(whole[eocd+16:], uint32(len(whole)))
	path := filepath.Join(tmp, "moved.pt")
	if err := os.WriteFile(path, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	checkDamaged(t, path, fmt.Sprintf(`^a torch\.save checkpoint \(zip format\) damaged: its zip directory of \d+ bytes at offset %d runs past the directory's end record at offset %d \(the file is %d bytes\)$`, len(whole), eocd, len(whole)))
}

// checkDamaged checks that Open refuses the file at path with a *pickle.FormatError
// whose message matches want, naming the file once.
func checkDamaged(t *testing.T, path, want string) {
	t.Helper()
	cp, err := Open(path, nil)
	if err == nil {
		cp.Close()
		t.Errorf("%s: opened", path)
		return
	}
	var fe *pickle.FormatError
	if !errors.As(err, &fe) {
		t.Errorf("%s: %T %v, want a *pickle.FormatError", path, err, err)
		return
	}
	if !regexp.MustCompile(want).MatchString(fe.Msg) {
		t.Errorf("%s: %q, want %s", path, fe.Msg, want)
	}
	if n := strings.Count(err.Error(), path); n != 1 {
		t.Errorf("%s: named %d times in %q", path, n, err)
	}
	for _, wrong := range []string{"unknown format", "not a torch.save", "not a PyTorch", "safetensors file,"} {
		if strings.Contains(err.Error(), wrong) {
			t.Errorf("%s: %q says %q", path, err, wrong)
		}
	}
}
