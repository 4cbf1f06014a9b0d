package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ptport/ptport/convert/batch"
)

// jsonLinesOf splits what a command wrote on standard output with --json into its
// lines, failing the test unless it is JSON Lines: each line one compact JSON value,
// every line ended.
func jsonLinesOf(t *testing.T, stdout string) []string {
	t.Helper()
	if stdout == "" || !strings.HasSuffix(stdout, "\n") {
		t.Fatalf("standard output is not JSON Lines, each line ended:\n%q", stdout)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	for i, line := range lines {
		var v json.RawMessage
		if err := strictJSON(line, &v); err != nil {
			t.Fatalf("line %d is not a JSON value of its own: %v\n%s", i+1, err, stdout)
		}
	}
	return lines
}

// hookWriter is a standard output that calls hook before each write, with the
// number of writes before it; an error of hook fails the write.
type hookWriter struct {
	bytes.Buffer
	writes int
	hook   func(writes int) error
}

func (w *hookWriter) Write(p []byte) (int, error) {
	if err := w.hook(w.writes); err != nil {
		return 0, err
	}
	w.writes++
	return w.Buffer.Write(p)
}

// TestBatchJSONRunError: an error that is not an input's, once inputs have ended (an
// input folder gone while the run reads another, the report's disk full, standard
// output's disk full), leaves standard output JSON Lines: the record of every input
// that ended, then that error as the last line, {"error", "file"}, one compact line;
// and standard error says it in words, after the inputs' lines, with how far the run
// got. Before, standard error said nothing of it with --json, a report's error was an
// indented object of several lines after the records, and an error of standard output
// itself was written to standard output alone, so nobody saw it.
func TestBatchJSONRunError(t *testing.T) {
	good := zoo(t, 8, "rnn_tanh.pt") // walked first: its 8 inputs end before the next folder is read
	inputs := func(t *testing.T) (args []string, gone string) {
		gone = filepath.Join(t.TempDir(), "gone")
		os.MkdirAll(gone, 0o755)
		b, err := os.ReadFile(fixtures + "rnn_tanh.pt")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(gone, "m.pt"), b, 0o644)
		return []string{"batch", good, gone, "-o", filepath.Join(t.TempDir(), "out"), "--jobs", "1"}, gone
	}
	records := func(t *testing.T, lines []string) map[string]batch.Result {
		t.Helper()
		byInput := map[string]batch.Result{}
		for i, line := range lines {
			var r batch.Result
			if err := strictJSON(line, &r); err != nil || r.Input == "" {
				t.Fatalf("line %d is not an input's record (%v): %s", i+1, err, line)
			}
			if r.Status != batch.StatusOK {
				t.Errorf("%s: %s, want ok", r.Input, r.Status)
			}
			if _, err := os.Stat(r.Output); err != nil {
				t.Errorf("%s: its output: %v", r.Input, err)
			}
			byInput[r.Input] = r
		}
		return byInput
	}

	t.Run("input folder gone", func(t *testing.T) {
		for _, asJSON := range []bool{true, false} {
			args, gone := inputs(t)
			// The first line written, of either output, is the first input's: it has
			// ended, and the walk, a few inputs ahead at most (--jobs 1), is in the
			// first folder still.
			remove := func(int) error { return os.RemoveAll(gone) }
			stdout, stderr := &hookWriter{hook: remove}, &hookWriter{hook: remove}
			if asJSON {
				args = append(args, "--json")
			}
			code := run(args, stdout, stderr)
			errs := stderr.String()
			want := "ptport: " + gone + ": no such file or directory (the batch stopped after 8 of 9 inputs)\n"
			if code != 2 || !strings.HasSuffix(errs, want) || strings.Count("\n"+errs, "\nok ") != 8 {
				t.Errorf("--json=%v: exit %d; want 2, the 8 inputs' lines, and at the end %q:\n%s", asJSON, code, want, errs)
			}
			if !asJSON {
				if stdout.Len() > 0 {
					t.Errorf("without --json, standard output: %s", stdout.String())
				}
				continue
			}
			lines := jsonLinesOf(t, stdout.String())
			if got := records(t, lines[:len(lines)-1]); len(got) != 8 {
				t.Errorf("%d records, want one for each of the 8 inputs that ended:\n%s", len(got), stdout.String())
			}
			var e errorJSON
			if err := strictJSON(lines[len(lines)-1], &e); err != nil || e.File != gone || e.Error != gone+": no such file or directory" {
				t.Errorf("the last line %s (%v), want the error naming %s", lines[len(lines)-1], err, gone)
			}
		}
	})

	t.Run("report unwritable", func(t *testing.T) {
		if _, err := os.Stat("/dev/full"); err != nil {
			t.Skip("no /dev/full")
		}
		args, _ := inputs(t)
		var stdout, stderr bytes.Buffer
		code := run(append(args, "--json", "--report", "/dev/full"), &stdout, &stderr)
		lines := jsonLinesOf(t, stdout.String())
		if got := records(t, lines[:len(lines)-1]); len(got) != 9 {
			t.Errorf("%d records, want one for each of the 9 inputs:\n%s", len(got), stdout.String())
		}
		var e errorJSON
		if err := strictJSON(lines[len(lines)-1], &e); err != nil || e.File != "/dev/full" || !strings.Contains(e.Error, "no space left on device") {
			t.Errorf("the last line %s (%v), want the report's error", lines[len(lines)-1], err)
		}
		want := "ptport: /dev/full: writing the report: no space left on device\n"
		if errs := stderr.String(); code != 2 || !strings.HasSuffix(errs, want) {
			t.Errorf("exit %d; want 2 and at the end %q:\n%s", code, want, errs)
		}
	})

	t.Run("standard output unwritable", func(t *testing.T) {
		args, _ := inputs(t)
		stdout := &hookWriter{hook: func(n int) error {
			if n > 0 {
				return &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.ENOSPC}
			}
			return nil
		}}
		var stderr bytes.Buffer
		code := run(append(args, "--json"), stdout, &stderr)
		if lines := jsonLinesOf(t, stdout.String()); len(lines) != 1 {
			t.Errorf("standard output, want the one record written:\n%s", stdout.String())
		}
		want := "ptport: writing to standard output: write /dev/stdout: no space left on device\n"
		if errs := stderr.String(); code != 2 || !strings.HasSuffix(errs, want) {
			t.Errorf("exit %d; want 2 and at the end %q:\n%s", code, want, errs)
		}
	})

	t.Run("before any input", func(t *testing.T) {
		// Before any input ended, the error is all there is: one line on standard
		// output, nothing on standard error, as every command's.
		missing := filepath.Join(t.TempDir(), "missing")
		for _, args := range [][]string{
			{"batch", missing, "-o", filepath.Join(t.TempDir(), "out"), "--json"},
			{"batch", good, "-o", filepath.Join(t.TempDir(), "out"), "--jobs", "x", "--json"},
		} {
			code, stdout, errs := runCLI(t, args...)
			lines := jsonLinesOf(t, stdout)
			var e errorJSON
			if err := strictJSON(lines[0], &e); len(lines) != 1 || err != nil || code != 2 || errs != "" {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2, one line {error, file}, and nothing", args, code, stdout, errs)
			}
		}
	})
}

// cleanJSON decodes what batch --clean --json writes: a line for each temporary found,
// then the summary.
func cleanJSON(t *testing.T, lines []string) ([]cleanRecord, cleanSummary) {
	t.Helper()
	var records []cleanRecord
	for i, line := range lines[:len(lines)-1] {
		var r cleanRecord
		if err := strictJSON(line, &r); err != nil || r.Path == "" {
			t.Fatalf("line %d is not a temporary's (%v): %s", i+1, err, line)
		}
		records = append(records, r)
	}
	var sum cleanSummary
	if err := strictJSON(lines[len(lines)-1], &sum); err != nil {
		t.Fatalf("the last line is not the summary (%v): %s", err, lines[len(lines)-1])
	}
	return records, sum
}

// TestBatchCleanJSON: batch --clean --json writes JSON Lines, as batch --json does: a
// line for each temporary as it is removed ({"path", "bytes", "status": "removed"}),
// then the summary {"removed", "bytes", "kept"}; standard error has the lines for
// people. An error stopping it after some were removed (a folder of the arguments
// gone) is the last line, {"error", "file"}, after theirs, and said on standard error
// too, so that what was removed is never lost. It printed one indented object, listing
// nothing when it failed.
func TestBatchCleanJSON(t *testing.T) {
	out := t.TempDir()
	os.MkdirAll(filepath.Join(out, "a"), 0o755)
	names := map[string]int64{
		filepath.Join(out, "a", ".ptport-tmp-s0of1-h00000000n1p1t1.m.safetensors-1"):    7,
		filepath.Join(out, ".ptport-tmp-s7of16-h00000001n1p9t1.n\x1b[2K.safetensors-2"): 3,
	}
	create := func() {
		for n, size := range names {
			os.WriteFile(n, bytes.Repeat([]byte("p"), int(size)), 0o644)
		}
	}
	create()
	code, stdout, errs := runCLI(t, "batch", "--clean", out, "--json")
	records, sum := cleanJSON(t, jsonLinesOf(t, stdout))
	if code != 0 || len(records) != 2 || sum != (cleanSummary{Removed: 2, Bytes: 10}) {
		t.Errorf("exit %d, %d records, summary %+v; want 0, 2 and 2 removed of 10 B:\n%s", code, len(records), sum, stdout)
	}
	for _, r := range records {
		if size, ok := names[r.Path]; !ok || r.Bytes != size || r.Status != "removed" {
			t.Errorf("record %+v, want one of %v, removed", r, names)
		}
		if _, err := os.Stat(r.Path); err == nil {
			t.Errorf("%s is still there", r.Path)
		}
		if line := "removed  " + escape(r.Path) + " ("; !strings.Contains(errs, line) {
			t.Errorf("standard error lacks %q:\n%s", line, errs)
		}
	}
	if strings.Contains(errs, "{") || strings.Contains(errs, "\x1b") || strings.Contains(errs, "removed 2 temporaries") {
		t.Errorf("standard error, want the temporaries' lines alone, escaped:\n%s", errs)
	}

	create()
	missing := filepath.Join(t.TempDir(), "missing")
	code, stdout, errs = runCLI(t, "batch", "--clean", out, missing, "--json")
	lines := jsonLinesOf(t, stdout)
	if records, _ := cleanJSON(t, append(lines[:len(lines)-1:len(lines)-1], `{}`)); len(records) != 2 {
		t.Errorf("%d records before the error, want the 2 temporaries removed:\n%s", len(records), stdout)
	}
	var e errorJSON
	if err := strictJSON(lines[len(lines)-1], &e); err != nil || e.File != missing || !strings.Contains(e.Error, "no such file or directory") {
		t.Errorf("the last line %s (%v), want the error naming %s", lines[len(lines)-1], err, missing)
	}
	want := "ptport: " + missing + ": no such file or directory (after removing 2 temporaries)\n"
	if code != 2 || !strings.HasSuffix(errs, want) {
		t.Errorf("exit %d; want 2 and at the end %q:\n%s", code, want, errs)
	}
}
