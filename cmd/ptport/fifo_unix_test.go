//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
