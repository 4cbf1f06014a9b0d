package main

import (
	"encoding/json"
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
