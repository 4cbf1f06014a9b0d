//go:build unix

package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const hostileDir = "../../testdata/hostile/"

// Bounds every command on a hostile file runs within.
const (
	hostileMaxRSS  = 320 << 20 * raceFactor
	hostileMaxTime = 30 * time.Second * raceFactor // of CPU
	hostileMaxWall = 90 * time.Second * raceFactor
)

// hostileFiles returns the path of every case of testdata/hostile/cases.json,
// gunzipped into dir when compressed, by name, with its reader.
func hostileFiles(t *testing.T, dir string) (paths, readers map[string]string) {
	b, err := os.ReadFile(hostileDir + "cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ Name, File, Reader string }
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	paths, readers = map[string]string{}, map[string]string{}
	for _, c := range cases {
		path := hostileDir + c.File
		if strings.HasSuffix(c.File, ".gz") {
			path = filepath.Join(dir, c.Name)
			in, err := os.Open(hostileDir + c.File)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(in)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := os.Create(path)
			if _, err := io.Copy(out, zr); err != nil {
				t.Fatal(err)
			}
			out.Close()
			in.Close()
		}
		paths[c.Name], readers[c.Name] = path, c.Reader
	}
	return paths, readers
}

// hostileRun is a command line on a hostile file and what it must do: its exit status
// and substrings of its standard error (or output).
type hostileRun struct {
	args   []string // "FILE" is the case's file, "aux:NAME" another case's, "OUT/x" in a fresh folder
	code   int
	stderr []string
	stdout []string
}

var hostileRuns = map[string][]hostileRun{
	"expand_layers.pt": {
		{args: []string{"run", "FILE", "aux:input_1024.pt", "-o", "OUT/y.safetensors"}, code: 2, stderr: []string{"reading an expanded view of 4194304 bytes", "--expand-limit SIZE raises the limit"}},
		{args: []string{"convert", "FILE", "-o", "OUT/x.safetensors"}, code: 2, stderr: []string{"limit of 16777216 bytes", "--expand-limit"}},
		{args: []string{"convert", "FILE", "-o", "OUT/x.safetensors", "--expand-limit", "8MiB"}, code: 2, stderr: []string{"limit of 8388608 bytes"}},
	},
	"expand_views.pt": {{args: []string{"convert", "FILE", "-o", "OUT/x.npz"}, code: 2, stderr: []string{"--expand-limit"}}},
	"run_steps.pt": {
		{args: []string{"run", "aux:rnn_1024.pt", "FILE", "-o", "OUT/y.safetensors"}, code: 2, stderr: []string{"4194304 rows", "--output-limit SIZE raises the limit"}},
		{args: []string{"check", "aux:rnn_1024.pt", "FILE"}, code: 2, stderr: []string{"--output-limit"}},
	},
	"names_escape.pt":  {{args: []string{"inspect", "FILE"}, code: 0, stdout: []string{`w\x1b[2K\rlayer.weight`, `note\nglobals`, `\u202egnp.exe`}}},
	"global_escape.pt": {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{`os\x1b[1A`, `system\x1b[2K\r`}}},
	"dup_names.pt": {
		{args: []string{"convert", "FILE", "-o", "OUT/x.safetensors"}, code: 2, stderr: []string{"a.b", "two leaves have this name"}},
		{args: []string{"convert", "FILE", "-o", "OUT/x.npz"}, code: 2, stderr: []string{"two leaves have this name"}},
	},
	"metadata_name.pt":   {{args: []string{"convert", "FILE", "-o", "OUT/x.safetensors"}, code: 2, stderr: []string{`"__metadata__"`, "keeps its metadata"}}},
	"traversal_names.pt": {{args: []string{"convert", "FILE", "-o", "OUT/x.npz"}, code: 2, stderr: []string{"outside the archive"}}},
	"json_deep.json":     {{args: []string{"convert", "FILE", "-o", "OUT/x.safetensors"}, code: 2, stderr: []string{`values: "a": nested deeper than 1000 levels`}}},
	"json_deep_tags.json": {
		{args: []string{"convert", "FILE", "-o", "OUT/x.safetensors"}, code: 0},
		{args: []string{"inspect", "FILE"}, code: 0, stdout: []string{`a = {"k":{"k":`}},
	},
	"st_values_deep.safetensors":   {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{`ptport.values: "a": nested deeper than 1000 levels`}}},
	"json_int_range.json":          {{args: []string{"convert", "FILE", "-o", "OUT/x.safetensors"}, code: 2, stderr: []string{"300 is outside the range of U8, [0, 255]"}}},
	"st_metadata_deep.safetensors": {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"exceeded max depth"}}},
	"npz_bomb.npz":                 {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"inflate to 1073741952 bytes, more than the limit of 66805248 bytes"}}},
	"npz_overlap.npz":              {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"overlapping records"}}},
	// The pickle reader's cases, through the command: refused with exit 2 when the
	// reader refuses them, read within the bounds otherwise.
	"key_laughs.pt":          {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"the paths of the tree would take more than"}}},
	"key_deep_memo.pt":       {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"deeper than 1000"}}},
	"attr_laughs.pt":         {{args: []string{"convert", "FILE", "-o", "OUT/x.pt"}, code: 0}},
	"long4_1mb.pt":           {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"exceeds the limit of 2048 bytes"}}},
	"long_text_1m_digits.pt": {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"exceeds the limit of 4300 digits"}}},
	"module_lookup.pt":       {{args: []string{"inspect", "FILE", "--allow-objects"}, code: 0}},
	"long_key_empty.pt":      {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"the paths of the tree would take more than"}}},
	"long_key_leaves.pt":     {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"(a path of 1500000 bytes)"}}},
	"tar_headers.pt":         {{args: []string{"inspect", "FILE"}, code: 0}},
	"zip_overlap.pt":         {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"overlapping records"}}},
	"zip_bomb_storage.pt": {
		{args: []string{"inspect", "FILE"}, code: 0},
		{args: []string{"convert", "FILE", "-o", "OUT/x.pt"}, code: 2, stderr: []string{"more than their limit of", "--expand-limit"}},
	},
	"zip_bomb_pickle.pt":  {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"a deflated pickle of 1073741813 bytes"}}},
	"build_memo_state.pt": {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"opcode BUILD walks the items"}}},
	"call_memo_args.pt":   {{args: []string{"convert", "FILE", "-o", "OUT/x.pt"}, code: 2, stderr: []string{"opcode REDUCE walks the items"}}},
	"value_refs.pt": {
		{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"the values of the tree's leaves would take more than"}},
		{args: []string{"convert", "FILE", "-o", "OUT/x.json"}, code: 2, stderr: []string{"the values of the tree's leaves would take more than"}},
	},
	"class_refs.pt": {{args: []string{"inspect", "FILE"}, code: 2, stderr: []string{"the values of the tree's leaves would take more than"}}},
	"numpy_refs.pt": {
		{args: []string{"convert", "FILE", "-o", "OUT/x.safetensors"}, code: 2, stderr: []string{"the data of a numpy array", "--expand-limit"}},
		{args: []string{"convert", "FILE", "-o", "OUT/x.pt"}, code: 0},
	},
	"span_views.pt": {
		{args: []string{"convert", "FILE", "-o", "OUT/x.safetensors"}, code: 2, stderr: []string{"more than their limit of 16777216 bytes", "--expand-limit"}},
		{args: []string{"convert", "FILE", "-o", "OUT/x.safetensors", "--expand-limit", "128MiB"}, code: 0},
	},
}

// TestHostileCommands runs ptport on every hostile file (in a process of its own) and
// checks its exit status, that its messages are one escaped line naming the file and
// the limit, and that it stays within hostileMaxTime of CPU (hostileMaxWall of wall
// clock, which other processes on the machine stretch, only catches a run that waits)
// and hostileMaxRSS.
func TestHostileCommands(t *testing.T) {
	dir := t.TempDir()
	paths, readers := hostileFiles(t, dir)
	// With PTPORT_HOSTILE_REPORT, each run is written there as a JSON line, for
	// scripts/hostile_table.py.
	var report *os.File
	if p := os.Getenv("PTPORT_HOSTILE_REPORT"); p != "" {
		var err error
		if report, err = os.Create(p); err != nil {
			t.Fatal(err)
		}
		defer report.Close()
	}
	for name, reader := range readers {
		if _, ok := hostileRuns[name]; !ok && reader != "aux" {
			t.Errorf("%s: no command runs it", name)
		}
	}
	for name, runs := range hostileRuns {
		for i, hr := range runs {
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				out := t.TempDir()
				args := make([]string, len(hr.args))
				for k, a := range hr.args {
					switch {
					case a == "FILE":
						args[k] = paths[name]
					case strings.HasPrefix(a, "aux:"):
						args[k] = paths[strings.TrimPrefix(a, "aux:")]
					case strings.HasPrefix(a, "OUT/"):
						args[k] = filepath.Join(out, strings.TrimPrefix(a, "OUT/"))
					default:
						args[k] = a
					}
				}
				code, stdout, stderr, elapsed, cpu, rss := runChild(t, args...)
				t.Logf("ptport %s: exit %d in %v (CPU %v), peak RSS %d MiB", strings.Join(hr.args, " "), code, elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond), rss>>20)
				if report != nil {
					first, _, _ := strings.Cut(stderr, "\n")
					line, _ := json.Marshal(map[string]any{"case": name, "args": hr.args, "exit": code,
						"seconds": elapsed.Seconds(), "cpu_seconds": cpu.Seconds(), "peak_rss_mib": rss >> 20, "stderr": first})
					report.Write(append(line, '\n'))
				}
				if code != hr.code {
					t.Errorf("exit %d, want %d; stderr %.1000q", code, hr.code, stderr)
				}
				for _, want := range hr.stderr {
					if !strings.Contains(stderr, want) {
						t.Errorf("stderr %.1000q lacks %q", stderr, want)
					}
				}
				for _, want := range hr.stdout {
					if !strings.Contains(stdout, want) {
						t.Errorf("stdout %.1000q lacks %q", stdout, want)
					}
				}
				if raw(stdout) || raw(stderr) {
					t.Errorf("raw terminal controls in the output: %.500q %.500q", stdout, stderr)
				}
				if code == 2 {
					first, _, _ := strings.Cut(stderr, "\n")
					if !strings.HasPrefix(first, "ptport: ") || !strings.Contains(first, filepath.Base(paths[name])) || len(first) > 5000 {
						t.Errorf("the error %.500q is not one line naming the file", first)
					}
				}
				if cpu > hostileMaxTime || elapsed > hostileMaxWall || rss > hostileMaxRSS || rss <= 0 {
					t.Errorf("took %v (CPU %v) and a peak RSS of %d MiB; the bounds are %v of CPU, %v and %d MiB", elapsed, cpu, rss>>20, hostileMaxTime, hostileMaxWall, hostileMaxRSS>>20)
				}
			})
		}
	}
}

// runChild runs ptport in a process of its own and returns its exit status, output,
// wall-clock and CPU time and peak RSS.
func runChild(t *testing.T, args ...string) (code int, stdout, stderr string, elapsed, cpu time.Duration, rss int64) {
	t.Helper()
	rssFile := filepath.Join(t.TempDir(), "rss")
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PTPORT_MAIN=1", "PTPORT_RSS_FILE="+rssFile)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	elapsed = time.Since(start)
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	code = cmd.ProcessState.ExitCode()
	cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if b, err := os.ReadFile(rssFile); err == nil {
		rss, _ = strconv.ParseInt(string(b), 10, 64)
	}
	return code, out.String(), errb.String(), elapsed, cpu, rss
}

// TestOutputTargets: -o never replaces what is not a regular file, an existing output
// keeps its permissions, and batch outputs that would collide are refused.
func TestOutputTargets(t *testing.T) {
	dir := t.TempDir()
	model := fixtures + "rnn_tanh.pt"
	fifo := filepath.Join(dir, "out.safetensors")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, "convert", model, "-o", fifo)
	if fi, err := os.Lstat(fifo); code != 2 || !strings.Contains(errs, "is not a regular file (a named pipe)") || err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("-o FIFO: exit %d, %q", code, errs)
	}
	if code, _, errs = runCLI(t, "convert", model, "-o", dir, "--to", "npz"); code != 2 || !strings.Contains(errs, "a folder") {
		t.Errorf("-o FOLDER: exit %d, %q", code, errs)
	}
	private := filepath.Join(dir, "private.safetensors")
	os.WriteFile(private, []byte("old"), 0o600)
	os.Chmod(private, 0o600)
	if code, _, errs = runCLI(t, "convert", model, "-o", private); code != 0 {
		t.Fatalf("exit %d, %s", code, errs)
	}
	if fi, _ := os.Stat(private); fi.Mode().Perm() != 0o600 {
		t.Errorf("an existing 0600 output became %v", fi.Mode().Perm())
	}
	// a/m.pt and b/m.pt into one folder.
	b, _ := os.ReadFile(model)
	for _, sub := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
		os.WriteFile(filepath.Join(dir, sub, "m.pt"), b, 0o644)
	}
	out := filepath.Join(dir, "out")
	code, _, errs = runCLI(t, "batch", filepath.Join(dir, "a", "m.pt"), filepath.Join(dir, "b", "m.pt"), "-o", out, "-q")
	if code != 1 || strings.Count(errs, "2 inputs would write the output") != 2 {
		t.Errorf("batch a/m.pt b/m.pt: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(out, "m.safetensors")); err == nil {
		t.Errorf("batch wrote m.safetensors from one of two colliding inputs")
	}
}
