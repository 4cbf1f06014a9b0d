package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/batch"
	"github.com/ptport/ptport/pickle"
)

// TestMain lets the tests run the command as a child process: with PTPORT_MAIN=1 the
// test binary is ptport; with PTPORT_RSS_FILE too, it writes its peak RSS there.
func TestMain(m *testing.M) {
	if os.Getenv("PTPORT_MAIN") == "1" {
		code := run(os.Args[1:], os.Stdout, os.Stderr)
		if f := os.Getenv("PTPORT_RSS_FILE"); f != "" {
			os.WriteFile(f, []byte(strconv.FormatInt(peakRSS(), 10)), 0o644)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// zoo copies torch-made fixtures n times each into a folder tree.
func zoo(t *testing.T, n int, names ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, name := range names {
		b, err := os.ReadFile(fixtures + name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			dir := filepath.Join(root, fmt.Sprintf("d%02d", i%20))
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d-%s", i, name)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestBatchCommand(t *testing.T) {
	root := zoo(t, 3, "rnn_tanh.pt", "module_rnn.pt")
	os.WriteFile(filepath.Join(root, "broken.pt"), []byte("\x80\x02}q\x00(X"), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	report := filepath.Join(t.TempDir(), "report.jsonl")
	code, _, errs := runCLI(t, "batch", root, "-o", out, "--to", "npz", "--report", report, "--jobs", "2")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (one input fails)\n%s", code, errs)
	}
	if !strings.Contains(errs, "7 inputs: 6 ok, 0 skipped, 1 failed") || !strings.Contains(errs, "failed   "+filepath.Join(root, "broken.pt")) {
		t.Errorf("stderr:\n%s", errs)
	}
	f, err := os.Open(report)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	for sc := bufio.NewScanner(f); sc.Scan(); lines++ {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("report line %q: %v", sc.Text(), err)
		}
		for _, k := range []string{"input", "status", "bytes", "seconds", "tensors"} {
			if _, ok := r[k]; !ok {
				t.Errorf("report line lacks %s: %s", k, sc.Text())
			}
		}
		if r["status"] == "failed" && r["error"] == "" {
			t.Errorf("failed without a reason: %s", sc.Text())
		}
	}
	if lines != 7 {
		t.Errorf("report has %d lines, want 7", lines)
	}
	os.Remove(filepath.Join(root, "broken.pt"))
	if code, _, errs := runCLI(t, "batch", root, "-o", out, "--to", "npz"); code != 0 || !strings.Contains(errs, "6 skipped") {
		t.Errorf("rerun: exit %d\n%s", code, errs)
	}
	if code, _, errs := runCLI(t, "batch", root, "-o", out, "--shard", "2/2"); code != 2 || !strings.Contains(errs, "0 <= K < N") {
		t.Errorf("bad shard: exit %d\n%s", code, errs)
	}
}

// startBatch runs ptport batch as a child process.
func startBatch(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"batch"}, args...)...)
	cmd.Env = append(os.Environ(), "PTPORT_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// waitOutputs waits until at least n outputs exist below dir.
func waitOutputs(t *testing.T, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		count := 0
		filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
			if d != nil && !d.IsDir() && !convert.IsTemp(d.Name()) {
				count++
			}
			return nil
		})
		if count >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d outputs after 30s", n)
}

// checkOutputs requires every output under its final name to be complete: readable, with
// its input's tensors byte for byte. It returns how many there are and how many
// temporaries.
func checkOutputs(t *testing.T, root, out string) (outputs, temps int) {
	t.Helper()
	filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if convert.IsTemp(d.Name()) {
			temps++
			return nil
		}
		outputs++
		rel, _ := filepath.Rel(out, path)
		in := filepath.Join(root, strings.TrimSuffix(rel, ".safetensors")+".pt")
		got, err := convert.Open(path, nil)
		if err != nil {
			t.Errorf("partial output %s: %v", path, err)
			return nil
		}
		defer got.Close()
		want, err := convert.Open(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer want.Close()
		for _, l := range want.Leaves {
			wt, ok := l.Value.(*pickle.Tensor)
			if !ok {
				continue
			}
			gt, ok := got.Tensor(l.Name)
			wb, _ := wt.Bytes()
			if !ok {
				t.Errorf("%s lacks %s", path, l.Name)
				continue
			}
			if gb, _ := gt.Bytes(); !bytes.Equal(gb, wb) {
				t.Errorf("%s: %s differs from the input", path, l.Name)
			}
		}
		return nil
	})
	return outputs, temps
}

func TestBatchKill(t *testing.T) {
	root := zoo(t, 400, "lstm_proj_bi.pt")
	out := t.TempDir()
	cmd, _ := startBatch(t, root, "-o", out, "--jobs", "2")
	waitOutputs(t, out, 20)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	outputs, temps := checkOutputs(t, root, out)
	if outputs >= 400 {
		t.Fatalf("the batch finished before the kill (%d outputs)", outputs)
	}
	t.Logf("killed with %d of 400 outputs and %d temporaries", outputs, temps)

	code, _, errs := runCLI(t, "batch", root, "-o", out, "--quiet")
	if code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, errs)
	}
	if want := fmt.Sprintf("%d skipped", outputs); !strings.Contains(errs, want) {
		t.Errorf("rerun did not skip the %d complete outputs:\n%s", outputs, errs)
	}
	if outputs, temps := checkOutputs(t, root, out); outputs != 400 || temps != 0 {
		t.Errorf("after the rerun: %d outputs, %d temporaries; want 400 and 0", outputs, temps)
	}
}

func TestBatchInterrupt(t *testing.T) {
	root := zoo(t, 400, "lstm_proj_bi.pt")
	out := t.TempDir()
	cmd, stderr := startBatch(t, root, "-o", out, "--jobs", "2", "--quiet")
	waitOutputs(t, out, 20)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("interrupted batch: %v, want exit status 130 (128 + SIGINT)\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "interrupted:") {
		t.Errorf("stderr does not report the interruption:\n%s", stderr)
	}
	if outputs, temps := checkOutputs(t, root, out); temps != 0 || outputs == 0 {
		t.Errorf("after Ctrl-C: %d outputs, %d temporaries; want some outputs and no temporaries", outputs, temps)
	}
}

// TestBatchListCommand: "batch -" converts the inputs that standard input lists,
// NUL-ended with --null, relative paths from the working directory, each output under
// its input's path; a sharded checkpoint listed by its shards is one input, reported
// with them.
func TestBatchListCommand(t *testing.T) {
	dir := t.TempDir()
	copyShardedBin(t, filepath.Join(dir, "zoo/m1"))
	b, _ := os.ReadFile(training + "adam.pt")
	os.MkdirAll(filepath.Join(dir, "zoo/m2"), 0o755)
	os.WriteFile(filepath.Join(dir, "zoo/m2/model.pt"), b, 0o644)
	list := "zoo/m1/pytorch_model-00001-of-00003.bin\x00zoo/m1/pytorch_model-00003-of-00003.bin\x00./zoo/m2/model.pt\x00"

	code, stdout, errs := childIn(t, dir, []byte(list), "batch", "-", "--null", "-o", "out", "--report", "-")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var results []batch.Result
	for _, line := range strings.Split(strings.TrimSpace(string(stdout)), "\n") {
		var r batch.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("report line %q: %v", line, err)
		}
		results = append(results, r)
	}
	if len(results) != 2 {
		t.Fatalf("report %s, want 2 inputs", stdout)
	}
	for _, want := range []string{"out/zoo/m1/pytorch_model.safetensors", "out/zoo/m2/model.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("%s not written: %v", want, err)
		}
	}
	for _, r := range results {
		if strings.HasSuffix(r.Input, ".index.json") && len(r.Shards) != 3 {
			t.Errorf("the sharded checkpoint reported with shards %v", r.Shards)
		}
	}
	if !strings.Contains(string(errs), "3 shards") {
		t.Errorf("stderr does not say the shards:\n%s", errs)
	}
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{list, []string{"batch", "-", "-o", "out"}, "(--null reads them)"},
		{"", []string{"batch", "zoo", "--null", "-o", "out"}, "give - as an input"},
		{"", []string{"batch", "-", "-", "-o", "out"}, "given twice"},
	} {
		if code, _, errs := childIn(t, dir, []byte(c.stdin), c.args...); code != 2 || !strings.Contains(string(errs), c.want) {
			t.Errorf("%v: exit %d, want 2 saying %q\n%s", c.args, code, c.want, errs)
		}
	}
}

// childIn runs ptport as a child process in the folder dir with stdin.
func childIn(t *testing.T, dir string, stdin []byte, args ...string) (code int, stdout, stderr []byte) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PTPORT_MAIN=1")
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.Bytes(), errb.Bytes()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.Bytes(), errb.Bytes()
}

// TestBatchCheckDiagnosis: a failure line of batch --check says what the check's
// diagnosis says, and the flag that fixes it, as check does; the JSONL report holds the
// diagnosis.
func TestBatchCheckDiagnosis(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"forgot_batch_first", "train_mode", "h0_tuple"} {
		model := name
		if name == "h0_tuple" {
			model = "lstm" // h0_tuple.ref.pt is lstm.pt's
		}
		for from, to := range map[string]string{model + ".pt": name + ".pt", name + ".ref.pt": name + ".ref.pt"} {
			b, err := os.ReadFile(filepath.Join("../../testdata/parity", from))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, to), b, 0o644)
		}
	}
	report := filepath.Join(dir, "report.jsonl")
	code, _, errs := runCLI(t, "batch", "--check", dir, "--report", report)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errs)
	}
	for _, want := range []string{
		"failed   " + filepath.Join(dir, "forgot_batch_first.pt") + ": mismatch against forgot_batch_first.ref.pt: FAIL: ",
		"\n         diagnosis: batch_first flipped: the reference was computed with batch_first=True\n         fix: --batch-first\n",
		"\n         diagnosis: the reference was computed in train mode: layer 0's final state matches",
		"3 inputs: 1 ok, 0 skipped, 2 failed",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"diagnosis":[{"name":"batch_first","description":"batch_first flipped`) {
		t.Errorf("the report lacks the diagnosis:\n%s", b)
	}
}

// batchJSON decodes what batch --json writes on standard output: JSON Lines, an
// object a line, each input's record, then the summary on the last line.
func batchJSON(t *testing.T, stdout string) ([]batch.Result, batchSummary) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	var sum batchSummary
	if err := strictJSON(lines[len(lines)-1], &sum); err != nil {
		t.Fatalf("--json: the last line is not the summary: %v\n%s", err, stdout)
	}
	records := make([]batch.Result, len(lines)-1)
	for i, line := range lines[:len(lines)-1] {
		if err := strictJSON(line, &records[i]); err != nil {
			t.Fatalf("--json: line %d is not an input's record: %v\n%s", i+1, err, stdout)
		}
	}
	return records, sum
}

// strictJSON decodes the one JSON value of line into v, refusing members v lacks.
func strictJSON(line string, v any) error {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one value on the line")
	}
	return nil
}

// TestBatchJSONRecords: batch --json writes every input's outcome on standard output,
// a JSON object a line, the failed input's with its name and its error, the records
// byte for byte those of --report, then the summary; standard error has the lines for
// people alone, and the exit status is as without --json.
func TestBatchJSONRecords(t *testing.T) {
	crc := "../../testdata/pickle/crc/"
	dir := t.TempDir()
	for _, name := range []string{"flipped.pt", "good.pt"} {
		b, err := os.ReadFile(crc + name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	report := filepath.Join(t.TempDir(), "report.jsonl")
	code, stdout, errs := runCLI(t, "batch", dir, "-o", out, "--json", "--report", report)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (an input failed)\n%s%s", code, stdout, errs)
	}
	records, sum := batchJSON(t, stdout)
	if len(records) != 2 {
		t.Fatalf("%d records, want one for each of the 2 inputs:\n%s", len(records), stdout)
	}
	byInput := map[string]batch.Result{}
	for _, r := range records {
		byInput[r.Input] = r
	}
	bad, good := byInput[filepath.Join(dir, "flipped.pt")], byInput[filepath.Join(dir, "good.pt")]
	const msg = "tensor w: good/data/0: CRC-32 mismatch"
	if bad.Status != batch.StatusFailed || !strings.HasPrefix(bad.Error, msg) {
		t.Errorf("flipped.pt's record %+v, want failed with %q", bad, msg)
	}
	if good.Status != batch.StatusOK || good.Error != "" || good.Output != filepath.Join(out, "good.safetensors") || good.Tensors != 2 {
		t.Errorf("good.pt's record %+v, want ok, written to %s", good, filepath.Join(out, "good.safetensors"))
	}
	if sum.Files != 2 || sum.OK != 1 || sum.Failed != 1 || sum.FailedAllowed {
		t.Errorf("summary %+v, want 2 files, 1 ok, 1 failed, not allowed", sum)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.SplitAfter(stdout, "\n"); strings.Join(lines[:len(lines)-2], "") != string(b) {
		t.Errorf("the records of --json are not those of --report:\n%s\nthe report:\n%s", stdout, b)
	}
	if line := "failed   " + filepath.Join(dir, "flipped.pt") + ": " + msg; !strings.Contains(errs, line) || strings.Contains(errs, "{") || strings.Contains(errs, "converted 2 inputs") {
		t.Errorf("stderr, want the failure's line alone, no JSON nor summary:\n%s", errs)
	}

	code, stdout, errs = runCLI(t, "batch", dir, "-o", out, "--json", "--allow-failed")
	records, sum = batchJSON(t, stdout)
	if code != 0 || len(records) != 2 || sum.Skipped != 1 || sum.Failed != 1 || !sum.FailedAllowed {
		t.Errorf("--allow-failed: exit %d, want 0, a record for each input and the failure allowed:\n%s%s", code, stdout, errs)
	}
}
