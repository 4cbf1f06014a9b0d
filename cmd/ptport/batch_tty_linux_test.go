package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: its controlling side, and the terminal a child
// writes to.
func openPTY(t *testing.T) (control, tty *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd := int(control.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return control, tty
}

// TestBatchTerminalLines: on a terminal, where the progress bar shows, batch prints the
// line of every input, as it does elsewhere; -q leaves only the failures and the
// summary.
func TestBatchTerminalLines(t *testing.T) {
	root := zoo(t, 2, "rnn_tanh.pt")
	os.WriteFile(filepath.Join(root, "broken.pt"), []byte("\x80\x02}q\x00(X"), 0o644)
	for _, quiet := range []bool{false, true} {
		args := []string{"batch", root, "-o", t.TempDir()}
		if quiet {
			args = append(args, "-q")
		}
		control, tty := openPTY(t)
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "PTPORT_MAIN=1")
		cmd.Stderr = tty
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tty.Close()
		var printed bytes.Buffer
		io.Copy(&printed, control) // until the child closes the terminal (EIO)
		control.Close()
		cmd.Wait()
		text := printed.String()
		oks := strings.Count(text, "ok       "+root)
		if want := map[bool]int{false: 2, true: 0}[quiet]; oks != want || !strings.Contains(text, "failed   "+filepath.Join(root, "broken.pt")) || !strings.Contains(text, "converted 3 inputs: 2 ok") {
			t.Errorf("quiet %v: %d ok lines, want %d, with the failure and the summary:\n%s", quiet, oks, want, text)
		}
	}
}
