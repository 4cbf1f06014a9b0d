package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ptport/ptport/convert/parity"
)

const (
	fixtures  = "../../testdata/convert/"
	parityDir = "../../testdata/parity/"
)

// runCLI runs the command line and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckNotebook(t *testing.T) {
	code, out, errs := runCLI(t, "check")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"[0.0997, 0, 0, 0]", "[0.1971, 0, 0, 0]", "h_n equals y[1] in Go: true", "PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Each row shows the notebook's printed vector, PyTorch's and Go's: Go's must equal
	// PyTorch's to the digits shown, and round to what the notebook printed.
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "y[") {
			continue
		}
		rows++
		cols := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if len(cols) != 4 {
			t.Fatalf("row %q: %d columns, want 4", line, len(cols))
		}
		if cols[2] != cols[3] {
			t.Errorf("row %q: Go %s != PyTorch %s", cols[0], cols[3], cols[2])
		}
		first, _, _ := strings.Cut(strings.Trim(cols[3], "[]"), ",")
		x, err := strconv.ParseFloat(first, 64)
		if err != nil {
			t.Fatal(err)
		}
		if printed := strings.TrimPrefix(cols[1], "["); !strings.HasPrefix(printed, strconv.FormatFloat(x, 'f', 4, 64)+",") {
			t.Errorf("row %q: Go's %s does not round to the notebook's %s", cols[0], first, cols[1])
		}
	}
	if rows != 6 {
		t.Errorf("%d rows, want 6 (2 steps x 3 batch rows):\n%s", rows, out)
	}
}

func TestCheckJSON(t *testing.T) {
	code, out, errs := runCLI(t, "check", fixtures+"lstm_proj_bi.pt", fixtures+"lstm_proj_bi.ref.pt", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Pass      bool     `json:"pass"`
		MaxAbsErr *float64 `json:"max_abs_err"`
		MaxRelErr *float64 `json:"max_rel_err"`
		Model     struct {
			Mode     string `json:"mode"`
			ProjSize int    `json:"proj_size"`
		} `json:"model"`
		Tensors []struct {
			Name      string   `json:"name"`
			Shape     []int    `json:"shape"`
			MaxAbsErr *float64 `json:"max_abs_err"`
			MaxRelErr *float64 `json:"max_rel_err"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !r.Pass || r.MaxAbsErr == nil || r.MaxRelErr == nil || r.Model.Mode != "LSTM" || r.Model.ProjSize != 3 {
		t.Errorf("unexpected report %s", out)
	}
	var names []string
	for _, tr := range r.Tensors {
		names = append(names, tr.Name)
		if tr.MaxAbsErr == nil || tr.MaxRelErr == nil || len(tr.Shape) != 3 {
			t.Errorf("tensor %s lacks fields: %s", tr.Name, out)
		}
	}
	if strings.Join(names, ",") != "output,h_n,c_n" {
		t.Errorf("tensors %v, want output, h_n, c_n", names)
	}
}

// TestCheckJSONFix: --json gives the fix lines of the text report as "fix" (batch_first
// and the nonlinearity, both left at PyTorch's default by the flags).
func TestCheckJSONFix(t *testing.T) {
	for _, c := range [][]string{
		{fixtures + "gru_batch_first.pt", fixtures + "gru_batch_first.ref.pt"},
		{"../../testdata/parity/forgot_relu.pt", "../../testdata/parity/forgot_relu.ref.pt"},
	} {
		_, text, _ := runCLI(t, "check", c[0], c[1])
		var want []string
		for _, line := range strings.Split(text, "\n") {
			if f, ok := strings.CutPrefix(line, "fix: "); ok {
				want = append(want, f)
			}
		}
		code, out, errs := runCLI(t, "check", c[0], c[1], "--json")
		var r struct {
			Pass bool     `json:"pass"`
			Fix  []string `json:"fix"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || r.Pass {
			t.Fatalf("%s: exit %d, %v\n%s%s", c[1], code, err, out, errs)
		}
		if len(want) == 0 || !slices.Equal(r.Fix, want) {
			t.Errorf("%s: --json's fix %q, the text's %q", c[1], r.Fix, want)
		}
	}
}

// TestBenchWholeNamesWhatRan: bench --whole names the whole model it timed, its layers
// as --json lists them, not the recurrent module alone.
func TestBenchWholeNamesWhatRan(t *testing.T) {
	args := []string{"bench", fixtures + "char_lstm_whole.pt", "--whole", "--seq", "5", "--time", "10ms"}
	code, js, errs := runCLI(t, append(args, "--json")...)
	var r struct {
		Model struct {
			Layers []struct {
				Module string `json:"module"`
			} `json:"layers"`
		} `json:"model"`
	}
	if err := json.Unmarshal([]byte(js), &r); code != 0 || err != nil || len(r.Model.Layers) != 3 {
		t.Fatalf("exit %d, %v, want 3 layers: %s%s", code, err, js, errs)
	}
	var modules []string
	for _, l := range r.Model.Layers {
		modules = append(modules, l.Module)
	}
	code, out, errs := runCLI(t, args...)
	if want := strings.Join(modules, " -> ") + ", F32, seq 5, batch 1: "; code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("exit %d, printed %q, want it to start %q%s", code, out, want, errs)
	}
}

// TestJSONErrorNamesModel: an error of loading the model (a prefix that names no module,
// a flag the pickled module contradicts) names the model's file in --json's "file", as
// its text does, for check, run and bench alike.
func TestJSONErrorNamesModel(t *testing.T) {
	model, ref := fixtures+"module_sequential.pt", fixtures+"module_sequential.ref.pt"
	for _, args := range [][]string{
		{"check", model, ref, "--prefix", "nope."},
		{"check", model, ref, "--batch-first=false"},
		{"run", model, ref, "-o", filepath.Join(t.TempDir(), "y.npz"), "--prefix", "nope."},
		{"bench", model, "--prefix", "nope."},
	} {
		code, out, errs := runCLI(t, append(args, "--json")...)
		var e errorJSON
		if err := json.Unmarshal([]byte(out), &e); code != 2 || err != nil || e.File != model || !strings.HasPrefix(e.Error, model+": ") {
			t.Errorf("%v: exit %d, %v, want an error about %s: %s%s", args, code, err, model, out, errs)
		}
	}
}

// TestExitCodes drives the commands as a user does, each row with the exit status the
// help and README document: 0 success; 1 a check's FAIL or failed batch inputs; 2 bad
// usage or an unusable input; 128 + the signal's number when Ctrl-C (130) or SIGTERM
// (143) stopped the command (those rows run ptport as a process of its own, signalled
// once its output's temporary exists).
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pt")
	os.WriteFile(garbage, []byte("not a checkpoint at all"), 0o644)
	source := filepath.Join(dir, "gen.py")
	os.WriteFile(source, []byte("import torch, sys\ntorch.manual_seed(0)\n"), 0o644)
	zoo := filepath.Join(dir, "zoo") // a model, a broken file, a failing check
	os.MkdirAll(zoo, 0o755)
	for from, to := range map[string]string{
		fixtures + "rnn_tanh.pt": "good.pt", fixtures + "rnn_tanh.ref.pt": "good.ref.pt",
		parityDir + "drifted.pt": "drifted.pt", parityDir + "drifted.ref.pt": "drifted.ref.pt",
	} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(zoo, to), b, 0o644)
	}
	os.WriteFile(filepath.Join(zoo, "broken.pt"), []byte("PK\x03\x04 not a whole zip"), 0o644)
	big := filepath.Join(dir, "big", "big.pt")
	os.MkdirAll(filepath.Dir(big), 0o755)
	bigCheckpoint(t, big, 4<<20) // its JSON takes seconds to write
	for _, c := range []struct {
		args []string
		code int
		msg  string
		sig  os.Signal // sent once the output folder args[len-1] holds a temporary
	}{
		{[]string{"check", fixtures + "drifted.pt", fixtures + "drifted.ref.pt"}, 1, "", nil},
		{[]string{"check", fixtures + "rnn_relu.pt", fixtures + "rnn_relu.ref.pt"}, 1, "", nil},
		{[]string{"check", fixtures + "rnn_relu.pt", fixtures + "rnn_relu.ref.pt", "--nonlinearity", "relu"}, 0, "", nil},
		{[]string{"check", fixtures + "two_modules.pt", fixtures + "two_modules.ref.pt"}, 2, "--prefix", nil},
		{[]string{"check", fixtures + "two_modules.pt", fixtures + "two_modules.ref.pt", "--prefix", "enc"}, 0, "", nil},
		{[]string{"check", fixtures + "invalid_keys.pt", fixtures + "rnn_tanh.ref.pt"}, 2, "bias_hh_l1", nil},
		{[]string{"check", fixtures + "rnn_tanh.pt"}, 2, "MODEL and REF", nil},
		{[]string{"check", "--no-such-flag"}, 2, "unknown flag", nil},
		{[]string{"frobnicate"}, 2, "unknown command", nil},
		{[]string{"completion", "tcsh"}, 2, `"tcsh"`, nil},
		{[]string{"inspect", fixtures + "rnn_tanh.pt", "--strict", "--allow-objects"}, 2, "--strict and --allow-objects exclude each other", nil},
		{[]string{"completion"}, 2, "bash, zsh, fish or powershell", nil},
		{[]string{"completion", "fish"}, 0, "", nil},
		{[]string{"inspect", garbage}, 2, "garbage.pt", nil},
		{[]string{"inspect", source}, 2, "gen.py: pickle offset 0: unknown format: not a zip, tar or legacy-format PyTorch checkpoint", nil},
		{[]string{"inspect", "../../testdata/pickle/wrong/model.pt.gz"}, 2, "model.pt.gz: gzip-compressed, not a PyTorch checkpoint as it is: decompress it first (gunzip)", nil},
		{[]string{"inspect", "../../testdata/convert/pretty/jq.json"}, 0, "", nil},
		{[]string{"convert", fixtures + "rnn_tanh.pt", "-o", dir}, 2, "is a folder: name the output file", nil},
		{[]string{"run", fixtures + "rnn_tanh.pt", fixtures + "rnn_tanh.ref.pt", "-o", dir + "/"}, 2, "is a folder: name the output file", nil},
		{[]string{"inspect", filepath.Join(dir, "missing.pt")}, 2, "no such file", nil},
		{[]string{"convert", fixtures + "rnn_tanh.pt", "-o", filepath.Join(dir, "x.txt")}, 2, "unknown output format", nil},
		{[]string{"convert", fixtures + "rnn_tanh.pt"}, 2, "output", nil},
		{[]string{"convert", fixtures + "rnn_tanh.pt", "-o", filepath.Join(dir, "x.npz"), "--to", "safetensors"}, 2, "x.npz has the extension of npz, but --to is safetensors", nil},
		{[]string{"run", fixtures + "rnn_tanh.pt", fixtures + "rnn_tanh.ref.pt", "-o", filepath.Join(dir, "y.pt"), "--to", "json"}, 2, "y.pt has the extension of pt, but --to is json", nil},
		{[]string{"convert", fixtures + "rnn_tanh.pt", "-o", filepath.Join(dir, "x.pth"), "--to", "pt"}, 0, "", nil},
		{[]string{"convert", fixtures + "rnn_tanh.pt", "-o", filepath.Join(dir, "x.weights"), "--to", "npz"}, 0, "", nil},
		{[]string{"check", fixtures + "rnn_tanh.pt", fixtures + "rnn_tanh.ref.pt", "--atol", "-1"}, 2, "--atol", nil},
		{[]string{"check", fixtures + "rnn_tanh.pt", fixtures + "rnn_tanh.ref.pt", "--rtol=NaN"}, 2, "--rtol", nil},
		{[]string{"check", fixtures + "rnn_tanh.pt", fixtures + "rnn_tanh.ref.pt", "--atol", "inf"}, 2, "a tolerance is a finite number", nil},
		{[]string{"check", fixtures + "rnn_tanh.pt", fixtures + "rnn_tanh.ref.pt", "--rtol=-Inf"}, 2, "a tolerance is a finite number", nil},
		{[]string{"check", fixtures + "rnn_tanh.pt", fixtures + "rnn_tanh.ref.pt", "--atol", "1e-4", "--rtol", "0"}, 0, "", nil},
		{[]string{"bench", fixtures + "rnn_tanh.pt", "--seq", "100000000", "--batch", "100000000"}, 2, "--output-limit", nil},
		{[]string{"bench", fixtures + "rnn_tanh.pt", "--seq", "1000", "--batch", "10000000"}, 2, "--output-limit", nil},
		{[]string{"check", parityDir + "tuple_ref.pt", parityDir + "tuple_ref.ref.pt"}, 2, "the reference is a tuple of 2, not a dict of named entries: save a dict", nil},
		{[]string{"check", parityDir + "lstm.pt", parityDir + "misspelled.ref.pt", "--ignore", "hn,cn,outptu"}, 2, "outptu is to be ignored, but the reference has no such entry (its entries: input, h0, c0, output, hn, cn); did you mean output?", nil},
		{[]string{"check", parityDir + "lstm.pt", parityDir + "misspelled.ref.pt", "--ignore", "hn,cn"}, 0, "", nil},
		{[]string{"check", parityDir + "seq_not_whole.pt", parityDir + "seq_not_whole.ref.pt"}, 2, "(to run the whole model: --whole)", nil},
		{[]string{"check", parityDir + "seq_not_whole.pt", parityDir + "seq_not_whole.ref.pt", "--whole"}, 0, "", nil},
		{[]string{"check", parityDir + "output_last_step.pt", parityDir + "output_last_step.ref.pt"}, 1, "", nil},
		{[]string{"convert", training + "dataparallel.pt", "-o", filepath.Join(dir, "dp.safetensors"), "--strip-prefix", "module"}, 0, "", nil},
		{[]string{"convert", training + "dataparallel.pt", "-o", filepath.Join(dir, "dp.safetensors"), "--strip-prefix", "modul"}, 2, `no name starts with the prefix "modul." to strip; the names start with "module"`, nil},
		{[]string{"convert", training + "dataparallel.pt", "-o", filepath.Join(dir, "dp.safetensors"), "--exclude", "*.num_batches"}, 2, `no name matches the pattern "*.num_batches" to exclude`, nil},
		{[]string{"convert", training + "dataparallel.pt", "-o", filepath.Join(dir, "dp.safetensors"), "--select", "model"}, 2, `nothing at or below "model"`, nil},
		{[]string{"batch", training + "dataparallel.pt", training + "adam.pt", "-o", filepath.Join(dir, "stripped"), "--strip-prefix", "module"}, 0, "2 inputs: 2 ok", nil},
		{[]string{"batch", zoo, "-o", filepath.Join(dir, "out1")}, 1, "1 of 5 inputs failed", nil}, // broken.pt
		{[]string{"batch", zoo, "-o", filepath.Join(dir, "out2"), "--allow-failed"}, 0, "within --allow-failed", nil},
		{[]string{"batch", zoo, "-o", filepath.Join(dir, "out3"), "--jobs", "-3"}, 2, "--jobs", nil},
		{[]string{"batch", "--check", zoo}, 1, "1 of 3 inputs failed", nil},
		{[]string{"convert", big, "-o", filepath.Join(dir, "int1", "big.json")}, 130, "interrupted", os.Interrupt},
		{[]string{"convert", big, "-o", filepath.Join(dir, "int2", "big.json")}, 143, "interrupted", syscall.SIGTERM},
		{[]string{"batch", filepath.Dir(big), "--to", "json", "-o", filepath.Join(dir, "int3")}, 130, "interrupted", os.Interrupt},
	} {
		var code int
		var out, errs string
		if c.sig != nil {
			code, errs = runSignalled(t, c.args, c.sig)
		} else {
			code, out, errs = runCLI(t, c.args...)
		}
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", c.args, code, c.code, out, errs)
		}
		if !strings.Contains(errs, c.msg) {
			t.Errorf("%v: stderr %q lacks %q", c.args, errs, c.msg)
		}
		if strings.Contains(errs, "goroutine") || strings.Contains(errs, "panic") || strings.Contains(errs, "internal error") {
			t.Errorf("%v: stderr shows a panic:\n%s", c.args, errs)
		}
		if strings.Contains(errs, "ptport: ptport:") {
			t.Errorf("%v: the prefix twice: %q", c.args, errs)
		}
	}
}

func TestInspectJSON(t *testing.T) {
	code, out, errs := runCLI(t, "inspect", fixtures+"nested_checkpoint.pt", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var inv struct {
		Format  string `json:"format"`
		Tensors []struct {
			Name  string `json:"name"`
			DType string `json:"dtype"`
			Shape []int  `json:"shape"`
		} `json:"tensors"`
		Values []struct {
			Name  string          `json:"name"`
			Value json.RawMessage `json:"value"`
		} `json:"values"`
		Models []string `json:"models"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatal(err)
	}
	if inv.Format != "zip" || len(inv.Tensors) == 0 {
		t.Fatalf("format %q, %d tensors", inv.Format, len(inv.Tensors))
	}
	values := map[string]string{}
	for _, v := range inv.Values {
		values[v.Name] = string(v.Value)
	}
	if values["epoch"] != "3" || values["loss"] != "0.25" {
		t.Errorf("values %v, want epoch 3 and loss 0.25", values)
	}
	if len(inv.Models) != 1 || !strings.Contains(inv.Models[0], "model_state_dict.encoder.rnn.") {
		t.Errorf("models %v", inv.Models)
	}
}

func TestRunAndBench(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	code, _, errs := runCLI(t, "run", fixtures+"gru_batch_first.pt", fixtures+"gru_batch_first.ref.pt", "--batch-first", "-o", out)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tensors []struct {
			Name  string    `json:"name"`
			Shape []int     `json:"shape"`
			Data  []float64 `json:"data"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Tensors) != 2 || doc.Tensors[0].Name != "output" || doc.Tensors[1].Name != "h_n" {
		t.Fatalf("run wrote %s", b)
	}
	if got := doc.Tensors[0].Shape; len(got) != 3 || got[0] != 2 || got[1] != 8 || got[2] != 5 {
		t.Errorf("output shape %v, want [2 8 5]", got)
	}

	code, stdout, errs := runCLI(t, "bench", fixtures+"rnn_tanh.pt", "--seq", "5", "--batch", "2", "--time", "10ms", "--json")
	if code != 0 {
		t.Fatalf("bench: exit %d: %s", code, errs)
	}
	var br struct {
		NsPerForward float64 `json:"ns_per_forward"`
		Iterations   int     `json:"iterations"`
	}
	if err := json.Unmarshal([]byte(stdout), &br); err != nil {
		t.Fatal(err)
	}
	if br.NsPerForward <= 0 || br.Iterations < 5 {
		t.Errorf("bench: %s", stdout)
	}

	// The same run written as .pt holds output, h_n and c_n for an LSTM.
	pt := filepath.Join(dir, "out.pt")
	if code, _, errs := runCLI(t, "run", fixtures+"lstm_proj_bi.pt", fixtures+"lstm_proj_bi.ref.pt", "-o", pt); code != 0 {
		t.Fatalf("run -o out.pt: exit %d: %s", code, errs)
	}
	code, stdout, errs = runCLI(t, "inspect", pt, "--json")
	if code != 0 {
		t.Fatalf("inspect out.pt: exit %d: %s", code, errs)
	}
	var inv struct {
		Format  string `json:"format"`
		Tensors []struct {
			Name string `json:"name"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(stdout), &inv); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tn := range inv.Tensors {
		names = append(names, tn.Name)
	}
	if inv.Format != "zip" || strings.Join(names, ",") != "output,h_n,c_n" {
		t.Errorf("out.pt: format %s, tensors %v", inv.Format, names)
	}
}

// TestBrokenCorpusFile: the shared corpus's broken.pt, when the corpus is present, is an
// unusable input (exit 2), not a crash.
func TestBrokenCorpusFile(t *testing.T) {
	broken := filepath.Join("..", "..", "..", "shared", "corpus", "broken.pt")
	if _, err := os.Stat(broken); err != nil {
		broken = filepath.Join("..", "..", "testdata", "pickle", "truncated_zip.pt")
	}
	for _, cmd := range []string{"inspect", "convert"} {
		args := []string{cmd, broken}
		if cmd == "convert" {
			args = append(args, "-o", filepath.Join(t.TempDir(), "x.safetensors"))
		}
		code, _, errs := runCLI(t, args...)
		if code != 2 || !strings.Contains(errs, filepath.Base(broken)) {
			t.Errorf("%s %s: exit %d, stderr %q", cmd, broken, code, errs)
		}
	}
}

// TestCellsAndWholeModels: check, run and bench take a cell (stepped through a sequence,
// or one step), a whole char model from token ids with --whole, and a pickled Sequential
// of layers as it is.
func TestCellsAndWholeModels(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		flags []string
		code  int
		outs  string // the tensors run writes
	}{
		{"cell_lstm_steps", nil, 0, "output,h_n,c_n"},
		{"cell_gru_step", nil, 0, "output,h_n"},
		{"cell_rnn_relu", []string{"--nonlinearity", "relu"}, 0, "output,h_n"},
		{"cell_rnn_relu", nil, 1, ""},
		{"char_lstm_whole", []string{"--whole"}, 0, "output"},
		{"char_lstm_whole", nil, 2, ""}, // int64 ids into the LSTM
		{"module_seq_mlp", nil, 0, "output"},
		{"module_seq_embed_gru", []string{"--whole"}, 0, "output,h_n"},
	} {
		args := append([]string{"check", fixtures + c.name + ".pt", fixtures + c.name + ".ref.pt"}, c.flags...)
		code, out, errs := runCLI(t, args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", args, code, c.code, out, errs)
		}
		if c.code != 0 {
			continue
		}
		o := filepath.Join(dir, c.name+".json")
		args = append([]string{"run", fixtures + c.name + ".pt", fixtures + c.name + ".ref.pt", "-o", o}, c.flags...)
		if code, _, errs := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		b, _ := os.ReadFile(o)
		var doc struct {
			Tensors []struct {
				Name string `json:"name"`
			} `json:"tensors"`
		}
		json.Unmarshal(b, &doc)
		var names []string
		for _, tn := range doc.Tensors {
			names = append(names, tn.Name)
		}
		if strings.Join(names, ",") != c.outs {
			t.Errorf("%v wrote %v, want %s", args, names, c.outs)
		}
		args = append([]string{"bench", fixtures + c.name + ".pt", "--seq", "4", "--batch", "2", "--time", "1ms"}, c.flags...)
		if code, _, errs := runCLI(t, args...); code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, errs)
		}
	}
	code, _, errs := runCLI(t, "check", fixtures+"two_heads_whole.pt", fixtures+"two_heads.ref.pt", "--whole")
	if code != 2 || !strings.Contains(errs, "several modules fit one place") {
		t.Errorf("--whole of a model with two heads: exit %d, %s", code, errs)
	}
}

// TestOutputErrorNamesFileOnce: an error writing an output names it once.
func TestOutputErrorNamesFileOnce(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.npz")
	code, _, errs := runCLI(t, "convert", fixtures+"rnn_tanh.pt", "-o", out, "--max-shard-size", "1KB")
	if code != 2 || strings.Count(errs, out) != 1 {
		t.Errorf("exit %d, stderr %q: want 2 and %s named once", code, errs, out)
	}
}

// TestRunJSONSaysWhatItWrote: run's text and --json name exactly the tensors written
// (c_n for an LSTM) and, as check does, where each initial state came from.
func TestRunJSONSaysWhatItWrote(t *testing.T) {
	dir := t.TempDir()
	p := "../../testdata/parity/"
	for _, c := range []struct {
		model, input string
		shapes       string
		initial      parity.InitialState
	}{
		{"lstm.pt", "h0_tuple.ref.pt", "output [6 2 4], h_n [2 2 4], c_n [2 2 4]", parity.InitialState{H0: "h0.0", C0: "h0.1"}},
		{"lstm.pt", "misspelled.ref.pt", "output [6 2 4], h_n [2 2 4], c_n [2 2 4]", parity.InitialState{H0: "h0", C0: "c0"}},
		{"output_last_step.pt", "output_last_step.ref.pt", "output [6 2 5], h_n [1 2 5]", parity.InitialState{H0: "zeros"}},
	} {
		out := filepath.Join(dir, "out.npz")
		args := []string{"run", p + c.model, p + c.input, "-o", out, "--ignore", "hn,cn"}
		if c.input != "misspelled.ref.pt" {
			args = args[:len(args)-2]
		}
		code, _, errs := runCLI(t, args...)
		if code != 0 || errs != "wrote "+out+": "+c.shapes+"\n" {
			t.Errorf("%v: exit %d, %q; want it to list %s", args, code, errs, c.shapes)
		}
		code, stdout, errs := runCLI(t, append(args, "--json")...)
		var res struct {
			Shapes       map[string][]int    `json:"shapes"`
			InitialState parity.InitialState `json:"initial_state"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); code != 0 || err != nil {
			t.Fatalf("%v --json: exit %d, %v\n%s%s", args, code, err, stdout, errs)
		}
		if res.InitialState != c.initial || len(res.Shapes) != strings.Count(c.shapes, "[") {
			t.Errorf("%v --json: %+v, want initial state %+v and the shapes of %s", args, res, c.initial, c.shapes)
		}
	}
}

// runSignalled runs ptport with args as a process of its own, sends it sig once the
// output (-o) folder holds a temporary, and returns its exit status and stderr.
func runSignalled(t *testing.T, args []string, sig os.Signal) (int, string) {
	t.Helper()
	out := args[slices.Index(args, "-o")+1]
	if filepath.Ext(out) != "" {
		out = filepath.Dir(out)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PTPORT_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); len(temps(out)) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if len(temps(out)) == 0 {
		cmd.Process.Kill()
		t.Fatalf("%v: no temporary appeared in %s", args, out)
	}
	cmd.Process.Signal(sig)
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// TestInterruptedMessages: a command Ctrl-C stops while it works says it was interrupted,
// not Go's "context canceled", with the exit status 130: bench, which measures for an
// hour unless stopped, and a convert to standard output, which has no temporary to
// remove.
func TestInterruptedMessages(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.pt")
	bigCheckpoint(t, big, 4<<20)
	for _, args := range [][]string{
		{"bench", fixtures + "rnn_tanh.pt", "--time", "1h"},
		{"convert", big, "-o", "-", "--to", "json"},
	} {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "PTPORT_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		first := make([]byte, 1)
		if args[0] == "convert" {
			io.ReadFull(stdout, first) // under way
		} else {
			time.Sleep(300 * time.Millisecond)
		}
		start := time.Now()
		cmd.Process.Signal(os.Interrupt)
		go io.Copy(io.Discard, stdout)
		cmd.Wait()
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%v: stopped %v after Ctrl-C", args, d)
		}
		errs := stderr.String()
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("%v: exit %d, want 130\n%s", args, code, errs)
		}
		if !strings.Contains(errs, "interrupted") || strings.Contains(errs, "context canceled") {
			t.Errorf("%v: stderr %q: want it to say interrupted, not context canceled", args, errs)
		}
	}
	for in, want := range map[string]string{
		"a.pt: context canceled":           "a.pt: interrupted",
		"context canceled":                 "interrupted",
		"bench: stopped: context canceled": "bench: stopped: interrupted",
		"writing x: broken pipe":           "writing x: broken pipe (interrupted)",
	} {
		if got := interrupted(in); got != want {
			t.Errorf("interrupted(%q) = %q, want %q", in, got, want)
		}
	}
}
