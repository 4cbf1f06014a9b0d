package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/batch"
	"github.com/ptport/ptport/pickle"
)

const training = "../../testdata/training/"

// jsonValues reports whether s is one or more JSON values, one after the other (as
// batch --json writes its lines).
func jsonValues(s string) bool {
	dec := json.NewDecoder(strings.NewReader(s))
	n := 0
	for ; dec.More(); n++ {
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
	}
	return n > 0
}

// TestJSONEverywhere: with --json every command prints JSON on stdout, and a failure is
// {"error", "file"} on stdout with nothing on stderr and the usual exit status.
func TestJSONEverywhere(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pt")
	os.WriteFile(garbage, []byte("not a checkpoint at all"), 0o644)
	ok := [][]string{
		{"inspect", fixtures + "rnn_tanh.pt"},
		{"convert", fixtures + "rnn_tanh.pt", "-o", filepath.Join(dir, "a.safetensors")},
		{"check", fixtures + "rnn_tanh.pt", fixtures + "rnn_tanh.ref.pt"},
		{"check"},
		{"run", fixtures + "rnn_tanh.pt", fixtures + "rnn_tanh.ref.pt", "-o", filepath.Join(dir, "y.npz")},
		{"bench", fixtures + "rnn_tanh.pt", "--seq", "3", "--time", "5ms"},
		{"batch", fixtures + "rnn_tanh.pt", "-o", filepath.Join(dir, "out")},
		{"batch", "--clean", filepath.Join(dir, "out")},
		{"--version"},
	}
	for _, args := range ok {
		code, out, errs := runCLI(t, append(args, "--json")...)
		if code != 0 || !jsonValues(out) {
			t.Errorf("%v --json: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	bad := []struct {
		args []string
		code int
		file string
		msg  string
	}{
		{[]string{"inspect", garbage}, 2, garbage, "garbage.pt"},
		{[]string{"inspect", filepath.Join(dir, "missing.pt")}, 2, filepath.Join(dir, "missing.pt"), "no such file"},
		{[]string{"convert", garbage, "-o", filepath.Join(dir, "b.safetensors")}, 2, garbage, "unknown format"},
		{[]string{"convert", fixtures + "rnn_tanh.pt", "-o", filepath.Join(dir, "b.txt")}, 2, "", "unknown output format"},
		{[]string{"check", fixtures + "drifted.pt", fixtures + "rnn_tanh.ref.pt"}, 2, "", ""},
		{[]string{"check", fixtures + "invalid_keys.pt", fixtures + "rnn_tanh.ref.pt"}, 2, fixtures + "invalid_keys.pt", "bias_hh_l1"},
		{[]string{"run", garbage, fixtures + "rnn_tanh.ref.pt", "-o", filepath.Join(dir, "y.pt")}, 2, garbage, ""},
		{[]string{"bench", garbage}, 2, garbage, ""},
		{[]string{"batch", fixtures + "rnn_tanh.pt", "-o", dir, "--jobs", "-3"}, 2, "", "--jobs -3: want a number of workers"},
		{[]string{"convert", "--no-such-flag"}, 2, "", "unknown flag"},
		{[]string{"frobnicate"}, 2, "", "unknown command"},
	}
	for _, c := range bad {
		code, out, errs := runCLI(t, append(c.args, "--json")...)
		var e struct {
			Error *string `json:"error"`
			File  *string `json:"file"`
		}
		if err := json.Unmarshal([]byte(out), &e); err != nil || e.Error == nil || e.File == nil {
			t.Errorf("%v --json: stdout %q is not {error, file}", c.args, out)
			continue
		}
		if code != c.code || errs != "" {
			t.Errorf("%v --json: exit %d, stderr %q; want %d and nothing", c.args, code, errs, c.code)
		}
		if !strings.Contains(*e.Error, c.msg) || (c.file != "" && *e.File != c.file) {
			t.Errorf("%v --json: %+v, want error with %q, file %q", c.args, out, c.msg, c.file)
		}
	}
	// A failed check is its report, not an error.
	code, out, _ := runCLI(t, "check", fixtures+"drifted.pt", fixtures+"drifted.ref.pt", "--json")
	var r struct {
		Pass *bool `json:"pass"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &r) != nil || r.Pass == nil || *r.Pass {
		t.Errorf("a mismatch with --json: exit %d, %s", code, out)
	}
	// A batch with failures prints its inputs' records, then its summary.
	code, out, _ = runCLI(t, "batch", fixtures+"rnn_tanh.pt", garbage, "-o", filepath.Join(dir, "o2"), "--json")
	records, s := batchJSON(t, out)
	if code != 1 || len(records) != 2 || s.Failed != 1 || s.OK != 1 {
		t.Errorf("batch with a failure, --json: exit %d, %s", code, out)
	}
}

// TestVersion: --version tells the module version and the VCS revision of the build, as
// the toolchain recorded them (go version -m), and in a git checkout, its HEAD.
func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "ptport ") {
		t.Fatalf("--version: %d %q", code, out)
	}
	bin := filepath.Join(t.TempDir(), "ptport")
	if b, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := exec.Command(bin, "--version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v versionInfo
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]string{}
	for _, line := range strings.Split(string(meta), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "mod" {
			recorded["version"] = f[2]
		}
		if len(f) == 2 && f[0] == "build" {
			k, val, _ := strings.Cut(f[1], "=")
			recorded[k] = val
		}
	}
	if v.Version != recorded["version"] || v.Revision != recorded["vcs.revision"] || v.Time != recorded["vcs.time"] || !strings.HasPrefix(v.Go, "go") {
		t.Errorf("--version --json: %+v, the build recorded %v", v, recorded)
	}
	// In a clone (not a worktree, which the toolchain does not stamp), the revision is HEAD.
	if fi, err := os.Stat("../../.git"); err == nil && fi.IsDir() {
		rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
		if err != nil {
			t.Fatal(err)
		}
		if v.Revision != strings.TrimSpace(string(rev)) {
			t.Errorf("revision %q, HEAD is %s", v.Revision, rev)
		}
	}
	b, _ = exec.Command(bin, "--version").Output()
	if !strings.Contains(string(b), v.Revision) || !strings.Contains(string(b), v.Version) {
		t.Errorf("--version: %q", b)
	}
}

// TestCompletionJSON: completion SHELL --json prints the script as the JSON object
// {"shell", "script"}, as every command's --json prints its result, where it printed
// the bare script; the script is the one printed without --json.
func TestCompletionJSON(t *testing.T) {
	for _, args := range [][]string{{"bash"}, {"zsh"}, {"fish"}, {"powershell"}, {"fish", "--no-descriptions"}} {
		_, plain, _ := runCLI(t, append([]string{"completion"}, args...)...)
		code, out, errs := runCLI(t, append([]string{"completion", "--json"}, args...)...)
		var got struct {
			Shell, Script string
		}
		if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Shell != args[0] || got.Script != plain || plain == "" {
			t.Errorf("completion %v --json: exit %d, %v, shell %q, script of %d bytes (without --json %d)\n%.200s%s", args, code, err, got.Shell, len(got.Script), len(plain), out, errs)
		}
	}
}

// TestCompletion: completion is listed in the help, and flag values complete.
func TestCompletion(t *testing.T) {
	_, out, _ := runCLI(t, "--help")
	if !regexp.MustCompile(`(?m)^\s+completion\s`).MatchString(out) {
		t.Errorf("help does not list completion:\n%s", out)
	}
	if code, out, _ := runCLI(t, "completion", "bash"); code != 0 || !strings.Contains(out, "__start_ptport") {
		t.Errorf("completion bash: %d", code)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"convert", "x.pt", "--to", ""}, []string{"safetensors", "npz", "json", "pt"}},
		{[]string{"batch", "x", "--to", "s"}, []string{"safetensors"}},
		{[]string{"check", "m.pt", "r.pt", "--nonlinearity", ""}, []string{"tanh", "relu"}},
		{[]string{"run", fixtures + "two_modules.pt", "x.pt", "--prefix", ""}, []string{"enc.", "dec."}},
		{[]string{"convert", "x.pt", "--strip-prefix", "mo"}, []string{"module.", "model."}},
	} {
		_, out, _ := runCLI(t, append([]string{"__complete"}, c.args...)...)
		got := strings.Fields(out[:strings.LastIndex(out, ":")])
		for _, w := range c.want {
			if !slicesContains(got, w) {
				t.Errorf("completing %v: %v, want %s among them", c.args, got, w)
			}
		}
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// child runs ptport as a child process with stdin.
func child(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr []byte) {
	t.Helper()
	return childIn(t, "", stdin, args...)
}

// TestStdio: "-" is standard input for inputs and standard output for outputs; no file
// named "-" appears.
func TestStdio(t *testing.T) {
	dir := t.TempDir()
	model, _ := os.ReadFile(fixtures + "lstm_proj_bi.pt")
	code, out, errs := child(t, model, "convert", "-", "-o", "-", "--to", "safetensors")
	if code != 0 {
		t.Fatalf("convert - -o -: %d %s", code, errs)
	}
	os.WriteFile(filepath.Join(dir, "piped.safetensors"), out, 0o644)
	want := filepath.Join(dir, "file.safetensors")
	if code, _, errs := runCLI(t, "convert", fixtures+"lstm_proj_bi.pt", "-o", want); code != 0 {
		t.Fatal(errs)
	}
	wb, _ := os.ReadFile(want)
	if !bytes.Equal(out, wb) {
		t.Error("convert to standard output differs from convert to a file")
	}
	if code, out, _ := child(t, model, "inspect", "-", "--json"); code != 0 || !strings.Contains(string(out), `"file": "<stdin>"`) {
		t.Errorf("inspect -: %d %s", code, out)
	}
	ref, _ := os.ReadFile(fixtures + "lstm_proj_bi.ref.pt")
	if code, _, errs := child(t, ref, "check", fixtures+"lstm_proj_bi.pt", "-"); code != 0 {
		t.Errorf("check MODEL -: %d %s", code, errs)
	}
	if code, out, errs := child(t, nil, "run", fixtures+"lstm_proj_bi.pt", fixtures+"lstm_proj_bi.ref.pt", "-o", "-", "--to", "npz"); code != 0 || !bytes.HasPrefix(out, []byte("PK")) {
		t.Errorf("run -o -: %d %s", code, errs)
	}
	code, rep, _ := runCLIDir(t, dir, "batch", fixtures+"rnn_tanh.pt", "-o", filepath.Join(dir, "out"), "--report", "-")
	var r map[string]any
	if code != 0 || json.Unmarshal([]byte(strings.TrimSpace(rep)), &r) != nil || r["status"] != "ok" {
		t.Errorf("--report -: %d %q", code, rep)
	}
	if code, _, errs := runCLI(t, "convert", fixtures+"rnn_tanh.pt", "-o", "-"); code != 2 || !strings.Contains(errs, "--to") {
		t.Errorf("-o - without --to: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "convert", fixtures+"rnn_tanh.pt", "-o", "-", "--to", "npz", "--json"); code != 2 || errs != "" {
		t.Errorf("-o - with --json: %d %s", code, errs)
	}
	if _, err := os.Stat("-"); err == nil {
		t.Error(`a file named "-" was created`)
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
		t.Error(`a file named "-" was created`)
	}
}

// runCLIDir is runCLI in the folder dir.
func runCLIDir(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	abs := make([]string, len(args))
	for i, a := range args {
		if strings.HasPrefix(a, "../") {
			a = filepath.Join(wd, a)
		}
		abs[i] = a
	}
	return runCLI(t, abs...)
}

// TestAllowFailed: failed inputs fail the batch unless --allow-failed tolerates them;
// outputs that cannot be written fail it regardless; the report's folder is created.
func TestAllowFailed(t *testing.T) {
	root := zoo(t, 4, "rnn_tanh.pt")
	os.WriteFile(filepath.Join(root, "broken.pt"), []byte("\x80\x02}q\x00(X"), 0o644)
	report := filepath.Join(t.TempDir(), "new", "folder", "r.jsonl")
	for _, c := range []struct {
		flag string
		code int
	}{
		{"", 1}, {"--allow-failed", 0}, {"--allow-failed=1", 0}, {"--allow-failed=0", 1},
		{"--allow-failed=20%", 0}, {"--allow-failed=10%", 1},
	} {
		args := []string{"batch", root, "-o", filepath.Join(t.TempDir(), "out"), "--report", report}
		if c.flag != "" {
			args = append(args, c.flag)
		}
		code, _, errs := runCLI(t, args...)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", c.flag, code, c.code, errs)
		}
		b, err := os.ReadFile(report)
		if err != nil || bytes.Count(b, []byte("\n")) != 5 || !bytes.Contains(b, []byte(`"status":"failed"`)) {
			t.Errorf("%s: report %q, %v", c.flag, b, err)
		}
	}
	for _, bad := range []string{"--allow-failed=x", "--allow-failed=101%", "--allow-failed=-1"} {
		if code, _, _ := runCLI(t, "batch", root, "-o", t.TempDir(), bad); code != 2 {
			t.Errorf("%s: exit %d, want 2", bad, code)
		}
	}
	// An output that cannot be written: not an input's failure.
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "d00"), []byte("a file where a folder goes"), 0o644)
	code, _, errs := runCLI(t, "batch", root, "-o", out, "--allow-failed")
	if code != 1 || !strings.Contains(errs, "could not be written") {
		t.Errorf("unwritable output with --allow-failed: exit %d\n%s", code, errs)
	}
}

// TestFailureLines: a failed input's line names it once.
func TestFailureLines(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "broken.pt"), []byte("\x80\x02}q\x00(X"), 0o644)
	_, _, errs := runCLI(t, "batch", root, "-o", t.TempDir())
	for _, line := range strings.Split(errs, "\n") {
		if strings.HasPrefix(line, "failed") && strings.Count(line, "broken.pt") != 1 {
			t.Errorf("%q names the file %d times", line, strings.Count(line, "broken.pt"))
		}
	}
}

// TestFailureLinesNameTheFlag: a batch input that goes past a limit a flag raises says
// which flag on its line, as the single commands do: --expand-limit for the bytes read
// from a file's expanded views (converting), --output-limit for a forward pass
// (checking).
func TestFailureLinesNameTheFlag(t *testing.T) {
	hostile := "../../testdata/hostile/"
	views := t.TempDir()
	b, err := os.ReadFile(hostile + "expand_views.pt")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(views, "v.pt"), b, 0o644)
	_, _, errs := runCLI(t, "batch", views, "-o", t.TempDir())
	if want := "reading an expanded view"; !strings.Contains(errs, want) || !strings.Contains(errs, "(--expand-limit SIZE raises the limit)\n") {
		t.Errorf("batch of expand_views.pt:\n%s", errs)
	}

	models := t.TempDir()
	gz, err := os.Open(hostile + "rnn_1024.pt.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	model, _ := os.Create(filepath.Join(models, "m.pt"))
	if _, err := io.Copy(model, zr); err != nil {
		t.Fatal(err)
	}
	model.Close()
	if b, err = os.ReadFile(hostile + "run_steps.pt"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(models, "m.ref.pt"), b, 0o644)
	_, _, errs = runCLI(t, "batch", models, "--check")
	if !strings.Contains(errs, "4194304 rows") || !strings.Contains(errs, "(--output-limit SIZE raises the limit)\n") {
		t.Errorf("batch --check of rnn_1024.pt against run_steps.pt:\n%s", errs)
	}
}

// TestBatchCheckDiagnosisLines: a failed check's line in batch --check gives the
// diagnosis lines check prints, "none of the usual porting mistakes explains it"
// included, and the fix.
func TestBatchCheckDiagnosisLines(t *testing.T) {
	parity := "../../testdata/parity/"
	dir := t.TempDir()
	for _, name := range []string{"drifted", "forgot_batch_first"} {
		for _, ext := range []string{".pt", ".ref.pt"} {
			b, err := os.ReadFile(parity + name + ext)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, name+ext), b, 0o644)
		}
	}
	_, _, errs := runCLI(t, "batch", dir, "--check")
	for _, name := range []string{"drifted", "forgot_batch_first"} {
		_, out, _ := runCLI(t, "check", parity+name+".pt", parity+name+".ref.pt")
		var want []string
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "diagnosis: ") || strings.HasPrefix(line, "fix: ") {
				line, _, _ = strings.Cut(line, " (max abs err ")
				want = append(want, "\n         "+line)
			}
		}
		_, block, _ := strings.Cut(errs, "failed   "+filepath.Join(dir, name+".pt")+": ")
		block, _, _ = strings.Cut(block, "\nfailed")
		block, _, _ = strings.Cut(block, "\nchecked ")
		if len(want) == 0 || !strings.Contains(block, strings.Join(want, "")) {
			t.Errorf("%s: batch --check printed\n%s\nwant the lines %q of check's", name, block, want)
		}
	}
}

// TestConvertSelectShard: the selection and shard flags of convert, and the refusal of a
// lone shard by every command that loads a model.
func TestConvertSelectShard(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "model.safetensors")
	code, stdout, errs := runCLI(t, "convert", training+"lightning.ckpt", "-o", out, "--select", "state_dict",
		"--strip-prefix", "model.", "--exclude", "embedding.*", "--max-shard-size", "2KB", "--json")
	if code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	var res convertResult
	json.Unmarshal([]byte(stdout), &res)
	if len(res.Files) < 3 || res.Files[len(res.Files)-1] != out+".index.json" || res.Tensors != 10 {
		t.Errorf("%+v", res)
	}
	code, stdout, _ = runCLI(t, "inspect", out+".index.json", "--json")
	var inv convert.Inventory
	if code != 0 || json.Unmarshal([]byte(stdout), &inv) != nil || inv.Shards != len(res.Files)-1 || len(inv.Tensors) != 10 {
		t.Errorf("inspect the index: %d %s", code, stdout)
	}
	for _, cmd := range [][]string{
		{"convert", res.Files[0], "-o", filepath.Join(dir, "x.pt")},
		{"check", res.Files[0], fixtures + "rnn_tanh.ref.pt"},
		{"run", res.Files[0], fixtures + "rnn_tanh.ref.pt", "-o", filepath.Join(dir, "y.pt")},
	} {
		code, _, errs := runCLI(t, cmd...)
		if code != 2 || !strings.Contains(errs, "shard 1 of") || !strings.Contains(errs, "model.safetensors.index.json") {
			t.Errorf("%v: exit %d %s", cmd, code, errs)
		}
	}
	// a sharded recurrent model checks as a whole, by its index
	rnnOut := filepath.Join(dir, "rnn", "model.safetensors")
	if code, _, errs := runCLI(t, "convert", fixtures+"lstm_proj_bi.pt", "-o", rnnOut, "--max-shard-size", "300B"); code != 0 {
		t.Fatal(errs)
	}
	if code, out, errs := runCLI(t, "check", rnnOut+".index.json", fixtures+"lstm_proj_bi.ref.pt"); code != 0 || !strings.Contains(out, "PASS") {
		t.Errorf("check of a sharded model: exit %d\n%s%s", code, out, errs)
	}
	// inspect lists a lone shard, saying what it is
	code, stdout, _ = runCLI(t, "inspect", res.Files[0])
	if code != 0 || !strings.Contains(stdout, "shard 1 of") {
		t.Errorf("inspect a shard: %d %s", code, stdout)
	}
	if code, _, errs := runCLI(t, "convert", training+"adam.pt", "-o", filepath.Join(dir, "z.safetensors"), "--select", "nope"); code != 2 || !strings.Contains(errs, `"model_state_dict"`) {
		t.Errorf("--select nope: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "convert", training+"adam.pt", "-o", filepath.Join(dir, "z.npz"), "--max-shard-size", "1GB"); code != 2 || !strings.Contains(errs, "safetensors only") {
		t.Errorf("npz shards: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "convert", training+"adam.pt", "-o", filepath.Join(dir, "z.safetensors"), "--max-shard-size", "lots"); code != 2 || !strings.Contains(errs, "not a size") {
		t.Errorf("bad size: %d %s", code, errs)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"5GB": 5e9, "5gb": 5e9, "500MB": 500e6, "2GiB": 2 << 30, "1.5KiB": 1536, "100": 100, "10 kB": 10e3, "1b": 1} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GB", "-1GB", "0", "NaN", "1e30TB", "five"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}

// bigCheckpoint writes a .pt of one float32 tensor of n elements, by ptport's writer:
// values of many digits, which take a while to write as JSON.
func bigCheckpoint(t *testing.T, path string, n int) {
	t.Helper()
	data := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i)*1.2345678+0.1))
	}
	x, err := pickle.NewTensor(pickle.F32, []int{n}, data)
	if err != nil {
		t.Fatal(err)
	}
	cp := convert.FromLeaves(path, []pickle.Leaf{{Name: "w", Value: x}})
	if err := convert.Export(context.Background(), path, convert.PT, cp); err != nil {
		t.Fatal(err)
	}
}

// temps lists ptport's temporaries in dir.
func temps(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if convert.IsTemp(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestConvertSignals: SIGTERM or Ctrl-C during convert stops it with nothing left
// behind; after a SIGKILL, the next ptport writing to the folder removes the temporary.
func TestConvertSignals(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "big.pt")
	bigCheckpoint(t, in, 4<<20) // 16 MiB: its JSON takes seconds to write
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt, syscall.SIGKILL} {
		out := filepath.Join(dir, "out")
		os.MkdirAll(out, 0o755)
		cmd := exec.Command(os.Args[0], "convert", in, "-o", filepath.Join(out, "big.json"))
		cmd.Env = append(os.Environ(), "PTPORT_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(temps(out)) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if len(temps(out)) == 0 {
			t.Fatalf("%v: no temporary appeared", sig)
		}
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		if _, err := os.Stat(filepath.Join(out, "big.json")); err == nil {
			t.Fatalf("%v: convert finished before the signal; make the input larger", sig)
		}
		if sig == syscall.SIGKILL {
			if len(temps(out)) != 1 {
				t.Fatalf("SIGKILL left %v", temps(out))
			}
			// any later ptport command writing to the folder removes it
			if code, _, errs := runCLI(t, "convert", fixtures+"rnn_tanh.pt", "-o", filepath.Join(out, "small.npz")); code != 0 {
				t.Fatal(errs)
			}
			if left := temps(out); len(left) != 0 {
				t.Errorf("the next convert left the killed one's temporary: %v", left)
			}
			continue
		}
		var ee *exec.ExitError
		want := 128 + int(sig.(syscall.Signal)) // as shells report it: 130, 143
		if !errors.As(err, &ee) || ee.ExitCode() != want || !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("%v: %v, stderr %q; want exit %d, interrupted", sig, err, stderr.String(), want)
		}
		if left := temps(out); len(left) != 0 {
			t.Errorf("%v left %v", sig, left)
		}
	}
}

// TestBatchCleanCommand: batch --clean removes the temporaries of any shard layout and
// says what it removed; a file merely named with their prefix stays.
func TestBatchCleanCommand(t *testing.T) {
	out := t.TempDir()
	os.MkdirAll(filepath.Join(out, "a", "b"), 0o755)
	names := []string{
		filepath.Join(out, "a", ".ptport-tmp-"+"s0of1-h00000000n1p1t1.m.safetensors-1"),
		filepath.Join(out, "a", "b", ".ptport-tmp-"+"s7of16-h00000001n1p9t1.n.safetensors-2"),
	}
	for _, n := range names {
		os.WriteFile(n, []byte("partial"), 0o644)
	}
	os.WriteFile(filepath.Join(out, "a", "kept.safetensors"), []byte("whole"), 0o644)
	notes := filepath.Join(out, "a", ".ptport-tmp-notes.txt")
	os.WriteFile(notes, []byte("precious"), 0o644)
	code, _, errs := runCLI(t, "batch", "--clean", out)
	if _, err := os.Stat(notes); err != nil || strings.Contains(errs, "notes") {
		t.Errorf("a file of the user's named like a temporary was removed (%v):\n%s", err, errs)
	}
	if code != 0 || !strings.Contains(errs, "removed 2 temporaries (14 B)") {
		t.Errorf("exit %d\n%s", code, errs)
	}
	for _, n := range names {
		if !strings.Contains(errs, n) {
			t.Errorf("does not say it removed %s:\n%s", n, errs)
		}
		if _, err := os.Stat(n); err == nil {
			t.Errorf("%s still there", n)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "a", "kept.safetensors")); err != nil {
		t.Error("an output was removed")
	}
	if code, _, _ := runCLI(t, "batch", "--clean", filepath.Join(out, "missing")); code != 2 {
		t.Errorf("--clean of a missing folder: exit %d", code)
	}
}

// TestMeterLine: the progress line never passes the width, keeps its units, shows the
// time left from a rate averaged over seconds, and drops the least important parts
// first when the terminal is narrow.
func TestMeterLine(t *testing.T) {
	start := time.Now()
	m := &meter{what: "converting", total: 10 << 30, items: 40, start: start}
	// 100 MiB/s for 10 s, in samples every 200 ms
	for i := 1; i <= 50; i++ {
		m.done = int64(i) * (100 << 20) / 5
		m.doneN = i / 5
		m.sample(start.Add(time.Duration(i) * 200 * time.Millisecond))
	}
	now := start.Add(10 * time.Second)
	for _, width := range []int{200, 80, 60, 40, 20, 5} {
		line := m.line(width, now)
		if len(line) > width-1 {
			t.Errorf("width %d: %d columns: %q", width, len(line), line)
		}
		if width >= 80 {
			want := []string{"[", "10/40 files", "1000 MiB of 10.0 GiB", "ETA 1m32s"}
			if width > 80 {
				want = append(want, "100 MiB/s")
			}
			for _, w := range want {
				if !strings.Contains(line, w) {
					t.Errorf("width %d: %q lacks %q", width, line, w)
				}
			}
		}
		if width == 40 && (!strings.Contains(line, "[") || strings.Contains(line, "MiB/s")) {
			t.Errorf("width 40: %q: the rate goes before the bar", line)
		}
	}
	// A burst does not swing the rate: one sample of 10x the speed
	m.done += 1000 << 20
	m.sample(now.Add(200 * time.Millisecond))
	if r := m.rate(now.Add(200 * time.Millisecond)); r > 400<<20 {
		t.Errorf("rate after a burst: %s", rateText(r))
	}
	// The summary's units are the bar's.
	if s := summaryLine(batch.Summary{Files: 2, OK: 2, Bytes: 3 << 20, Seconds: 2}, false, 2); !strings.Contains(s, "1.5 MiB/s") || !strings.Contains(s, "3.0 MiB in") {
		t.Errorf("summary %q", s)
	}
}

// TestMeterOnTerminal runs a batch under a pseudo-terminal 50 columns wide (script(1))
// and reads what it drew: every redraw fits the terminal's width.
func TestMeterOnTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("script(1) is needed: %v", err)
	}
	root := t.TempDir()
	for i := range 6 { // 16 MiB each, to JSON by one worker: seconds
		bigCheckpoint(t, filepath.Join(root, fmt.Sprintf("m%d.pt", i)), 4<<20)
	}
	out := t.TempDir()
	bin, _ := filepath.Abs(os.Args[0])
	line := "stty cols 50 rows 20; PTPORT_MAIN=1 " + bin + " batch " + root + " -o " + out + " --jobs 1 --no-sync --to json"
	typescript := filepath.Join(t.TempDir(), "typescript")
	cmd := exec.Command(script, "-q", "-e", "-c", line, typescript)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	b, _ := os.ReadFile(typescript)
	frames := 0
	for _, chunk := range strings.Split(string(b), "\r") {
		chunk = strings.TrimPrefix(chunk, "\x1b[K")
		if !strings.HasPrefix(chunk, "[") {
			continue // not a frame of the bar
		}
		frames++
		text := strings.SplitN(chunk, "\n", 2)[0]
		if len(text) > 49 {
			t.Errorf("a frame of %d columns on a 50-column terminal: %q", len(text), text)
		}
	}
	if frames == 0 {
		t.Errorf("no progress drawn on the terminal:\n%q", b)
	}
}

// TestMeterPastTotal: bytes written beyond what the meter was told to expect (JSON text
// is larger than the tensors it holds) are never shown as "275 MiB of 96.0 MiB" with a
// full bar: past its total, the meter shows what is done alone; and a conversion to JSON
// counts toward no total at all.
func TestMeterPastTotal(t *testing.T) {
	start := time.Now()
	m := &meter{what: "converting big.pt", total: 96 << 20, start: start}
	for i := 1; i <= 20; i++ {
		m.done = int64(i) * (15 << 20)
		m.sample(start.Add(time.Duration(i) * 200 * time.Millisecond))
	}
	line := m.line(120, start.Add(4*time.Second))
	if strings.Contains(line, " of ") || strings.Contains(line, "[") || strings.Contains(line, "ETA") {
		t.Errorf("past the total: %q", line)
	}
	if !strings.Contains(line, "300 MiB") {
		t.Errorf("past the total, the bytes done are not shown: %q", line)
	}
	cp, err := convert.Open(fixtures+"rnn_tanh.pt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if n := progressTotal(convert.JSON, cp); n != 0 {
		t.Errorf("JSON output counts toward %d bytes", n)
	}
	if n := progressTotal(convert.Safetensors, cp); n != convert.TotalBytes(cp) {
		t.Errorf("safetensors output counts toward %d bytes, not the tensors' %d", n, convert.TotalBytes(cp))
	}
}

// TestConvertShard: a shard alone converts only to a file named as the same shard, which
// stays a part: check refuses it alone, saying what it is.
func TestConvertShard(t *testing.T) {
	dir := t.TempDir()
	shard := training + "sharded_bin/pytorch_model-00002-of-00003.bin"
	for _, c := range []struct {
		out, flag, want string
	}{
		{"model.safetensors", "", "model-00002-of-00003.safetensors"},
		{"model-00001-of-00003.safetensors", "", "STEM-00002-of-00003.safetensors"},
		{"model-00002-of-00003.safetensors", "--max-shard-size=1KB", "without --max-shard-size"},
	} {
		args := []string{"convert", shard, "-o", filepath.Join(dir, c.out)}
		if c.flag != "" {
			args = append(args, c.flag)
		}
		code, _, errs := runCLI(t, args...)
		if code != 2 || !strings.Contains(errs, c.want) || !strings.Contains(errs, "pytorch_model.bin.index.json for the whole model") {
			t.Errorf("-o %s %s: exit %d, want 2 naming %s\n%s", c.out, c.flag, code, c.want, errs)
		}
	}
	out := filepath.Join(dir, "part-00002-of-00003.npz")
	code, _, errs := runCLI(t, "convert", shard, "-o", out)
	if code != 0 || !strings.Contains(errs, "holds part of a model") {
		t.Fatalf("to the same shard: exit %d\n%s", code, errs)
	}
	part, err := convert.OpenShard(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer part.Close()
	in, _ := convert.OpenShard(shard, nil)
	defer in.Close()
	if len(part.Leaves) != len(in.Leaves) || len(part.Leaves) == 0 {
		t.Errorf("%d leaves, want the shard's %d", len(part.Leaves), len(in.Leaves))
	}
	if code, _, errs := runCLI(t, "check", out, fixtures+"rnn_tanh.ref.pt"); code != 2 || !strings.Contains(errs, "shard 2 of 3") {
		t.Errorf("check of the converted shard: exit %d\n%s", code, errs)
	}
}

// TestConvertShardNamedByIndex: a file that an index beside it names as a shard, the one
// shard of 1 or a hand-named part, converts as TestConvertShard's shards do: to a file
// named as the same shard, and is refused, with advice that works, to any other name.
func TestConvertShardNamedByIndex(t *testing.T) {
	dir := t.TempDir()
	src := training + "sharded_bin/"
	read := func(name string) []byte {
		b, err := os.ReadFile(src + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one := filepath.Join(dir, "one", "pytorch_model-00001-of-00001.bin")
	hand := filepath.Join(dir, "hand", "part-2.bin")
	for _, d := range []string{"one", "hand"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(one, read("pytorch_model-00002-of-00003.bin"), 0o644)
	os.WriteFile(filepath.Join(dir, "one", "pytorch_model.bin.index.json"),
		[]byte(`{"weight_map": {"lstm.weight_ih_l0": "pytorch_model-00001-of-00001.bin"}}`), 0o644)
	for k := 1; k <= 3; k++ {
		os.WriteFile(filepath.Join(dir, "hand", fmt.Sprintf("part-%d.bin", k)), read(fmt.Sprintf("pytorch_model-%05d-of-00003.bin", k)), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "hand", "weights.index.json"),
		[]byte(`{"weight_map": {"a": "part-1.bin", "b": "part-2.bin", "c": "part-3.bin"}}`), 0o644)
	for _, c := range []struct {
		in, refused, advice, same string
	}{
		{one, "x.safetensors", "x-00001-of-00001.safetensors", "x-00001-of-00001.safetensors"},
		{hand, "y.npz", "y-00002-of-00003.npz", "y-00002-of-00003.npz"},
	} {
		code, _, errs := runCLI(t, "convert", c.in, "-o", filepath.Join(dir, c.refused))
		if code != 2 || !strings.Contains(errs, c.advice) || !strings.Contains(errs, "for the whole model") {
			t.Errorf("%s -o %s: exit %d, want 2 advising %s\n%s", c.in, c.refused, code, c.advice, errs)
		}
		out := filepath.Join(dir, c.same)
		if code, _, errs := runCLI(t, "convert", c.in, "-o", out); code != 0 {
			t.Errorf("%s -o %s (its advice): exit %d\n%s", c.in, c.same, code, errs)
			continue
		}
		part, err := convert.OpenShard(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		in, err := convert.OpenShard(c.in, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(part.Leaves) != len(in.Leaves) || len(part.Leaves) == 0 {
			t.Errorf("%s: %d leaves, want the shard's %d", out, len(part.Leaves), len(in.Leaves))
		}
		part.Close()
		in.Close()
	}
}

// copyShardedBin copies the sharded checkpoint torch wrote in testdata/training/sharded_bin
// (its index and its 3 shards) into dir, which it makes.
func copyShardedBin(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"pytorch_model.bin.index.json", "pytorch_model-00001-of-00003.bin", "pytorch_model-00002-of-00003.bin", "pytorch_model-00003-of-00003.bin"} {
		b, err := os.ReadFile(training + "sharded_bin/" + n)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConvertStrayShard: a file named like a shard whose index beside it does not name
// it is refused saying so, never advised to convert that index, which does not hold it.
func TestConvertStrayShard(t *testing.T) {
	dir := t.TempDir()
	copyShardedBin(t, dir)
	b, _ := os.ReadFile(training + "sharded_bin/pytorch_model-00003-of-00003.bin")
	stray := filepath.Join(dir, "pytorch_model-00004-of-00004.bin")
	os.WriteFile(stray, b, 0o644)
	code, _, errs := runCLI(t, "convert", stray, "-o", filepath.Join(dir, "x.safetensors"))
	if code != 2 || !strings.Contains(errs, "does not name it: a shard of another save left in this folder") || strings.Contains(errs, "for the whole model") {
		t.Errorf("convert of a stray shard: exit %d, want 2 saying the index beside it does not name it\n%s", code, errs)
	}
	code, out, errs := runCLI(t, "inspect", stray)
	if code != 0 || !strings.Contains(out, "note: "+stray+" is named like shard 4 of 4") {
		t.Errorf("inspect of a stray shard: exit %d, want its tensors and a note that it is named like a shard\n%s%s", code, out, errs)
	}
}

// TestHelpExamples: every command's help, completion's included, shows examples.
func TestHelpExamples(t *testing.T) {
	var stdout, stderr strings.Builder
	names := []string{"completion"} // which cobra may add only when it runs
	for _, c := range newRoot(&stdout, &stderr).Commands() {
		if c.IsAvailableCommand() && c.Name() != "completion" {
			names = append(names, c.Name())
		}
	}
	for _, name := range names {
		code, out, errs := runCLI(t, name, "--help")
		if code != 0 || !strings.Contains(out, "\nExamples:\n  ptport "+name) {
			t.Errorf("ptport %s --help: exit %d, no examples:\n%s%s", name, code, out, errs)
		}
	}
}

// TestConvertInert: a .pt output of instances of user classes and class references
// holds them as plain data, and says so; weights_only=True would load it.
func TestConvertInert(t *testing.T) {
	out := filepath.Join(t.TempDir(), "objects.pt")
	src := "../../testdata/pickle/content/objects.pt"
	code, _, errs := runCLI(t, "convert", src, "-o", out)
	if code != 0 || !strings.Contains(errs, "argparse.Namespace") || !strings.Contains(errs, `"__class__"`) ||
		strings.Contains(errs, "would refuse") {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	code, stdout, _ := runCLI(t, "convert", src, "-o", out, "--json")
	var res convertResult
	if code != 0 || json.Unmarshal([]byte(stdout), &res) != nil || res.WeightsOnly == nil || !res.WeightsOnly.Loads ||
		!slicesContains(res.AsData, "__main__.Config") || !slicesContains(res.AsData, "torch.optim.adam.Adam") {
		t.Errorf("--json: %d %s", code, stdout)
	}
	// numpy scalars stay numpy scalars: weights_only=True of torch 2.6 refuses them.
	code, _, errs = runCLI(t, "convert", "../../testdata/pickle/content/numpy_values.pt", "-o", out)
	if code != 0 || !strings.Contains(errs, "would refuse") || !strings.Contains(errs, "numpy.core.multiarray.scalar") {
		t.Errorf("numpy: exit %d\n%s", code, errs)
	}
}

// TestCountsAndStdoutNamed: one tensor is "1 tensor", and an output written to standard
// output is named so, not "-".
func TestCountsAndStdoutNamed(t *testing.T) {
	one := "../../testdata/pickle/tensor.pt"
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"convert", one, "-o", filepath.Join(dir, "t.safetensors")}, ": 1 tensor (96 B), 0 values in "},
		{[]string{"convert", one, "-o", "-", "--to", "npz"}, "wrote standard output: 1 tensor (96 B)"},
		{[]string{"run", fixtures + "rnn_tanh.pt", fixtures + "rnn_tanh.ref.pt", "-o", "-", "--to", "npz"}, "wrote standard output: output ["},
		{[]string{"batch", one, "-o", filepath.Join(dir, "b")}, "(1 tensor, 808 B, "},
		{[]string{"batch", one, "-o", filepath.Join(dir, "b")}, "1 input: 0 ok, 1 skipped, 0 failed"},
	} {
		code, _, errs := runCLI(t, c.args...)
		if code != 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want it to say %q", c.args, code, errs, c.want)
		}
	}
	code, out, _ := runCLI(t, "inspect", one)
	if code != 0 || !strings.Contains(out, "zip format, 1 tensor (96 bytes), 0 values") {
		t.Errorf("inspect: exit %d\n%s", code, out)
	}
}

// TestFilesRateAndEarlyETA: a batch's rate of files reads well below one a second, and
// the meter shows no time left from a rate of its first seconds.
func TestFilesRateAndEarlyETA(t *testing.T) {
	for _, c := range []struct {
		files   int
		seconds float64
		want    string
	}{{10000, 11.41, "876 files/s"}, {6, 2.4, "2.5 files/s"}, {6, 15, "2.5 s/file"}, {2, 50, "25 s/file"}, {0, 3, "0 files/s"}} {
		if got := filesRate(c.files, c.seconds); got != c.want {
			t.Errorf("%d files in %gs: %q, want %q", c.files, c.seconds, got, c.want)
		}
	}
	if s := summaryLine(batch.Summary{Files: 6, OK: 6, Bytes: 576 << 20, Seconds: 15}, false, 6); !strings.Contains(s, "(38.4 MiB/s, 2.5 s/file)") {
		t.Errorf("summary %q", s)
	}
	// Interrupted before any input finished: one line says what was done of what.
	if s := summaryLine(batch.Summary{Interrupted: true, Seconds: 2}, false, 6); !strings.HasPrefix(s, "interrupted: converted 0 of 6 inputs: 0 ok, 0 skipped, 0 failed; 0 B in 2.00s") {
		t.Errorf("interrupted summary %q", s)
	}
	start := time.Now()
	m := &meter{what: "converting", total: 576 << 20, items: 6, start: start}
	for i := 1; i <= 15; i++ {
		m.done = int64(i) * (40 << 20) / 5
		m.sample(start.Add(time.Duration(i) * 200 * time.Millisecond))
	}
	if line := m.line(120, start.Add(2*time.Second)); strings.Contains(line, "ETA") || !strings.Contains(line, "120 MiB of 576 MiB") {
		t.Errorf("after 2s: %q; want the bytes done and no time left yet", line)
	}
	if line := m.line(120, start.Add(3*time.Second)); !strings.Contains(line, "ETA") {
		t.Errorf("after 3s: %q; want the time left", line)
	}
}

// TestErrorNamesFileOnce: the error of a missing input, and of a folder given as a
// checkpoint file, names the path once, says what is wrong in plain words and, for a
// folder, what to do; --json carries the same text, with "file" set. Before, a
// missing file read "F: open F: no such file or directory", batch's "stat F: ...",
// and a folder "F is a folder, not a checkpoint file" with no advice.
func TestErrorNamesFileOnce(t *testing.T) {
	dir := t.TempDir()
	gone := filepath.Join(dir, "gone.pt")
	folder := filepath.Join(dir, "models.pt")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		args []string
		file string
		want []string // the lines of standard error
	}{
		{[]string{"inspect", gone}, gone, []string{"ptport: " + gone + ": no such file or directory"}},
		{[]string{"convert", gone, "-o", filepath.Join(dir, "x.npz")}, gone, []string{"ptport: " + gone + ": no such file or directory"}},
		{[]string{"batch", gone, "-o", out}, gone, []string{"ptport: " + gone + ": no such file or directory"}},
		{[]string{"inspect", folder}, folder, []string{
			"ptport: " + folder + ": a folder, not a checkpoint file",
			"ptport: name the checkpoint files in it (" + folder + "/*.pt), or convert them all with ptport batch " + folder + " -o OUTDIR",
		}},
		{[]string{"run", folder, fixtures + "rnn_tanh.ref.pt", "-o", filepath.Join(dir, "y.json")}, folder, []string{
			"ptport: " + folder + ": a folder, not a checkpoint file",
			"ptport: name the checkpoint files in it (" + folder + "/*.pt), or convert them all with ptport batch " + folder + " -o OUTDIR",
		}},
	} {
		code, _, errs := runCLI(t, c.args...)
		if got := strings.Split(strings.TrimSuffix(errs, "\n"), "\n"); code != 2 || !slices.Equal(got, c.want) {
			t.Errorf("%v: exit %d, stderr\n%s\nwant exit 2 and\n%s", c.args, code, errs, strings.Join(c.want, "\n"))
		}
		code, stdout, errs := runCLI(t, append(c.args, "--json")...)
		var e struct{ Error, File string }
		if err := json.Unmarshal([]byte(stdout), &e); err != nil || code != 2 || errs != "" {
			t.Errorf("%v --json: exit %d, %v, stdout %q, stderr %q", c.args, code, err, stdout, errs)
		}
		if e.File != c.file || "ptport: "+e.Error != c.want[0] {
			t.Errorf("%v --json: %+v, want the file %s and the text %q", c.args, e, c.file, strings.TrimPrefix(c.want[0], "ptport: "))
		}
	}
}
