package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertNPZWidensBF16 converts a BF16 model to npz: convert says that NumPy has no
// bfloat16 and counts the float32 bytes it wrote, --json lists the widened tensors, and
// the npz reads back as BF16, as a safetensors output does without a note.
func TestConvertNPZWidensBF16(t *testing.T) {
	in := fixtures + "rnn_bf16.pt"
	var src struct {
		Bytes int64 `json:"bytes"`
	}
	code, out, errs := runCLI(t, "inspect", in, "--json")
	if err := json.Unmarshal([]byte(out), &src); code != 0 || err != nil {
		t.Fatalf("inspect: exit %d, %v: %s", code, err, errs)
	}
	dir := t.TempDir()
	npz := filepath.Join(dir, "m.npz")
	code, _, errs = runCLI(t, "convert", in, "-o", npz)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"(" + bytesText(2*src.Bytes) + ")",
		"note: NumPy has no bfloat16: " + npz + " holds 4 BF16 tensors widened exactly to float32 (numpy.load gives float32; ptport reads BF16 back)",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("convert to npz says\n%s\nwithout %q", errs, want)
		}
	}
	var res convertResult
	code, out, errs = runCLI(t, "convert", in, "-o", npz, "--json")
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil {
		t.Fatalf("--json: exit %d, %v: %s", code, err, errs)
	}
	if res.Bytes != 2*src.Bytes || strings.Join(res.Widened, " ") != "weight_ih_l0 weight_hh_l0 bias_ih_l0 bias_hh_l0" {
		t.Errorf("--json: bytes %d, widened %q; want %d and the four tensors", res.Bytes, res.Widened, 2*src.Bytes)
	}
	code, out, _ = runCLI(t, "inspect", npz)
	if code != 0 || strings.Count(out, " BF16 ") != 4 || strings.Contains(out, " F32 ") {
		t.Errorf("inspect of the npz: exit %d\n%s", code, out)
	}

	st := filepath.Join(dir, "m.safetensors")
	code, _, errs = runCLI(t, "convert", in, "-o", st)
	if code != 0 || strings.Contains(errs, "note:") || !strings.Contains(errs, "("+bytesText(src.Bytes)+")") {
		t.Errorf("convert to safetensors: exit %d\n%s", code, errs)
	}
}

// TestBatchNPZWidensBF16: batch --to npz says what convert says of BF16 tensors: the
// input's line counts those its output holds as float32, a note after the summary says
// that NumPy has no bfloat16, and the report and --json summary count them; a
// safetensors output holds them as they are and says nothing.
func TestBatchNPZWidensBF16(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"rnn_bf16.pt", "rnn_tanh.pt"} {
		b, err := os.ReadFile(fixtures + name)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	out, report := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "r.jsonl")
	code, _, errs := runCLI(t, "batch", dir, "-o", out, "--to", "npz", "--report", report)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"ok       " + filepath.Join(dir, "rnn_bf16.pt") + " -> " + filepath.Join(out, "rnn_bf16.npz") + " (4 tensors, 4 BF16 as float32, ",
		"\nnote: NumPy has no bfloat16: 1 output holds 4 BF16 tensors widened exactly to float32 (numpy.load gives float32; ptport reads BF16 back)\n",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("batch says\n%s\nwithout %q", errs, want)
		}
	}
	for _, line := range strings.Split(errs, "\n") {
		if strings.Contains(line, "rnn_tanh.pt") && strings.Contains(line, "as float32") {
			t.Errorf("the F32 model's line counts BF16 tensors: %s", line)
		}
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	widened := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			Input   string   `json:"input"`
			Widened []string `json:"widened"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		widened[filepath.Base(r.Input)] = r.Widened
	}
	if got := strings.Join(widened["rnn_bf16.pt"], " "); got != "weight_ih_l0 weight_hh_l0 bias_ih_l0 bias_hh_l0" || widened["rnn_tanh.pt"] != nil {
		t.Errorf("the report's widened: %q", widened)
	}

	code, js, errs := runCLI(t, "batch", dir, "-o", out, "--to", "npz", "--force", "--json")
	if _, sum := batchJSON(t, js); code != 0 || sum.Widened != 4 || sum.WidenedOutputs != 1 {
		t.Errorf("--json: exit %d, widened %d in %d outputs, want 4 in 1: %s", code, sum.Widened, sum.WidenedOutputs, errs)
	}
	code, _, errs = runCLI(t, "batch", dir, "-o", out)
	if code != 0 || strings.Contains(errs, "as float32") || strings.Contains(errs, "note:") {
		t.Errorf("batch to safetensors: exit %d\n%s", code, errs)
	}
}

// TestConvertCorruptRecord converts testdata/pickle/crc/flipped.pt, torch's file with a
// byte of a storage record flipped, to safetensors, whose tensors are copied within the
// kernel: exit status 2, an error that names the input, the record and the CRC-32
// mismatch, in --json too, and no output; batch, whose default output is safetensors,
// reports the input failed and converts the intact one beside it.
func TestConvertCorruptRecord(t *testing.T) {
	crc := "../../testdata/pickle/crc/"
	in := crc + "flipped.pt"
	dir := t.TempDir()
	out := filepath.Join(dir, "m.safetensors")
	want := in + ": tensor w: good/data/0: CRC-32 mismatch"
	code, _, errs := runCLI(t, "convert", in, "-o", out)
	if code != 2 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, want 2, saying %q:\n%s", code, want, errs)
	}
	var e errorJSON
	code, js, _ := runCLI(t, "convert", in, "-o", out, "--json")
	if err := json.Unmarshal([]byte(js), &e); code != 2 || err != nil || e.File != in || !strings.Contains(e.Error, want) {
		t.Errorf("--json: exit %d, %v: %s", code, err, js)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left in the output folder: %v", left)
	}

	inputs := t.TempDir()
	for _, name := range []string{"flipped.pt", "good.pt"} {
		b, err := os.ReadFile(crc + name)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(inputs, name), b, 0o644)
	}
	outDir := filepath.Join(t.TempDir(), "out")
	code, _, errs = runCLI(t, "batch", inputs, "-o", outDir)
	if line := "failed   " + filepath.Join(inputs, "flipped.pt") + ": tensor w: good/data/0: CRC-32 mismatch"; code != 1 || !strings.Contains(errs, line) {
		t.Errorf("batch: exit %d, want 1, saying %q:\n%s", code, line, errs)
	}
	if got, _ := filepath.Glob(filepath.Join(outDir, "*")); len(got) != 1 || filepath.Base(got[0]) != "good.safetensors" {
		t.Errorf("batch wrote %v, want good.safetensors alone", got)
	}
}

// TestConvertLimitNamesInput converts testdata/hostile/expand_views.pt, whose expanded
// views pass the bound on the bytes read from its tensors: the error, in text and in
// --json's "file", names the input whose reading went past the limit, not the output,
// which was never written.
func TestConvertLimitNamesInput(t *testing.T) {
	in := "../../testdata/hostile/expand_views.pt"
	for _, ext := range []string{"safetensors", "npz"} {
		out := filepath.Join(t.TempDir(), "m."+ext)
		want := in + ": tensor v1: storage \"0\": reading an expanded view"
		code, _, errs := runCLI(t, "convert", in, "-o", out)
		if code != 2 || !strings.Contains(errs, "ptport: "+want) || strings.Contains(errs, out) {
			t.Errorf("%s: exit %d, want 2, saying %q:\n%s", ext, code, want, errs)
		}
		var e errorJSON
		code, js, _ := runCLI(t, "convert", in, "-o", out, "--json")
		if err := json.Unmarshal([]byte(js), &e); code != 2 || err != nil || e.File != in || !strings.HasPrefix(e.Error, want) {
			t.Errorf("%s --json: exit %d, %v: %s", ext, code, err, js)
		}
	}
}
