package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

const parityFixtures = "../../testdata/parity/"

// TestCheckParity runs `ptport check` on the cases of testdata/parity (see its gen.py):
// each verdict's exit status, the diagnosis with the flag that fixes it, the hints of a
// reference that cannot be used, and a summary that claims only what was compared.
func TestCheckParity(t *testing.T) {
	p := func(name string) string { return parityFixtures + name }
	for _, c := range []struct {
		args    []string
		code    int
		out     []string // in stdout
		notOut  []string
		errs    []string // in stderr
		comment string
	}{
		{args: []string{p("forgot_batch_first.pt"), p("forgot_batch_first.ref.pt")}, code: 1,
			out: []string{"diagnosis: batch_first flipped", "fix: --batch-first", "FAIL"}},
		{args: []string{p("forgot_batch_first.pt"), p("forgot_batch_first.ref.pt"), "--batch-first"}, code: 0, out: []string{"PASS"}},
		{args: []string{p("forgot_relu.pt"), p("forgot_relu.ref.pt")}, code: 1, out: []string{"nonlinearity='relu'", "fix: --nonlinearity relu"}},
		{args: []string{p("gates_ifog.pt"), p("gates_ifog.ref.pt")}, code: 1, out: []string{"i f o g"}},
		{args: []string{p("drifted.pt"), p("drifted.ref.pt")}, code: 1, out: []string{"none of the usual porting mistakes explains it"}},
		{args: []string{p("output_last_step.pt"), p("output_last_step.ref.pt")}, code: 1,
			out: []string{"FAIL: output not compared (shape [6 2 5] from Go, [2 5] in the reference)"}, notOut: []string{"within atol"}},
		{args: []string{p("gru_large.pt"), p("gru_large.ref.pt")}, code: 0, out: []string{"PASS by the float64 truth", "MAX |GO-TRUTH|"}},
		{args: []string{p("gru_large.pt"), p("gru_large.ref.pt"), "--atol", "1e-4"}, code: 0, out: []string{"PASS: every element", "atol 0.0001"}},
		{args: []string{p("gru_large.pt"), p("gru_large_other_ref.ref.pt")}, code: 1, out: []string{"the reference comes from other weights"}},
		{args: []string{p("lstm.pt"), p("misspelled.ref.pt")}, code: 2, errs: []string{"hn: not a reference entry; did you mean h_n?", "--ignore hn,cn"}},
		{args: []string{p("lstm.pt"), p("misspelled.ref.pt"), "--ignore", "hn,cn"}, code: 0, out: []string{"ignored    hn, cn", "PASS: every element of output within"}},
		{args: []string{p("lstm.pt"), p("h0_tuple.ref.pt")}, code: 0, out: []string{"h0 from the reference's h0.0, c0 from the reference's h0.1"}},
		// --batch-first=false given contradicts a reference or a pickled module that says True.
		{args: []string{p("config_in_ref.pt"), p("config_in_ref.ref.pt"), "--batch-first=false"}, code: 2,
			errs: []string{"batch_first is True in the reference, but False in the model's options"}},
		{args: []string{p("config_in_ref.pt"), p("config_in_ref.ref.pt")}, code: 0, out: []string{"batch_first=True", "PASS"}},
		{args: []string{"../../testdata/convert/module_rnn.pt", "../../testdata/convert/module_rnn.ref.pt", "--batch-first=false"}, code: 2,
			errs: []string{"batch_first=False, but the pickled RNN module has batch_first=True"}},
		// The model's file and the reference given the other way round.
		{args: []string{p("h0_tuple.ref.pt"), p("lstm.pt")}, code: 2, errs: []string{"the two files are the other way round", "(swap the two arguments: the model's file first)"}},
		// What the check cannot do without, left out: a usage error, never a crash.
		{args: []string{p("lstm.pt"), p("h0_tuple.ref.pt"), "--ignore", "input"}, code: 2, errs: []string{"input is ignored, but the model runs on it"}},
		{args: []string{p("lstm.pt"), p("h0_tuple.ref.pt"), "--ignore", "input", "--json"}, code: 2, out: []string{`"error": "`, "input is ignored"}},
		{args: []string{p("lstm.pt"), p("h0_tuple.ref.pt"), "--ignore", "output"}, code: 2, errs: []string{"output is ignored"}},
		{args: []string{p("lstm.pt"), p("h0_without_c0.ref.pt")}, code: 2, errs: []string{"h0 without c0"}},
		{args: []string{p("lstm.pt"), p("hn_tuple.ref.pt"), "--nonlinearity", "relu"}, code: 2, errs: []string{"nonlinearity option applies to nn.RNN only"}},
		{args: []string{p("forgot_batch_first.pt"), p("forgot_batch_first_h0.ref.pt")}, code: 2, errs: []string{"Expected hidden size", "--batch-first"}},
		{args: []string{p("missing_layer.pt"), p("missing_layer.ref.pt")}, code: 2, errs: []string{"missing keys: weight_ih_l1, weight_hh_l1, bias_ih_l1, bias_hh_l1"}},
		{args: []string{p("unexpected_key.pt"), p("unexpected_key.ref.pt")}, code: 2, errs: []string{"unexpected keys: lstm.extra_param"}},
		{args: []string{p("int_input.pt"), p("int_input.ref.pt")}, code: 2, errs: []string{"input is I64"}},
		{args: []string{p("f64.pt"), p("f64_off.ref.pt")}, code: 1, out: []string{"atol 1e-07 + rtol 1e-07"}},
		// Cells and whole models, judged by the truth of every layer.
		{args: []string{p("cell_large.pt"), p("cell_large.ref.pt")}, code: 0, out: []string{"LSTMCell(8, 32)", "PASS by the float64 truth"}},
		{args: []string{p("cell_large.pt"), p("cell_large_other_ref.ref.pt")}, code: 1, out: []string{"the reference comes from other weights"}},
		{args: []string{p("cell_forgot_relu.pt"), p("cell_forgot_relu.ref.pt")}, code: 1, out: []string{"nonlinearity='relu'", "fix: --nonlinearity relu"}},
		{args: []string{p("whole_large.pt"), p("whole_large.ref.pt"), "--whole"}, code: 0, out: []string{"PASS by the float64 truth"}},
		{args: []string{p("whole_large_wrong_head.pt"), p("whole_large.ref.pt"), "--whole"}, code: 1, out: []string{"the reference comes from other weights"}},
		{args: []string{p("whole_forgot_batch_first.pt"), p("whole_forgot_batch_first.ref.pt"), "--whole"}, code: 1,
			out: []string{"diagnosis: batch_first flipped", "fix: --batch-first"}},
		{args: []string{p("whole_forgot_batch_first.pt"), p("whole_forgot_batch_first.ref.pt"), "--whole", "--batch-first"}, code: 0, out: []string{"PASS"}},
		{args: []string{p("whole_head_transposed.pt"), p("whole_head_transposed.ref.pt"), "--whole"}, code: 1, out: []string{"fc.weight transposed"}},
		{args: []string{"../../testdata/charlstm/checkpoint.pt", p("charlstm.ref.pt"), "--whole"}, code: 0, out: []string{"PASS: every element of output"}},
		// An unsupported plot is refused before any work: the missing model is not read.
		{args: []string{p("no-such-model.pt"), p("no-such-ref.pt"), "--plot", "err.jpg"}, code: 2, errs: []string{"want a .svg or .png file"}},
	} {
		expectCLI(t, append([]string{"check"}, c.args...), c.code, c.out, c.notOut, c.errs)
	}
}

// expectCLI runs ptport with args and checks its exit status, that stdout holds every
// string of out and none of notOut, and that stderr holds every string of errs. It
// reports whether the exit status was code.
func expectCLI(t *testing.T, args []string, code int, out, notOut, errs []string) bool {
	t.Helper()
	got, stdout, stderr := runCLI(t, args...)
	if got != code {
		t.Errorf("%v: exit %d, want %d\n%s%s", args, got, code, stdout, stderr)
		return false
	}
	for _, w := range out {
		if !strings.Contains(stdout, w) {
			t.Errorf("%v: stdout lacks %q:\n%s", args, w, stdout)
		}
	}
	for _, w := range notOut {
		if strings.Contains(stdout, w) {
			t.Errorf("%v: stdout has %q:\n%s", args, w, stdout)
		}
	}
	for _, w := range errs {
		if !strings.Contains(stderr, w) {
			t.Errorf("%v: stderr lacks %q:\n%s", args, w, stderr)
		}
	}
	return true
}

// TestCheckParityJSON: the JSON says which rule decided each tensor, the errors against
// the truth, where the initial states came from, and the diagnosis.
func TestCheckParityJSON(t *testing.T) {
	var r struct {
		Pass         bool              `json:"pass"`
		Rule         string            `json:"rule"`
		InitialState map[string]string `json:"initial_state"`
		Tensors      []struct {
			Name     string   `json:"name"`
			Entry    string   `json:"entry"`
			Rule     string   `json:"rule"`
			Atol     *float64 `json:"atol"`
			GoTruth  *float64 `json:"go_truth"`
			RefTruth *float64 `json:"ref_truth"`
		} `json:"tensors"`
		Diagnosis []struct{ Name string } `json:"diagnosis"`
	}
	code, out, errs := runCLI(t, "check", parityFixtures+"gru_large.pt", parityFixtures+"gru_large.ref.pt", "--json")
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
		t.Fatalf("exit %d, %v\n%s%s", code, err, out, errs)
	}
	if !r.Pass || r.Rule != "truth" || r.InitialState["h0"] != "zeros" || len(r.Tensors) != 2 || r.Tensors[0].Rule != "truth" ||
		r.Tensors[0].GoTruth == nil || r.Tensors[0].RefTruth == nil || r.Tensors[0].Atol == nil || len(r.Diagnosis) != 0 {
		t.Errorf("report %s", out)
	}
	code, out, _ = runCLI(t, "check", parityFixtures+"lstm.pt", parityFixtures+"hx_tuple.ref.pt", "--json")
	r.Tensors = nil
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if r.InitialState["h0"] != "hx.0" || r.InitialState["c0"] != "hx.1" || len(r.Tensors) != 3 || r.Tensors[2].Entry != "h_n.1" {
		t.Errorf("report %s", out)
	}
	code, out, _ = runCLI(t, "check", parityFixtures+"gates_zrn.pt", parityFixtures+"gates_zrn.ref.pt", "--json")
	r.Diagnosis = nil
	if err := json.Unmarshal([]byte(out), &r); code != 1 || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if r.Pass || len(r.Diagnosis) != 1 || r.Diagnosis[0].Name != "gate_order" {
		t.Errorf("report %s", out)
	}
}

// TestCheckPlot draws a failing check's plot, titled with its diagnosis.
func TestCheckPlot(t *testing.T) {
	out := filepath.Join(t.TempDir(), "err.svg")
	code, stdout, errs := runCLI(t, "check", parityFixtures+"h0_ignored.pt", parityFixtures+"h0_ignored.ref.pt", "--plot", out)
	if code != 1 || !strings.Contains(stdout, "plot: "+out) {
		t.Fatalf("exit %d\n%s%s", code, stdout, errs)
	}
	svg, err := readFile(out)
	if err != nil || !strings.Contains(svg, "diagnosis: h0_ignored") {
		t.Errorf("plot: %v, titled with the diagnosis: %v", err, strings.Contains(svg, "diagnosis: h0_ignored"))
	}
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// TestRunInput: run reads its INPUT by the rules of check's reference, with the same
// errors and hints, and takes the configuration values the file holds.
func TestRunInput(t *testing.T) {
	p := func(name string) string { return parityFixtures + name }
	dir := t.TempDir()
	for _, c := range []struct {
		model, input string
		flags        []string
		code         int
		errs         []string
		same         bool // the output is the reference's, within float32's tolerance
	}{
		{"lstm.pt", "h0_without_c0.ref.pt", nil, 2, []string{"h0 without c0"}, false},
		{"lstm.pt", "c0_without_h0.ref.pt", nil, 2, []string{"c0 without h0"}, false},
		{"cell_h0_without_c0.pt", "cell_h0_without_c0.ref.pt", nil, 2, []string{"h0 without c0"}, false},
		{"lstm.pt", "misspelled.ref.pt", nil, 2, []string{"hn: not a reference entry; did you mean h_n?", "--ignore hn,cn"}, false},
		{"lstm.pt", "misspelled.ref.pt", []string{"--ignore", "hn,cn"}, 0, nil, true},
		{"lstm.pt", "h0_tuple.ref.pt", nil, 0, nil, true},
		{"lstm.pt", "hn_tuple.ref.pt", []string{"--nonlinearity", "relu"}, 2, []string{"nonlinearity option applies to nn.RNN only"}, false},
		{"int_input.pt", "int_input.ref.pt", nil, 2, []string{"input is I64"}, false},
		{"config_in_ref.pt", "config_in_ref.ref.pt", nil, 0, nil, true}, // batch_first and relu from the file
		{"config_conflict.pt", "config_conflict.ref.pt", nil, 2, []string{"batch_first"}, false},
		{"forgot_batch_first.pt", "forgot_batch_first_h0.ref.pt", nil, 2, []string{"--batch-first"}, false},
		{"whole_large.pt", "whole_large.ref.pt", []string{"--whole"}, 0, nil, false},
	} {
		out := filepath.Join(dir, "y.json")
		args := append([]string{"run", p(c.model), p(c.input), "-o", out}, c.flags...)
		if !expectCLI(t, args, c.code, nil, nil, c.errs) || !c.same {
			continue
		}
		got, want := jsonTensor(t, out, "output"), refValues(t, p(c.input), "output")
		if len(got) != len(want) {
			t.Fatalf("%v: %d values, the reference %d", args, len(got), len(want))
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-5+1.3e-6*math.Abs(want[i]) {
				t.Errorf("%v: output[%d] = %g, the reference's %g", args, i, got[i], want[i])
				break
			}
		}
	}
}

// jsonTensor reads the named tensor of a JSON file run wrote.
func jsonTensor(t *testing.T, path, name string) []float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tensors []struct {
			Name string    `json:"name"`
			Data []float64 `json:"data"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, tn := range doc.Tensors {
		if tn.Name == name {
			return tn.Data
		}
	}
	t.Fatalf("%s holds no %s", path, name)
	return nil
}

// refValues reads the named tensor of a reference file.
func refValues(t *testing.T, path, name string) []float64 {
	t.Helper()
	cp, err := convert.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	tn, ok := cp.Tensor(name)
	if !ok {
		t.Fatalf("%s holds no %s", path, name)
	}
	v, err := tn.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFlagHints: the library's messages speak of options; the command names the flags
// that set them.
func TestFlagHints(t *testing.T) {
	finalStates := wholeWithStates(t)
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr []string
	}{
		{[]string{"check", fixtures + "two_modules.pt", fixtures + "rnn_tanh.ref.pt"}, 2, nil,
			[]string{"holds 2 recurrent modules; choose one by its prefix", `"enc." LSTM(3, 4)`, "--prefix P chooses"}},
		{[]string{"run", fixtures + "two_modules.pt", fixtures + "rnn_tanh.ref.pt", "-o", filepath.Join(t.TempDir(), "y.json")}, 2, nil,
			[]string{"--prefix P chooses"}},
		{[]string{"inspect", fixtures + "rnn_tanh.pt"}, 0,
			[]string{"(tanh unless told relu: a state_dict does not store the nonlinearity)", "--nonlinearity relu"}, nil},
		// Token ids without --whole: the flag, never the Go option.
		{[]string{"check", fixtures + "char_lstm_whole.pt", fixtures + "char_lstm_whole.ref.pt"}, 2, nil,
			[]string{"token ids are the input of the whole model, Embedding(12, 6) -> LSTM(6, 10, num_layers=2) -> Linear(", "(to run the whole model from token ids: --whole)"}},
		{[]string{"run", fixtures + "char_lstm_whole.pt", fixtures + "char_lstm_whole.ref.pt", "-o", filepath.Join(t.TempDir(), "y.json")}, 2, nil,
			[]string{"(to run the whole model from token ids: --whole)"}},
		// The module at the root is said so, not "".
		{[]string{"check", parityFixtures + "lstm.pt", parityFixtures + "lstm_nonlinearity_flag.ref.pt", "--nonlinearity", "relu"}, 2, nil,
			[]string{"lstm.pt: at the root: the nonlinearity option applies to nn.RNN only"}},
		{[]string{"check", fixtures + "invalid_keys.pt", fixtures + "rnn_tanh.ref.pt"}, 2, nil,
			[]string{"invalid_keys.pt: the tensors at the root do not fit RNN(3, 5, num_layers=2)"}},
		// The final states a whole model does not give: the flag that leaves them out.
		{[]string{"check", fixtures + "char_lstm_whole.pt", finalStates, "--whole"}, 2, nil,
			[]string{"h_n, c_n: the whole model gives no final state", "(to leave them out: --ignore h_n,c_n)"}},
		{[]string{"check", fixtures + "char_lstm_whole.pt", finalStates, "--whole", "--ignore", "h_n,c_n"}, 0, nil, nil},
	} {
		if expectCLI(t, c.args, c.code, c.stdout, nil, c.stderr) {
			_, _, stderr := runCLI(t, c.args...)
			for _, bad := range []string{"Options.", `""`} {
				if strings.Contains(stderr, bad) {
					t.Errorf("%v: stderr has %q:\n%s", c.args, bad, stderr)
				}
			}
		}
	}
}

// wholeWithStates writes the reference of the whole char_lstm_whole model with the
// final states of its LSTM beside its output, as model(ids) -> (logits, (h, c)) saves
// them, and returns its path.
func wholeWithStates(t *testing.T) string {
	whole, err := convert.Open(fixtures+"char_lstm_whole.ref.pt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	states, err := convert.Open(fixtures+"char_lstm.ref.pt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer states.Close()
	leaves := slices.Clone(whole.Leaves)
	for _, name := range []string{"h_n", "c_n"} {
		s, _ := states.Tensor(name)
		leaves = append(leaves, pickle.Leaf{Name: name, Value: s})
	}
	path := filepath.Join(t.TempDir(), "states.ref.pt")
	if err := convert.Export(context.Background(), path, convert.PT, convert.FromLeaves(path, leaves)); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunBatchFirstGivenFalse: run holds --batch-first=false against the pickled module's
// batch_first=True, as check does, instead of running the module batch first anyway.
func TestRunBatchFirstGivenFalse(t *testing.T) {
	out := filepath.Join(t.TempDir(), "o.npz")
	mod, in := "../../testdata/convert/module_rnn.pt", "../../testdata/convert/module_rnn.ref.pt"
	expectCLI(t, []string{"run", mod, in, "-o", out, "--batch-first=false"}, 2, nil, nil,
		[]string{"batch_first=False, but the pickled RNN module has batch_first=True"})
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written", out)
	}
	expectCLI(t, []string{"run", mod, in, "-o", out}, 0, nil, nil, []string{"wrote"})
}

// TestOutputFolders: check --plot and run -o create their folder, as convert -o does; a
// plot that still cannot be written leaves the report and the verdict's exit status, its
// error on stderr naming the path given, never a temporary.
func TestOutputFolders(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return parityFixtures + name }
	plotFile := filepath.Join(dir, "new", "sub", "e.svg")
	expectCLI(t, []string{"check", p("lstm.pt"), p("h0_tuple.ref.pt"), "--plot", plotFile}, 0, []string{"PASS", "plot: " + plotFile}, nil, nil)
	if _, err := os.Stat(plotFile); err != nil {
		t.Errorf("plot: %v", err)
	}
	out := filepath.Join(dir, "run", "sub", "o.npz")
	expectCLI(t, []string{"run", p("lstm.pt"), p("h0_tuple.ref.pt"), "-o", out}, 0, nil, nil, []string{"wrote"})
	if _, err := os.Stat(out); err != nil {
		t.Errorf("run -o: %v", err)
	}

	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(file, "e.png") // its folder is a file
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{p("drifted.pt"), p("drifted.ref.pt")}, 1, "FAIL"},
		{[]string{p("lstm.pt"), p("h0_tuple.ref.pt")}, 0, "PASS"},
		{[]string{p("lstm.pt"), p("h0_tuple.ref.pt"), "--json"}, 0, `"pass": true`},
	} {
		args := append([]string{"check", "--plot", bad}, c.args...)
		if expectCLI(t, args, c.code, []string{c.out}, []string{"plot: "}, []string{"ptport: writing " + bad}) {
			if _, _, stderr := runCLI(t, args...); strings.Contains(stderr, ".ptport-tmp") {
				t.Errorf("%v: %s", args, stderr)
			}
		}
	}
}

// TestHintsNameGivenFlags: a hint never asks to drop a flag the user did not give, nor
// names one for a layout that is not what failed.
func TestHintsNameGivenFlags(t *testing.T) {
	// The reference's batch_first False, with shapes that fit True only: the reference
	// is to blame, and no flag would help (--batch-first would contradict it).
	cp, err := convert.Open(parityFixtures+"forgot_batch_first_h0.ref.pt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	ref := filepath.Join(t.TempDir(), "bf_false.ref.pt")
	leaves := append(slices.Clone(cp.Leaves), pickle.Leaf{Name: "batch_first", Value: false})
	if err := convert.Export(context.Background(), ref, convert.PT, convert.FromLeaves(ref, leaves)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"check", parityFixtures + "int_input.pt", parityFixtures + "int_input.ref.pt"}, "input is I64"},
		{[]string{"check", parityFixtures + "forgot_batch_first.pt", ref}, "the shapes fit a model with batch_first=True, but the reference's batch_first is False"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "--batch-first") {
			t.Errorf("%v: exit %d:\n%s", c.args, code, stderr)
		}
	}
}

// TestFixesBlameTheSource: a fix line changes the setting where it came from: a flag
// for the options' or PyTorch's default, the reference for the reference's, the
// pickled module (or how the reference was computed) for the module's, which no flag
// can change; batch --check says the same.
func TestFixesBlameTheSource(t *testing.T) {
	dir := t.TempDir()
	// withValue writes the reference from, with the value v added, to dir as name.
	withValue := func(from, name string, v pickle.Leaf) string {
		cp, err := convert.Open(from, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cp.Close()
		path := filepath.Join(dir, name)
		if err := convert.Export(context.Background(), path, convert.PT, convert.FromLeaves(path, append(slices.Clone(cp.Leaves), v))); err != nil {
			t.Fatal(err)
		}
		return path
	}
	bfRef := withValue(parityFixtures+"forgot_batch_first.ref.pt", "bf.ref.pt", pickle.Leaf{Name: "batch_first", Value: false})
	tanhRef := withValue(parityFixtures+"forgot_relu.ref.pt", "tanh.ref.pt", pickle.Leaf{Name: "nonlinearity", Value: "tanh"})

	// module_rnn.pt is a pickled RNN with batch_first=True; its reference's input and
	// output made (seq, batch, feature) are those of the same module with batch_first
	// False (h_n is the same either way).
	mod := "../../testdata/convert/module_rnn.pt"
	cp, err := convert.Open("../../testdata/convert/module_rnn.ref.pt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	leaves := slices.Clone(cp.Leaves)
	for i, l := range leaves {
		if l.Name == "input" || l.Name == "output" {
			leaves[i].Value = swapFirstDims(t, l.Value.(*pickle.Tensor))
		}
	}
	seqRef := filepath.Join(dir, "seq.ref.pt")
	if err := convert.Export(context.Background(), seqRef, convert.PT, convert.FromLeaves(seqRef, leaves)); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		args []string
		fix  string
	}{
		{[]string{parityFixtures + "forgot_batch_first.pt", parityFixtures + "forgot_batch_first.ref.pt"}, "fix: --batch-first\n"},
		{[]string{parityFixtures + "forgot_relu.pt", parityFixtures + "forgot_relu.ref.pt"}, "fix: --nonlinearity relu\n"},
		{[]string{parityFixtures + "forgot_relu.pt", parityFixtures + "forgot_relu.ref.pt", "--nonlinearity", "tanh"}, "fix: --nonlinearity relu\n"},
		{[]string{parityFixtures + "forgot_batch_first.pt", bfRef}, "fix: save the reference with batch_first True (it says False)\n"},
		{[]string{parityFixtures + "forgot_relu.pt", tanhRef}, "fix: save the reference with nonlinearity \"relu\" (it says \"tanh\")\n"},
		{[]string{mod, seqRef}, "fix: the pickled module has batch_first=True: compute the reference with it as saved, or save it with batch_first=False\n"},
	} {
		code, out, _ := runCLI(t, append([]string{"check"}, c.args...)...)
		if code != 1 || !strings.Contains(out, c.fix) || strings.Count(out, "fix:") != 1 {
			t.Errorf("%v: exit %d, want 1 and %q:\n%s", c.args, code, c.fix, out)
		}
	}

	// batch --check: the module's reference, beside it as NAME.ref.pt.
	zoo := t.TempDir()
	for from, to := range map[string]string{mod: "m.pt", seqRef: "m.ref.pt"} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(zoo, to), b, 0o644)
	}
	code, _, errs := runCLI(t, "batch", "--check", zoo)
	if want := "\n         fix: the pickled module has batch_first=True: compute the reference with it as saved"; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("batch --check: exit %d, want 1 and %q:\n%s", code, want, errs)
	}
}

// swapFirstDims returns the float32 tensor x with its first two dimensions swapped,
// contiguous.
func swapFirstDims(t *testing.T, x *pickle.Tensor) *pickle.Tensor {
	t.Helper()
	v, err := x.Float64s()
	if err != nil || x.DType != pickle.F32 || len(x.Shape) != 3 {
		t.Fatalf("%v %v: %v", x.DType, x.Shape, err)
	}
	a, b, c := x.Shape[0], x.Shape[1], x.Shape[2]
	data := make([]byte, 0, 4*len(v))
	for j := range b {
		for i := range a {
			for k := range c {
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(v[(i*b+j)*c+k])))
			}
		}
	}
	y, err := pickle.NewTensor(pickle.F32, []int{b, a, c}, data)
	if err != nil {
		t.Fatal(err)
	}
	return y
}
