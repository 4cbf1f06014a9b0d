package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInterruptRead: Ctrl-C while inspect, convert or batch reads a large input (a JSON
// document of 30 MB, which takes a second or more to read) stops it at once, in
// a fraction of the time the whole read takes: exit status 130, a message that says
// "interrupted", nothing printed or written, where the read went on to the end and
// inspect then printed it all and exited 0. The test waits for the input's opening (in
// /proc, hence Linux), so that the signal comes as it is read.
func TestInterruptRead(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in", "big.json")
	os.Mkdir(filepath.Dir(in), 0o755)
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	const n = 6_000_000
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, `{"tensors": [{"name": "w", "dtype": "F32", "shape": [%d], "data": [`, n)
	w.WriteString(strings.Repeat("1.5, ", n-1) + "1.5]}],\n\"values\": {}}\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	begin := time.Now()
	if code, _, errs := runCLI(t, "inspect", in); code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errs)
	}
	whole := time.Since(begin)
	for _, c := range []struct {
		args []string
		out  string // what it would write
	}{
		{[]string{"inspect", in}, ""},
		{[]string{"convert", in, "-o", filepath.Join(dir, "out1", "big.npz")}, filepath.Join(dir, "out1", "big.npz")},
		{[]string{"batch", filepath.Dir(in), "--include", "*.json", "-o", filepath.Join(dir, "out2")}, filepath.Join(dir, "out2", "big.safetensors")},
	} {
		cmd := exec.Command(os.Args[0], c.args...)
		cmd.Env = append(os.Environ(), "PTPORT_MAIN=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if !waitOpen(cmd.Process.Pid, in, 20*time.Second) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%v: did not open %s", c.args, in)
		}
		start := time.Now()
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		stopped := time.Since(start)
		t.Logf("%s: stopped %v after Ctrl-C; a whole read takes %v", c.args[0], stopped, whole)
		if stopped > whole/4 {
			t.Errorf("%v: stopped %v after Ctrl-C; a whole read takes %v", c.args, stopped, whole)
		}
		errs := stderr.String()
		if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(errs, "interrupted") || strings.Contains(errs, "context canceled") {
			t.Errorf("%v: exit %d after %v, stderr %q; want 130, interrupted", c.args, code, stopped, errs)
		}
		if c.args[0] == "inspect" && stdout.Len() > 0 {
			t.Errorf("inspect printed %q, interrupted", stdout.String())
		}
		if _, err := os.Stat(c.out); c.out != "" && err == nil {
			t.Errorf("%v wrote %s, interrupted", c.args, c.out)
		}
	}
}

// waitOpen waits for the process pid to have the file path open, at most for d.
func waitOpen(pid int, path string, d time.Duration) bool {
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		entries, _ := os.ReadDir(fds)
		for _, e := range entries {
			if target, err := os.Readlink(filepath.Join(fds, e.Name())); err == nil && target == path {
				return true
			}
		}
	}
	return false
}
