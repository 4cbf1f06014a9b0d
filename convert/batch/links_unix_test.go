//go:build unix

package batch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
)

// TestBatchLinks: a symbolic link to nothing, and one to a folder, that the patterns
// take from a folder are inputs that fail, saying what they are, as a FIFO is.
func TestBatchLinks(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/good.pt")
	zoo := filepath.Join(root, "zoo")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("nowhere.pt", filepath.Join(zoo, "dangling.pt")))
	must(os.Mkdir(filepath.Join(root, "folder"), 0o755))
	must(os.Symlink(filepath.Join(root, "folder"), filepath.Join(zoo, "dir.pt")))
	must(syscall.Mkfifo(filepath.Join(zoo, "fifo.pt"), 0o600))
	for _, check := range []bool{false, true} {
		sum, results := runBatch(t, Options{Inputs: []string{zoo}, OutDir: t.TempDir(), To: convert.Safetensors, Check: check})
		for name, want := range map[string]string{
			"dangling.pt": "a symbolic link to nothing",
			"dir.pt":      "a symbolic link to a folder",
			"fifo.pt":     "not a regular file",
		} {
			if r := results[filepath.Join(zoo, name)]; r.Status != StatusFailed || !strings.Contains(r.Error, want) {
				t.Errorf("check %v: %s: %+v, want failed: %s", check, name, r, want)
			}
		}
		if sum.Files != 4 || sum.Failed != 3 {
			t.Errorf("check %v: %+v", check, sum)
		}
	}
}

// TestBatchOutputPipe: named pipes where an input's output, or the index of its output
// in shards, would go are never opened, where the reading of the record of the file
// there waited for a writer to the pipe, whatever the context, and the batch hung: the
// inputs fail at once, the pipes stay, and a cancelled context stops the reading of
// such records.
func TestBatchOutputPipe(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/m.pt")
	out := filepath.Join(root, "out")
	var pipes []string
	for _, name := range []string{"m.safetensors", "sharded/m.safetensors.index.json"} {
		p := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		pipes = append(pipes, p)
	}
	t.Cleanup(func() { // let a reader that waits go
		for _, p := range pipes {
			if w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		}
	})
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{OutDir: out}, "not a regular file"},
		{Options{OutDir: filepath.Join(out, "sharded"), MaxShardSize: 64}, "m.safetensors.index.json"},
	} {
		c.opts.Inputs, c.opts.To = []string{filepath.Join(root, "zoo")}, convert.Safetensors
		done := make(chan map[string]Result, 1)
		go func() {
			results := map[string]Result{}
			Run(context.Background(), c.opts, func(r Result) { results[r.Input] = r })
			done <- results
		}()
		select {
		case results := <-done:
			if r := results[filepath.Join(root, "zoo", "m.pt")]; r.Status != StatusFailed || !strings.Contains(r.Error, c.want) {
				t.Errorf("output into %s: %+v, want failed: %s", c.opts.OutDir, r, c.want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("output into %s: the batch still runs after 20 s (waiting for a writer to a pipe?)", c.opts.OutDir)
		}
	}
	for _, p := range pipes {
		if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("%s: %v, %v; want the pipe still there", p, fi.Mode(), err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	good := filepath.Join(root, "good")
	if _, err := runBatchOnce(Options{Inputs: []string{filepath.Join(root, "zoo")}, OutDir: good, To: convert.Safetensors}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readSource(ctx, filepath.Join(good, "m.safetensors"), convert.Safetensors, false); !errors.Is(err, context.Canceled) {
		t.Errorf("readSource, cancelled: %v, want context.Canceled", err)
	}
	if _, err := recordedSource(ctx, filepath.Join(good, "m.safetensors")); !errors.Is(err, context.Canceled) {
		t.Errorf("recordedSource, cancelled: %v, want context.Canceled", err)
	}
}

// runBatchOnce runs a batch of opts to its end.
func runBatchOnce(opts Options) (Summary, error) {
	return Run(context.Background(), opts, func(Result) {})
}
