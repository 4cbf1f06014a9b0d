package pickle

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostileCase is an entry of testdata/hostile/cases.json (written by
// testdata/hostile/gen.py).
type hostileCase struct {
	Name, File, Section, Klass, Claim, Reader string
}

// hostileCases returns the cases of the hostile corpus that reader's
// tests handle, each with the path of its file (gunzipped into dir when it
// is compressed).
func hostileCases(t *testing.T, reader, dir string) map[string]string {
	root := filepath.Join("..", "testdata", "hostile")
	b, err := os.ReadFile(filepath.Join(root, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []hostileCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range cases {
		if c.Reader != reader {
			continue
		}
		path := filepath.Join(root, c.File)
		if strings.HasSuffix(c.File, ".gz") {
			path = filepath.Join(dir, c.Name)
			if err := gunzip(filepath.Join(root, c.File), path); err != nil {
				t.Fatal(err)
			}
		}
		out[c.Name] = path
	}
	return out
}

func gunzip(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, zr); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// hostileWant is what reading a hostile file must give: the stage that
// fails ("open", "leaves", "read", "write") and a substring of its error,
// or stage "" when every stage succeeds.
type hostileWant struct {
	stage, err string
	leaves     int // when every stage succeeds
}

var hostileWants = map[string]hostileWant{
	"key_laughs.pt":          {"leaves", "the paths of the tree would take more than", 0},
	"key_deep_memo.pt":       {"open", "nested deeper than 1000 levels", 0},
	"attr_laughs.pt":         {"", "", 1},
	"long4_1mb.pt":           {"open", "opcode LONG4: an int of 1048576 bytes exceeds the limit of 2048 bytes", 0},
	"long_text_1m_digits.pt": {"open", "opcode LONG: an int of 1048576 digits exceeds the limit of 4300 digits", 0},
	"module_lookup.pt":       {"", "", 200000},
	"long_key_empty.pt":      {"leaves", "the paths of the tree would take more than", 0},
	"long_key_leaves.pt":     {"leaves", "the paths of the tree would take more than", 0},
	"tar_headers.pt":         {"", "", 0},
	"zip_overlap.pt":         {"open", "(overlapping records)", 0},
	"zip_bomb_storage.pt":    {"write", "would take the bytes read from the file's tensors to 1073741828, more than their limit of", 0},
	"zip_bomb_pickle.pt":     {"open", "a deflated pickle of 1073741813 bytes from 1043648 compressed bytes exceeds the limit of 200538112 bytes", 0},
	"expand_views.pt":        {"read", "more than their limit of 16777216 bytes", 0},
	"build_memo_state.pt":    {"open", "refusing (opcode BUILD walks the items of the values it is given", 0},
	"call_memo_args.pt":      {"open", "refusing (opcode REDUCE walks the items of the values it is given", 0},
	"value_refs.pt":          {"leaves", "the values of the tree's leaves would take more than", 0},
	"class_refs.pt":          {"leaves", "the values of the tree's leaves would take more than", 0},
	"numpy_refs.pt":          {"read", "the data of a numpy array: reading a view of 100000 bytes", 0},
}

// Bounds every hostile file must be read within, in a process of its own.
const (
	hostileMaxRSS  = 256 << 20 * raceFactor
	hostileMaxTime = 20 * time.Second * raceFactor // of CPU
	hostileMaxWall = 60 * time.Second * raceFactor
)

// hostileResult is what TestHostileChild reports.
type hostileResult struct {
	Stage, Err string
	Leaves     int
	PeakRSS    int64 // bytes
}

// TestHostileFiles reads every hostile file of the pickle reader in a
// process of its own (TestHostileChild), as a user of the package would:
// Open, Leaves, every tensor's bytes, Write. It checks the outcome and that
// the process used less than hostileMaxTime of CPU (and hostileMaxWall of
// wall clock) and a peak RSS below hostileMaxRSS.
func TestHostileFiles(t *testing.T) {
	cases := hostileCases(t, "pickle", t.TempDir())
	for name := range hostileWants {
		if _, ok := cases[name]; !ok {
			t.Errorf("%s: expected, but not in testdata/hostile/cases.json", name)
		}
	}
	for name, path := range cases {
		want, ok := hostileWants[name]
		if !ok {
			t.Errorf("%s: no expected outcome", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHostileChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PTPORT_HOSTILE_FILE="+path)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("child: %v\n%.2000s", err, out.String())
			}
			elapsed := time.Since(start)
			cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			var res hostileResult
			line := out.String()
			if i := strings.Index(line, "hostile-result: "); i >= 0 {
				line = line[i+len("hostile-result: "):]
				line = line[:strings.IndexByte(line, '\n')]
			}
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("child output: %.2000s", out.String())
			}
			if res.Stage != want.stage || !strings.Contains(res.Err, want.err) || len(res.Err) > 1000 {
				t.Errorf("%s failed at %q with %.500q; want %q with a short error mentioning %q", name, res.Stage, res.Err, want.stage, want.err)
			}
			rss := res.PeakRSS
			t.Logf("%s: %v (CPU %v), peak RSS %d MiB", name, elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond), rss>>20)
			if rss <= 0 {
				t.Errorf("the child could not measure its peak RSS")
			}
			if want.stage == "" && res.Leaves != want.leaves {
				t.Errorf("%d leaves, want %d", res.Leaves, want.leaves)
			}
			// The work is bounded by the CPU time the child used; the wall
			// clock, which other processes on the machine stretch, only
			// catches a child that waits.
			if cpu > hostileMaxTime {
				t.Errorf("used %v of CPU, more than %v", cpu, hostileMaxTime)
			}
			if elapsed > hostileMaxWall {
				t.Errorf("took %v, more than %v", elapsed, hostileMaxWall)
			}
			if rss > hostileMaxRSS {
				t.Errorf("peak RSS %d MiB, more than %d MiB", rss>>20, hostileMaxRSS>>20)
			}
		})
	}
}

// TestHostileChild reads the file named by $PTPORT_HOSTILE_FILE for
// TestHostileFiles and prints the outcome; without it, it does nothing.
func TestHostileChild(t *testing.T) {
	path := os.Getenv("PTPORT_HOSTILE_FILE")
	if path == "" {
		return
	}
	res := readHostile(path)
	res.PeakRSS = peakRSS()
	b, _ := json.Marshal(res)
	fmt.Printf("hostile-result: %s\n", b)
}

// peakRSS returns the process's peak resident set size since it started
// (VmHWM of /proc/self/status: getrusage's maxrss also counts the parent's
// pages that the child shared before exec), or -1.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return -1
}

func readHostile(path string) hostileResult {
	f, err := Open(path, nil)
	if err != nil {
		return hostileResult{Stage: "open", Err: err.Error()}
	}
	defer f.Close()
	leaves, err := Leaves(f.Root)
	if err != nil {
		return hostileResult{Stage: "leaves", Err: err.Error()}
	}
	for _, l := range leaves {
		if tt, ok := l.Value.(*Tensor); ok {
			if _, err := tt.WriteTo(io.Discard); err != nil {
				var le *LimitError
				if !errors.As(err, &le) {
					err = fmt.Errorf("%w (not a *LimitError)", err)
				}
				return hostileResult{Stage: "read", Err: err.Error()}
			}
		}
	}
	if err := Write(io.Discard, f.Root, nil); err != nil {
		return hostileResult{Stage: "write", Err: err.Error()}
	}
	return hostileResult{Leaves: len(leaves)}
}
