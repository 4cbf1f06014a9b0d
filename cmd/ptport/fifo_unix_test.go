//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNamedPipeInput: a named pipe (what a shell's <(…) gives) is read from start to end
// as standard input is, by inspect, convert and check alike.
func TestNamedPipeInput(t *testing.T) {
	dir := t.TempDir()
	feed := func(name, from string) string {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if w, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
				w.Write(b)
				w.Close()
			}
		}()
		return p
	}
	code, out, errs := runCLI(t, "inspect", feed("a", fixtures+"rnn_tanh.pt"))
	if code != 0 || !strings.Contains(out, "weight_ih_l0") {
		t.Errorf("inspect of a pipe: exit %d\n%s%s", code, out, errs)
	}
	dst := filepath.Join(dir, "out.safetensors")
	if code, out, errs := runCLI(t, "convert", feed("b", fixtures+"rnn_tanh.pt"), "-o", dst); code != 0 {
		t.Errorf("convert of a pipe: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runCLI(t, "check", feed("c", fixtures+"rnn_tanh.pt"), feed("d", fixtures+"rnn_tanh.ref.pt")); code != 0 || !strings.Contains(out, "PASS") {
		t.Errorf("check of two pipes: exit %d\n%s%s", code, out, errs)
	}
}

// TestNamedPipeNoWriter: Ctrl-C while a command waits to open a named pipe that no one
// writes stops it at once, saying "interrupted" of the pipe, with exit status 130,
// where the open went on waiting for a writer.
func TestNamedPipeNoWriter(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "nobody.pt")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"inspect", p}, {"convert", p, "-o", filepath.Join(dir, "x.npz")}} {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "PTPORT_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // into the open
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("%v: still waiting for a writer 10 s after Ctrl-C", args)
			continue
		}
		if code, errs := cmd.ProcessState.ExitCode(), stderr.String(); code != 130 || errs != "ptport: "+p+": interrupted\n" {
			t.Errorf("%v: exit %d, stderr %q; want 130, interrupted", args, code, errs)
		}
	}
}
