package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ptport/ptport/pickle"
)

// torch2Entry is what this test reads of testdata/pickle/torch2/MANIFEST.json.
type torch2Entry struct {
	Tensors map[string]struct {
		Shape  []int `json:"shape"`
		NoData bool  `json:"no_data"`
	} `json:"tensors"`
	Values    map[string]json.RawMessage `json:"values"`
	QSchemes  map[string]string          `json:"qschemes"`
	Bits      map[string][]string        `json:"bits"`
	Class     string                     `json:"class"`
	Constants []json.RawMessage          `json:"constants"`
	Error     string                     `json:"error"`
}

// inspected is ptport inspect --json, with what it says of tensors stored as several.
type inspected struct {
	Format  string `json:"format"`
	Tensors []struct {
		Name         string `json:"name"`
		Shape        []int  `json:"shape"`
		Bytes        int64  `json:"bytes"`
		Quantization *struct {
			Scheme     string          `json:"scheme"`
			Scale      json.RawMessage `json:"scale"`
			ZeroPoint  json.RawMessage `json:"zero_point"`
			Axis       *int            `json:"axis"`
			Channels   int             `json:"channels"`
			ScaleRange []float64       `json:"scale_range"`
			ZeroRange  []float64       `json:"zero_point_range"`
		} `json:"quantization"`
		Conj   bool      `json:"conj"`
		Neg    bool      `json:"neg"`
		NoData bool      `json:"no_data"`
		PartOf *partInfo `json:"part_of"`
	} `json:"tensors"`
	Values []struct {
		Name   string    `json:"name"`
		PartOf *partInfo `json:"part_of"`
	} `json:"values"`
	TorchScript *struct {
		Class     string `json:"class"`
		Constants int    `json:"constants"`
	} `json:"torchscript"`
}

type partInfo struct{ Name, Kind, Part string }

// TestInspectTensorKinds: inspect --json marks quantized tensors (scheme, scale and
// zero point, or axis, channel count and parameter ranges), lazy bits, meta tensors
// (no data), the parts of quantized, sparse and nested tensors, and TorchScript
// archives (their class and constants), as testdata/pickle/torch2/MANIFEST.json gives
// them; the text table says the same.
func TestInspectTensorKinds(t *testing.T) {
	b, err := os.ReadFile(torch2 + "MANIFEST.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]torch2Entry
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	checked := map[string]int{}
	for _, name := range names {
		want := m[name]
		if want.Error != "" {
			continue
		}
		code, out, errs := runCLI(t, "inspect", torch2+name, "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errs)
		}
		var inv inspected
		if err := json.Unmarshal([]byte(out), &inv); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, text, _ := runCLI(t, "inspect", torch2+name)
		rows := map[string]string{}
		for _, line := range strings.Split(text, "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				rows[f[0]] = line
			}
		}
		// The composite each leaf is a part of, from the manifest's names: NAME.PART
		// where NAME.layout is a value (sparse), NAME.scale exists beside NAME
		// (quantized), or NAME.storage_offsets is a tensor (nested).
		wantPart := func(leaf string) *partInfo {
			for i := len(leaf) - 1; i > 0; i-- {
				if leaf[i] != '.' {
					continue
				}
				base, part := leaf[:i], strings.SplitN(leaf[i+1:], ".", 2)[0]
				if l, ok := want.Values[base+".layout"]; ok {
					var layout string
					json.Unmarshal(l, &layout)
					return &partInfo{base, layout, part}
				}
				if _, ok := want.QSchemes[base]; ok && (part == "scale" || part == "zero_point" || part == "axis") {
					return &partInfo{base, "quantized", part}
				}
				if _, ok := want.Tensors[base+".storage_offsets"]; ok {
					return &partInfo{base, "nested", part}
				}
			}
			return nil
		}
		seen := map[string]bool{}
		for _, ti := range inv.Tensors {
			seen[ti.Name] = true
			if w := wantPart(ti.Name); !reflect.DeepEqual(ti.PartOf, w) {
				t.Errorf("%s %s: part of %+v, want %+v", name, ti.Name, ti.PartOf, w)
			} else if w != nil {
				checked["parts"]++
				if note := fmt.Sprintf("%s of the %s tensor %s", w.Part, w.Kind, w.Name); !strings.Contains(rows[ti.Name], note) {
					t.Errorf("%s %s: row %q does not say %q", name, ti.Name, rows[ti.Name], note)
				}
			}
			wt := want.Tensors[ti.Name]
			if ti.NoData != wt.NoData || (wt.NoData && ti.Bytes != 0) {
				t.Errorf("%s %s: no_data %v (%d bytes), want %v", name, ti.Name, ti.NoData, ti.Bytes, wt.NoData)
			} else if wt.NoData {
				checked["meta"]++
				if !strings.Contains(rows[ti.Name], "meta tensor: shape only, no data") {
					t.Errorf("%s %s: row %q", name, ti.Name, rows[ti.Name])
				}
			}
			if bits, ok := want.Bits[ti.Name]; ok {
				checked["bits"]++
				if ti.Conj != slices.Contains(bits, "conj") || ti.Neg != slices.Contains(bits, "neg") {
					t.Errorf("%s %s: conj %v neg %v, want bits %v", name, ti.Name, ti.Conj, ti.Neg, bits)
				}
				if strings.Contains(rows[ti.Name], "conjugate bit") != ti.Conj || strings.Contains(rows[ti.Name], "negative bit") != ti.Neg {
					t.Errorf("%s %s: row %q", name, ti.Name, rows[ti.Name])
				}
			}
			scheme, quantized := want.QSchemes[ti.Name]
			q := ti.Quantization
			if (q != nil) != quantized {
				t.Errorf("%s %s: quantization %+v, want scheme %q", name, ti.Name, q, scheme)
				continue
			}
			if !quantized {
				continue
			}
			checked["quantized"]++
			if q.Scheme != scheme || !strings.Contains(rows[ti.Name], "quantized") || !strings.Contains(rows[ti.Name], scheme) {
				t.Errorf("%s %s: scheme %s, row %q, want %s", name, ti.Name, q.Scheme, rows[ti.Name], scheme)
			}
			if scheme == "per_tensor_affine" {
				if !sameNumber(q.Scale, want.Values[ti.Name+".scale"]) || !sameNumber(q.ZeroPoint, want.Values[ti.Name+".zero_point"]) {
					t.Errorf("%s %s: scale %s zero point %s, want %s and %s", name, ti.Name, q.Scale, q.ZeroPoint,
						want.Values[ti.Name+".scale"], want.Values[ti.Name+".zero_point"])
				}
				continue
			}
			var axis int
			json.Unmarshal(want.Values[ti.Name+".axis"], &axis)
			if q.Axis == nil || *q.Axis != axis || q.Channels != ti.Shape[axis] {
				t.Errorf("%s %s: axis %v, %d channels, want axis %d of %v", name, ti.Name, q.Axis, q.Channels, axis, ti.Shape)
			}
			for part, got := range map[string][]float64{"scale": q.ScaleRange, "zero_point": q.ZeroRange} {
				if lo, hi := tensorRange(t, torch2+name, ti.Name+"."+part); !reflect.DeepEqual(got, []float64{lo, hi}) {
					t.Errorf("%s %s: %s range %v, want [%v %v]", name, ti.Name, part, got, lo, hi)
				}
			}
		}
		for _, v := range inv.Values {
			if w := wantPart(v.Name); !reflect.DeepEqual(v.PartOf, w) {
				t.Errorf("%s value %s: part of %+v, want %+v", name, v.Name, v.PartOf, w)
			}
		}
		for n := range want.Tensors {
			if !seen[n] {
				t.Errorf("%s: tensor %s not listed", name, n)
			}
		}
		if (inv.TorchScript != nil) != (inv.Format == "torchscript") || (want.Class != "") != (inv.TorchScript != nil) {
			t.Errorf("%s: format %s, torchscript %+v, want class %q", name, inv.Format, inv.TorchScript, want.Class)
		} else if inv.TorchScript != nil {
			checked["torchscript"]++
			if inv.TorchScript.Class != want.Class || inv.TorchScript.Constants != len(want.Constants) {
				t.Errorf("%s: torchscript %+v, want class %s and %d constants", name, inv.TorchScript, want.Class, len(want.Constants))
			}
			if !strings.Contains(text, "a TorchScript archive of "+want.Class) || !strings.Contains(text, "its code is not read") {
				t.Errorf("%s: the text does not say it is a TorchScript archive of %s:\n%s", name, want.Class, text)
			}
		}
	}
	// Every kind was met.
	for _, k := range []string{"parts", "meta", "bits", "quantized", "torchscript"} {
		if checked[k] == 0 {
			t.Errorf("no fixture checked %s", k)
		}
	}
}

// sameNumber compares two JSON numbers by value.
func sameNumber(a, b json.RawMessage) bool {
	var x, y float64
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && x == y
}

// tensorRange is the [min, max] of the values of the leaf name of a checkpoint, as
// float64 (a float32 value as the float32 JSON prints).
func tensorRange(t *testing.T, path, name string) (lo, hi float64) {
	t.Helper()
	f, err := pickle.Open(filepath.Clean(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	leaves, err := pickle.Leaves(f.Root)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves {
		if tt, ok := l.Value.(*pickle.Tensor); ok && l.Name == name {
			v, err := tt.Float64s()
			if err != nil || len(v) == 0 {
				t.Fatalf("%s: %v", name, err)
			}
			lo, hi = math.Inf(1), math.Inf(-1)
			for _, x := range v {
				lo, hi = min(lo, x), max(hi, x)
			}
			if tt.DType == pickle.F32 {
				// JSON prints a float32 in its shortest form; read back as float64.
				var r []float64
				json.Unmarshal([]byte(fmt.Sprintf("[%v,%v]", float32(lo), float32(hi))), &r)
				return r[0], r[1]
			}
			return lo, hi
		}
	}
	t.Fatalf("%s has no tensor %s", path, name)
	return
}

// TestInspectGlobalsLine: a file with no pickle (safetensors) has no globals line; a
// pickle that names no global says so.
func TestInspectGlobalsLine(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "model.safetensors")
	if code, _, errs := runCLI(t, "convert", fixtures+"rnn_tanh.pt", "-o", st); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, errs)
	}
	code, out, errs := runCLI(t, "inspect", st)
	if code != 0 || strings.Contains(out, "globals:") {
		t.Errorf("inspect of safetensors: exit %d %s\n%s", code, errs, out)
	}
	var buf strings.Builder
	if err := pickle.Write(&buf, &pickle.Dict{Entries: []pickle.DictEntry{{Key: "epoch", Value: int64(3)}}}, nil); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.pt")
	os.WriteFile(plain, []byte(buf.String()), 0o644)
	code, out, errs = runCLI(t, "inspect", plain)
	if code != 0 || !strings.Contains(out, "\nglobals: none\n") {
		t.Errorf("inspect of a pickle without globals: exit %d %s\n%s", code, errs, out)
	}
}

// TestInspectWhole: inspect shows the whole model around the recurrent module, a line
// a module, and in --json; and says why when it is not known.
func TestInspectWhole(t *testing.T) {
	code, stdout, _ := runCLI(t, "inspect", training+"adam.pt")
	want := []string{
		`whole model at "model_state_dict.lstm." (check, run and bench --whole run it):`,
		"  model_state_dict.embedding.  Embedding(20, 6)",
		"  model_state_dict.lstm.       LSTM(6, 8, num_layers=2)",
		"  model_state_dict.head.       Linear(in_features=8, out_features=5, bias=True)",
	}
	if code != 0 || !strings.Contains(stdout, strings.Join(want, "\n")) {
		t.Errorf("exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "inspect", fixtures+"module_seq_mlp.pt", "--json")
	var inv struct {
		Whole []struct {
			Prefix     string `json:"prefix"`
			Sequential bool   `json:"sequential"`
			Layers     []struct {
				Prefix, Module string
			} `json:"layers"`
		} `json:"whole"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &inv) != nil || len(inv.Whole) != 1 || !inv.Whole[0].Sequential ||
		len(inv.Whole[0].Layers) != 6 || inv.Whole[0].Layers[5].Module != "LogSoftmax(dim=-1)" {
		t.Errorf("--json: %d %+v", code, inv)
	}
	code, stdout, _ = runCLI(t, "inspect", fixtures+"two_heads_whole.pt")
	if code != 0 || !strings.Contains(stdout, `the model around "gru." is not known: several modules fit one place`) {
		t.Errorf("two heads: %d\n%s", code, stdout)
	}
}

// TestInspectFiles: inspect FILE... lists each file in order, a section each; with
// --json one object each, a stream as go list -json prints it, a single file's object
// being what inspect of that file alone prints. A file that cannot be read is reported
// in its place, the others still listed, and the exit status is 2.
func TestInspectFiles(t *testing.T) {
	a, b, missing := fixtures+"rnn_tanh.pt", fixtures+"nested_checkpoint.pt", filepath.Join(t.TempDir(), "missing.pt")
	_, textA, _ := runCLI(t, "inspect", a)
	_, textB, _ := runCLI(t, "inspect", b)
	code, out, errs := runCLI(t, "inspect", a, b)
	if code != 0 || out != textA+"\n"+textB {
		t.Errorf("inspect A B: exit %d %s\n%s", code, errs, out)
	}
	code, out, errs = runCLI(t, "inspect", a, missing, b)
	if code != 2 || out != textA+"\n"+textB || !strings.Contains(errs, "missing.pt: ") || strings.Count(errs, "\n") != 1 {
		t.Errorf("inspect A MISSING B: exit %d\nstderr %q\n%s", code, errs, out)
	}

	_, jsonA, _ := runCLI(t, "inspect", a, "--json")
	_, jsonB, _ := runCLI(t, "inspect", b, "--json")
	code, out, errs = runCLI(t, "inspect", a, missing, b, "--json")
	if code != 2 || errs != "" {
		t.Errorf("--json: exit %d, stderr %q", code, errs)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var objs []map[string]any
	for dec.More() {
		var o map[string]any
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("--json: %v\n%s", err, out)
		}
		objs = append(objs, o)
	}
	if len(objs) != 3 || objs[0]["file"] != a || objs[1]["file"] != missing || objs[1]["error"] == nil || objs[2]["file"] != b {
		t.Errorf("--json: %d objects:\n%s", len(objs), out)
	}
	if !strings.HasPrefix(out, jsonA) || !strings.HasSuffix(out, jsonB) {
		t.Errorf("--json: the objects are not those of each file alone:\n%s", out)
	}
	if code, _, errs := runCLI(t, "inspect", "-", a, "-"); code != 2 || !strings.Contains(errs, "standard input") {
		t.Errorf("- twice: exit %d %s", code, errs)
	}
}
