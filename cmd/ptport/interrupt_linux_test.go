package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
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

// TestInterruptForward: Ctrl-C while run or check computes the Go forward pass of an
// LSTM over a long input (seconds of work) stops it within a fraction of a second:
// exit status 130, "MODEL: interrupted" (with --json, that error naming the model's
// file), and no output file, where the pass ran to its end first. The signal comes
// once the input has been opened and read.
func TestInterruptForward(t *testing.T) {
	dir := t.TempDir()
	const in, hidden, steps, batch = 16, 256, 20000, 8
	rng := rand.New(rand.NewPCG(5, 6))
	tensor := func(shape ...int) *pickle.Tensor {
		n := 1
		for _, s := range shape {
			n *= s
		}
		data := make([]byte, 4*n)
		for i := range n {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(rng.Float64()-0.5)/8))
		}
		x, err := pickle.NewTensor(pickle.F32, shape, data)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	save := func(name string, leaves []pickle.Leaf) string {
		path := filepath.Join(dir, name)
		if err := convert.Export(context.Background(), path, convert.PT, convert.FromLeaves(path, leaves)); err != nil {
			t.Fatal(err)
		}
		return path
	}
	model := save("lstm.pt", []pickle.Leaf{
		{Name: "weight_ih_l0", Value: tensor(4*hidden, in)},
		{Name: "weight_hh_l0", Value: tensor(4*hidden, hidden)},
		{Name: "bias_ih_l0", Value: tensor(4 * hidden)},
		{Name: "bias_hh_l0", Value: tensor(4 * hidden)},
	})
	x := tensor(steps, batch, in)
	input := save("input.pt", []pickle.Leaf{{Name: "input", Value: x}})
	ref := save("ref.pt", []pickle.Leaf{{Name: "input", Value: x}, {Name: "output", Value: tensor(steps, batch, hidden)}})
	out := filepath.Join(dir, "out", "y.safetensors")
	for _, args := range [][]string{
		{"run", model, input, "-o", out},
		{"run", model, input, "-o", out, "--json"},
		{"check", model, ref},
		{"check", model, ref, "--json"},
	} {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "PTPORT_MAIN=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if !waitOpen(cmd.Process.Pid, args[2], 20*time.Second) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%v: did not open %s", args, args[2])
		}
		time.Sleep(300 * time.Millisecond) // the input read (10 MB), the pass under way
		start := time.Now()
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		stopped := time.Since(start)
		t.Logf("%v: stopped %v after Ctrl-C", args[:1], stopped)
		if stopped > 1500*time.Millisecond {
			t.Errorf("%v: stopped %v after Ctrl-C", args, stopped)
		}
		code := cmd.ProcessState.ExitCode()
		want := model + ": interrupted"
		if args[len(args)-1] == "--json" {
			var e struct{ Error, File string }
			if err := json.Unmarshal(stdout.Bytes(), &e); err != nil || e.Error != want || e.File != model || code != 130 {
				t.Errorf("%v: exit %d, stdout %q (%v); want 130, {\"error\": %q, \"file\": %q}", args, code, stdout.String(), err, want, model)
			}
		} else if errs := stderr.String(); code != 130 || errs != "ptport: "+want+"\n" || stdout.Len() > 0 {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want 130, ptport: %s", args, code, errs, stdout.String(), want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v wrote %s, interrupted", args, out)
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
