package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{args: []string{p("lstm.pt"), p("h0_without_c0.ref.pt")}, code: 2, errs: []string{"h0 without c0"}},
		{args: []string{p("lstm.pt"), p("hn_tuple.ref.pt"), "--nonlinearity", "relu"}, code: 2, errs: []string{"nonlinearity option applies to nn.RNN only"}},
		{args: []string{p("forgot_batch_first.pt"), p("forgot_batch_first_h0.ref.pt")}, code: 2, errs: []string{"Expected hidden size", "--batch-first"}},
		{args: []string{p("missing_layer.pt"), p("missing_layer.ref.pt")}, code: 2, errs: []string{"missing keys: weight_ih_l1, weight_hh_l1, bias_ih_l1, bias_hh_l1"}},
		{args: []string{p("unexpected_key.pt"), p("unexpected_key.ref.pt")}, code: 2, errs: []string{"unexpected keys: lstm.extra_param"}},
		{args: []string{p("int_input.pt"), p("int_input.ref.pt")}, code: 2, errs: []string{"input is I64"}},
		{args: []string{p("f64.pt"), p("f64_off.ref.pt")}, code: 1, out: []string{"atol 1e-07 + rtol 1e-07"}},
		// An unsupported plot is refused before any work: the missing model is not read.
		{args: []string{p("no-such-model.pt"), p("no-such-ref.pt"), "--plot", "err.jpg"}, code: 2, errs: []string{"want a .svg or .png file"}},
	} {
		code, out, errs := runCLI(t, append([]string{"check"}, c.args...)...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", c.args, code, c.code, out, errs)
			continue
		}
		for _, w := range c.out {
			if !strings.Contains(out, w) {
				t.Errorf("%v: stdout lacks %q:\n%s", c.args, w, out)
			}
		}
		for _, w := range c.notOut {
			if strings.Contains(out, w) {
				t.Errorf("%v: stdout has %q:\n%s", c.args, w, out)
			}
		}
		for _, w := range c.errs {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, errs)
			}
		}
	}
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
