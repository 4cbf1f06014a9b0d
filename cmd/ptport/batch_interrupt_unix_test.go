//go:build unix

package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptport/ptport/convert/batch"
)

// TestBatchJSONInterrupted: Ctrl-C in the middle of batch --json (two small inputs
// ended, a large one being converted) leaves standard output JSON Lines: a record for
// every input that ended, each whose output is in place among them, then the summary,
// the last line, counting them, "interrupted": true; standard error says
// "interrupted" in words, as the summary line does without --json, where it said
// nothing of it; the exit status is 130, and the large input's output is not written.
func TestBatchJSONInterrupted(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "a")
	os.MkdirAll(small, 0o755)
	b, err := os.ReadFile(fixtures + "rnn_tanh.pt")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"m1.pt", "m2.pt"} {
		os.WriteFile(filepath.Join(small, name), b, 0o644)
	}
	large := filepath.Join(dir, "b")
	os.MkdirAll(large, 0o755)
	bigCheckpoint(t, filepath.Join(large, "big.pt"), 4<<20) // its JSON takes seconds to write
	out := filepath.Join(dir, "out")
	cmd := exec.Command(os.Args[0], "batch", small, large, "-o", out, "--to", "json", "--jobs", "1", "--json")
	cmd.Env = append(os.Environ(), "PTPORT_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(pipe)
	first, err := r.ReadString('\n') // the first input has ended; the worker is on the next
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("no first record: %v", err)
	}
	cmd.Process.Signal(os.Interrupt)
	rest := new(bytes.Buffer)
	deadline := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	if _, err := rest.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	stdout := first + rest.String()
	code := cmd.ProcessState.ExitCode()

	lines := jsonLinesOf(t, stdout)
	var sum batchSummary
	if err := strictJSON(lines[len(lines)-1], &sum); err != nil || !sum.Interrupted {
		t.Fatalf("the last line, want the summary, interrupted (%v):\n%s", err, stdout)
	}
	if sum.Files != len(lines)-1 || sum.Files == 0 || sum.Files > 2 || sum.OK != sum.Files {
		t.Errorf("summary %+v after %d records, want 1 or 2 inputs, all ok, a record each:\n%s", sum, len(lines)-1, stdout)
	}
	recorded := map[string]bool{}
	for i, line := range lines[:len(lines)-1] {
		var r batch.Result
		if err := strictJSON(line, &r); err != nil || r.Status != batch.StatusOK || filepath.Dir(r.Input) != small {
			t.Fatalf("line %d, want a small input's record, ok (%v): %s", i+1, err, line)
		}
		recorded[r.Output] = true
	}
	outputs, _ := filepath.Glob(filepath.Join(out, "*", "*.json"))
	for _, o := range outputs {
		if !recorded[o] {
			t.Errorf("%s was written, and has no record:\n%s", o, stdout)
		}
	}
	if len(outputs) != sum.OK {
		t.Errorf("%d outputs written (%v), want the %d of the records", len(outputs), outputs, sum.OK)
	}
	errs := stderr.String()
	if code != 130 || !strings.Contains(errs, "ptport: interrupted: ") || strings.Contains(errs, "context canceled") || strings.Contains(errs, "{") {
		t.Errorf("exit %d, want 130 and \"interrupted\" in words on standard error:\n%s", code, errs)
	}
}
