package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// raw reports whether s holds a character a terminal acts on (other than the newlines
// ending lines).
func raw(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
			return true
		}
	}
	return false
}

func TestFileStringsEscaped(t *testing.T) {
	dir := t.TempDir()
	w, err := pickle.NewTensor(pickle.F32, []int{1}, make([]byte, 4))
	if err != nil {
		t.Fatal(err)
	}
	root := &pickle.Dict{Entries: []pickle.DictEntry{
		{Key: "w\x1b[2K\rforged.weight", Value: w},
		{Key: "note\nglobals: os.system", Value: "v\x1b]0;title\x07\u202eexe.txt"},
	}}
	var buf bytes.Buffer
	if err := pickle.Write(&buf, root, nil); err != nil {
		t.Fatal(err)
	}
	names := filepath.Join(dir, "names.pt")
	os.WriteFile(names, buf.Bytes(), 0o644)

	// A global whose name holds terminal controls, which the reader refuses.
	pkl := []byte("\x80\x02cos\x1b[1A\nsystem\x1b[2K\r\n(X\x02\x00\x00\x00idtR.")
	buf.Reset()
	zw := zip.NewWriter(&buf)
	f, _ := zw.Create("archive/data.pkl")
	f.Write(pkl)
	zw.Close()
	evil := filepath.Join(dir, "evil\x1b[2K.pt")
	os.WriteFile(evil, buf.Bytes(), 0o644)

	code, out, errs := runCLI(t, "inspect", names)
	if code != 0 || raw(out) || raw(errs) {
		t.Errorf("inspect: exit %d, raw controls in %q %q", code, out, errs)
	}
	for _, want := range []string{`w\x1b[2K\rforged.weight`, `note\nglobals: os.system = "v\u001b]0;title\u0007\u202eexe.txt"`} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	if code, out, _ = runCLI(t, "inspect", names, "--json"); code != 0 || !strings.Contains(out, `"w\u001b[2K\rforged.weight"`) {
		t.Errorf("inspect --json: exit %d, the name is not exact:\n%s", code, out)
	}
	code, _, errs = runCLI(t, "inspect", evil)
	if code != 2 || raw(errs) || strings.Count(strings.TrimRight(errs, "\n"), "\n") > 0 || !strings.Contains(errs, `evil\x1b[2K.pt`) || !strings.Contains(errs, `system\x1b[2K\r`) || strings.Contains(errs, `\\x1b`) {
		t.Errorf("inspect of a global with controls: exit %d, stderr %q; want exit 2 and one escaped line", code, errs)
	}
	out = t.TempDir()
	code, _, errs = runCLI(t, "batch", evil, names, "-o", out, "-q")
	if code != 1 || raw(errs) || !strings.Contains(errs, `failed   `+evil[:len(evil)-len("evil\x1b[2K.pt")]+`evil\x1b[2K.pt`) {
		t.Errorf("batch: exit %d, stderr %q", code, errs)
	}
}

// TestItemizedErrors: an error that lists items (a reference's unknown entries, a
// module's missing keys) prints one item a line, as the README shows, while a name from
// the file that holds a newline or a control stays escaped on its item's line.
func TestItemizedErrors(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const example = "$ ptport check testdata/parity/lstm.pt testdata/parity/misspelled.ref.pt\n"
	_, printed, ok := strings.Cut(string(readme), example)
	if !ok {
		t.Fatalf("the README has no %q", example)
	}
	printed, _, _ = strings.Cut(printed, "```")
	code, _, errs := runCLIDir(t, "../..", "check", "testdata/parity/lstm.pt", "testdata/parity/misspelled.ref.pt")
	if code != 2 || errs != printed {
		t.Errorf("exit %d, printed\n%s\nthe README shows\n%s", code, errs, printed)
	}

	x, err := pickle.NewTensor(pickle.F32, []int{1, 1, 3}, make([]byte, 12))
	if err != nil {
		t.Fatal(err)
	}
	root := &pickle.Dict{Entries: []pickle.DictEntry{
		{Key: "input", Value: x},
		{Key: "hn\n  output: forged\x1b[2K", Value: x},
	}}
	var buf bytes.Buffer
	if err := pickle.Write(&buf, root, nil); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(t.TempDir(), "forged.ref.pt")
	os.WriteFile(ref, buf.Bytes(), 0o644)
	code, _, errs = runCLI(t, "check", fixtures+"rnn_tanh.pt", ref)
	if code != 2 || raw(errs) || !strings.Contains(errs, "\n  "+`hn\n  output: forged\x1b[2K: not a reference entry`) {
		t.Errorf("exit %d, stderr %q; want exit 2 and the name escaped on its line", code, errs)
	}
	for _, line := range strings.Split(errs, "\n") {
		if strings.HasPrefix(line, "  output: forged") {
			t.Errorf("a line forged by the file: %q", errs)
		}
	}
	code, _, errs = runCLI(t, "check", fixtures+"invalid_keys.pt", fixtures+"rnn_tanh.ref.pt")
	if code != 2 || !strings.Contains(errs, "\n  missing keys: ") || strings.Contains(errs, `\n`) {
		t.Errorf("missing keys: exit %d, stderr %q; want them on a line of their own", code, errs)
	}
}

// TestPrefixSpelledOnce: a module prefix that holds terminal controls reads the same
// wherever ptport prints it, quoted and escaped once: inspect's list of recurrent
// modules, its whole model, and check's model line.
func TestPrefixSpelledOnce(t *testing.T) {
	const prefix = "enc\x1b[31m\u202e.rnn."
	const want = `"enc\x1b[31m\u202e.rnn."`
	tensor := func(shape ...int) *pickle.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		x, err := pickle.NewTensor(pickle.F32, shape, make([]byte, 4*n))
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	save := func(path string, entries []pickle.DictEntry) {
		var buf bytes.Buffer
		if err := pickle.Write(&buf, &pickle.Dict{Entries: entries}, nil); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, buf.Bytes(), 0o644)
	}
	dir := t.TempDir()
	model, ref := filepath.Join(dir, "gru.pt"), filepath.Join(dir, "gru.ref.pt")
	save(model, []pickle.DictEntry{ // a GRU(3, 5)
		{Key: prefix + "weight_ih_l0", Value: tensor(15, 3)},
		{Key: prefix + "weight_hh_l0", Value: tensor(15, 5)},
		{Key: prefix + "bias_ih_l0", Value: tensor(15)},
		{Key: prefix + "bias_hh_l0", Value: tensor(15)},
		{Key: "head.weight", Value: tensor(2, 5)}, // a Linear(5, 2) after it: a whole model
	})
	save(ref, []pickle.DictEntry{{Key: "input", Value: tensor(2, 1, 3)}, {Key: "output", Value: tensor(2, 1, 5)}})
	_, out, errs := runCLI(t, "inspect", model)
	_, checked, cerrs := runCLI(t, "check", model, ref)
	for what, text := range map[string]string{
		"inspect's recurrent modules": lineWith(out, "GRU(3, 5)", "  \""),
		"inspect's whole model":       lineWith(out, "whole model at"),
		"check's model line":          lineWith(checked, "model "),
	} {
		if !strings.Contains(text, want) || raw(text) {
			t.Errorf("%s: %q, want the prefix as %s\n%s%s%s%s", what, text, want, out, errs, checked, cerrs)
		}
	}
}

// lineWith returns the first line of text that holds every one of subs.
func lineWith(text string, subs ...string) string {
	for _, line := range strings.Split(text, "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			return line
		}
	}
	return ""
}
