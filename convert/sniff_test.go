package convert

import (
	"bytes"
	"os"
	"path/filepath"
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
