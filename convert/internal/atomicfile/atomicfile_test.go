package atomicfile

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommitAfterWrite: an output is invisible under its name until committed, and a
// discarded one leaves nothing.
func TestCommitAfterWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	write := func(w io.Writer) error { _, err := w.Write([]byte("complete")); return err }
	tmp, err := Write(path, Options{}, write)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("output visible before commit")
	}
	if err := tmp.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "complete" {
		t.Fatalf("after commit: %q, %v", b, err)
	}
	tmp, err = Write(filepath.Join(dir, "other.bin"), Options{}, write)
	if err != nil {
		t.Fatal(err)
	}
	tmp.Discard()
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("after discard the folder holds %d files, want 1", len(entries))
	}
}

// TestErrorNamesOutput: an output that cannot be written is an *OutputError naming the
// output, never the temporary, which is ptport's own: here its folder does not exist.
func TestErrorNamesOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-folder", "out.bin")
	err := WriteFile(path, Options{}, func(w io.Writer) error { return nil })
	var oe *OutputError
	if !errors.As(err, &oe) || oe.Path != path || strings.Contains(err.Error(), Prefix) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want an OutputError of %s that names no temporary", err, path)
	}
}

// TestLeftovers: a temporary tells whether the process that wrote it has ended (stale),
// still runs (live), or ran elsewhere (neither), and RemoveStale removes the stale ones
// only.
func TestLeftovers(t *testing.T) {
	dir := t.TempDir()
	// a process that has ended: a child, waited for
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	ended := self
	ended.pid = cmd.Process.Pid
	ended.start = self.start + 1
	elsewhere := self
	elsewhere.host ^= 1
	names := map[string]string{
		"live":      Prefix + "s-" + self.mark() + ".a.safetensors-1",
		"stale":     Prefix + "s3of4-" + ended.mark() + ".b.safetensors-2",
		"elsewhere": Prefix + elsewhere.mark() + ".c.safetensors-3",
		"unmarked":  Prefix + "s-d.safetensors-4", // as older versions named them
	}
	for _, n := range names {
		os.WriteFile(filepath.Join(dir, n), []byte("part"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "output.safetensors"), []byte("whole"), 0o644)
	got := map[string]Leftover{}
	if err := Leftovers(dir, false, func(l Leftover) error { got[filepath.Base(l.Path)] = l; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d leftovers, want 4: %v", len(got), got)
	}
	want := map[string][2]bool{"live": {false, true}, "stale": {true, false}, "elsewhere": {false, false}, "unmarked": {false, false}}
	for k, n := range names {
		if l := got[n]; l.Stale != want[k][0] || l.Live != want[k][1] || l.Size != 4 {
			t.Errorf("%s: %+v, want stale %v, live %v", k, l, want[k][0], want[k][1])
		}
	}
	if n, err := RemoveStale(dir); n != 1 || err != nil {
		t.Errorf("RemoveStale: %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, names["stale"])); err == nil {
		t.Error("the stale temporary is still there")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("%d files left, want 4", len(entries))
	}
}

// TestWriteMarksAndProgress: Write names its temporary with this process's mark, reports
// its progress to the end, and fails with an OutputError when the output cannot be
// created.
func TestWriteMarksAndProgress(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	var last int64
	calls := 0
	data := make([]byte, 3*chunk+5)
	tmp, err := Write(path, Options{Progress: func(n int64) { last = n; calls++ }}, func(w io.Writer) error {
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || !strings.Contains(entries[0].Name(), self.mark()) {
			t.Errorf("temporary %v does not carry the mark %s", entries, self.mark())
		}
		if stale, live := markState(entries[0].Name()); stale || !live {
			t.Errorf("own temporary: stale %v, live %v", stale, live)
		}
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tmp.Commit(); err != nil {
		t.Fatal(err)
	}
	if last != int64(len(data)) || calls < 2 {
		t.Errorf("progress ended at %d after %d calls, want %d", last, calls, len(data))
	}
	// a folder that is a file
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	err = WriteFile(filepath.Join(dir, "file", "out.bin"), Options{}, func(io.Writer) error { return nil })
	var oe *OutputError
	if !errors.As(err, &oe) {
		t.Errorf("writing below a file: %v, want an OutputError", err)
	}
	// the temporary of an output whose name is as long as names go still fits
	long := filepath.Join(dir, strings.Repeat("x", 243)+".safetensors")
	if err := WriteFile(long, Options{}, func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }); err != nil {
		t.Errorf("a 255-byte name: %v", err)
	}
}

// TestIsTemp: the names of the temporaries Write makes, of every tag and of older
// versions, are temporaries; a file of the user's that starts with Prefix is not.
func TestIsTemp(t *testing.T) {
	dir := t.TempDir()
	for _, tag := range []string{"", "s-", "s3of16-"} {
		for _, target := range []string{"m.safetensors", "line\nbreak.pt", strings.Repeat("x", 300) + ".json"} {
			tmp, err := Write(filepath.Join(dir, target[:min(len(target), 200)]), Options{Tag: tag}, func(w io.Writer) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			if name := filepath.Base(tmp.f.Name()); !IsTemp(name) {
				t.Errorf("tag %q: %q is not a temporary", tag, name)
			}
			tmp.Discard()
		}
	}
	for name, want := range map[string]bool{
		Prefix + "s-d.safetensors-4":                              true, // as older versions named them
		Prefix + "s0of1-h00000000n1p1t1.m.safetensors-1234567890": true,
		Prefix + "notes.txt":                                      false,
		Prefix:                                                    false,
		Prefix + "s-notes.txt":                                    false,
		Prefix + "hxyz.m.pt-1":                                    false,
		Prefix + "m.safetensors-1":                                false, // no tag, no mark
		Prefix + "s-m.safetensors-12345678901":                    false,
		Prefix + "s-my-precious-2024":                             false, // no output's name
		Prefix + "s3of4-notes.txt-1":                              false,
		Prefix + "s-.pt-1":                                        false,
		Prefix + "s0of2-sub.m.pt-99":                              true,
		Prefix + "s-m.npz-1":                                      true,
		Prefix + "s-m.json-1":                                     true,
		"m" + Prefix + "s-m.pt-1":                                 false,
	} {
		if IsTemp(name) != want {
			t.Errorf("IsTemp(%q) = %v, want %v", name, !want, want)
		}
	}
}
