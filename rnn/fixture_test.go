package rnn

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The fixtures are safetensors files written by testdata/rnn/gen.py (and by
// scripts/rnn_difftest.py): an 8-byte little-endian header length, a JSON header naming
// each tensor's dtype, shape and byte range, and the raw little-endian data. The case's
// configuration is in the header's __metadata__.

type rawTensor struct {
	DType   string `json:"dtype"`
	Shape   []int  `json:"shape"`
	Offsets [2]int `json:"data_offsets"`
	data    []byte
}

type fixture struct {
	name    string
	cfg     Config
	dtype   string   // F32 or F64
	params  []string // state_dict order
	meta    map[string]string
	tensors map[string]*rawTensor
}

// readSafetensors reads a fixture's tensors and metadata.
func readSafetensors(path string) (*fixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("%s: too short", path)
	}
	hl := binary.LittleEndian.Uint64(b)
	if hl > uint64(len(b)-8) {
		return nil, fmt.Errorf("%s: header length %d beyond file", path, hl)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+hl], &hdr); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	data := b[8+hl:]
	f := &fixture{name: filepath.Base(path), tensors: map[string]*rawTensor{}}
	for k, v := range hdr {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &f.meta); err != nil {
				return nil, fmt.Errorf("%s: metadata: %v", path, err)
			}
			continue
		}
		var t rawTensor
		if err := json.Unmarshal(v, &t); err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %v", path, k, err)
		}
		if t.Offsets[0] < 0 || t.Offsets[1] < t.Offsets[0] || t.Offsets[1] > len(data) {
			return nil, fmt.Errorf("%s: tensor %s: bad offsets %v", path, k, t.Offsets)
		}
		t.data = data[t.Offsets[0]:t.Offsets[1]]
		f.tensors[k] = &t
	}
	return f, nil
}

// readFixture reads a fixture of an RNN, LSTM or GRU, with its configuration.
func readFixture(path string) (*fixture, error) {
	f, err := readSafetensors(path)
	if err != nil {
		return nil, err
	}
	m := f.meta
	atoi := func(k string) int {
		v, err := strconv.Atoi(m[k])
		if err != nil {
			panic(fmt.Sprintf("%s: metadata %s=%q", path, k, m[k]))
		}
		return v
	}
	modes := map[string]Mode{"RNN_TANH": RNNTanh, "RNN_RELU": RNNReLU, "LSTM": LSTM, "GRU": GRU}
	mode, ok := modes[m["mode"]]
	if !ok {
		return nil, fmt.Errorf("%s: mode %q", path, m["mode"])
	}
	f.cfg = Config{
		Mode:          mode,
		InputSize:     atoi("input_size"),
		HiddenSize:    atoi("hidden_size"),
		NumLayers:     atoi("num_layers"),
		Bias:          m["bias"] == "true",
		BatchFirst:    m["batch_first"] == "true",
		Bidirectional: m["bidirectional"] == "true",
		ProjSize:      atoi("proj_size"),
	}
	f.dtype = m["dtype"]
	f.params = strings.Split(m["params"], ",")
	return f, nil
}

// values returns tensor name as float64s and its shape; ok is false when absent.
func (f *fixture) values(name string) ([]float64, []int, bool) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, nil, false
	}
	var out []float64
	switch t.DType {
	case "F32":
		for i := 0; i+4 <= len(t.data); i += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(t.data[i:]))))
		}
	case "F64":
		for i := 0; i+8 <= len(t.data); i += 8 {
			out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(t.data[i:])))
		}
	case "I64":
		for i := 0; i+8 <= len(t.data); i += 8 {
			out = append(out, float64(int64(binary.LittleEndian.Uint64(t.data[i:]))))
		}
	default:
		panic("fixture dtype " + t.DType)
	}
	return out, t.Shape, true
}

// int64s returns the I64 tensor name and its shape; ok is false when absent.
func (f *fixture) int64s(name string) ([]int64, []int, bool) {
	t, ok := f.tensors[name]
	if !ok || t.DType != "I64" {
		return nil, nil, false
	}
	out := make([]int64, len(t.data)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.data[8*i:]))
	}
	return out, t.Shape, true
}

// synthParams reproduces gen.py's synth_params: a splitmix64 stream over the parameters in
// order, value = (top 24 bits - 2^23) * 2^(-23-exp).
func synthParams(c Config, seed uint64, exp int) map[string][]float64 {
	out := map[string][]float64{}
	var i uint64
	scale := math.Ldexp(1, -23-exp)
	for _, p := range c.Params() {
		n := 1
		for _, s := range p.Shape {
			n *= s
		}
		v := make([]float64, n)
		for j := range v {
			i++
			z := seed + i*0x9E3779B97F4A7C15
			z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
			z = (z ^ (z >> 27)) * 0x94D049BB133111EB
			z ^= z >> 31
			v[j] = float64(int64(z>>40)-(1<<23)) * scale
		}
		out[p.Name] = v
	}
	return out
}

func convert[T Float](v []float64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}

// fixtureParams returns the parameters of c (with the suffix trim cut from their names,
// for a cell's) in T: gen.py's synth_params when the fixture gives their seed, else the
// fixture's tensors, which must have Params()'s shapes.
func fixtureParams[T Float](t *testing.T, f *fixture, c Config, trim string) map[string][]T {
	t.Helper()
	params := map[string][]T{}
	if seed, ok := f.meta["param_seed"]; ok {
		s, _ := strconv.ParseUint(seed, 10, 64)
		e, _ := strconv.Atoi(f.meta["param_exp"])
		for k, v := range synthParams(c, s, e) {
			params[strings.TrimSuffix(k, trim)] = convert[T](v)
		}
		return params
	}
	for _, p := range c.Params() {
		name := strings.TrimSuffix(p.Name, trim)
		v, shape, ok := f.values(name)
		if !ok {
			t.Fatalf("fixture lacks %s", name)
		}
		if !slices.Equal(shape, p.Shape) {
			t.Fatalf("%s: Params() shape %v, PyTorch's %v", name, p.Shape, shape)
		}
		params[name] = convert[T](v)
	}
	return params
}

// caseResult is the outcome of running one fixture.
type caseResult struct {
	maxAbs float64
	where  string
}

// runFixture builds the fixture's model in T, runs it and returns the largest absolute
// difference from PyTorch's results.
func runFixture[T Float](t *testing.T, f *fixture, o *ops[T]) caseResult {
	t.Helper()
	// The parameter list must be PyTorch's, in PyTorch's order and shapes.
	want := f.cfg.Params()
	var names []string
	for _, p := range want {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, f.params) {
		t.Fatalf("Params() = %v, PyTorch's state_dict has %v", names, f.params)
	}
	params := fixtureParams[T](t, f, f.cfg, "")
	m, err := New(f.cfg, params)
	if err != nil {
		t.Fatal(err)
	}
	m = build(f.cfg, params, o)
	tensor := func(name string) *Tensor[T] {
		v, shape, ok := f.values(name)
		if !ok {
			return nil
		}
		return &Tensor[T]{Data: convert[T](v), Shape: shape}
	}
	res, err := m.Forward(tensor("input"), tensor("h0"), tensor("c0"))
	if err != nil {
		t.Fatal(err)
	}
	var r caseResult
	cmp := func(name string, got *Tensor[T]) {
		want, shape, ok := f.values(name)
		if !ok {
			if got != nil {
				t.Errorf("%s returned but PyTorch has none", name)
			}
			return
		}
		if got == nil {
			t.Fatalf("%s missing", name)
		}
		if !slices.Equal(got.Shape, shape) {
			t.Fatalf("%s shape %v, PyTorch's %v", name, got.Shape, shape)
		}
		for i, w := range want {
			g := float64(got.Data[i])
			d := math.Abs(g - w)
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			if d > r.maxAbs {
				r.maxAbs = d
				r.where = fmt.Sprintf("%s[%d] = %v, PyTorch %v", name, i, g, w)
			}
		}
	}
	cmp("output", res.Output)
	cmp("h_n", res.H)
	cmp("c_n", res.C)
	return r
}

// bound is the largest absolute error allowed against PyTorch.
func bound(dtype string, hidden int) float64 {
	if dtype == "F64" {
		return 1e-12
	}
	if hidden <= 64 {
		return 1e-6
	}
	return 2e-6
}

// casesDir is the folder of cases TestDifferential reads: $PTPORT_RNN_CASES, or the
// committed fixtures.
func casesDir() string {
	if d := os.Getenv("PTPORT_RNN_CASES"); d != "" {
		return d
	}
	return filepath.Join("..", "testdata", "rnn")
}

func loadFixtures(t *testing.T, dir string) []*fixture {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no cases in %s", dir)
	}
	var fs []*fixture
	for _, p := range files {
		f, err := readFixture(p)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	return fs
}

// TestDifferential runs every case of casesDir() with every kernel set this machine has
// and compares with PyTorch's results within bound(): 1e-6 in float32 up to hidden 64,
// 2e-6 above, 1e-12 in float64.
func TestDifferential(t *testing.T) {
	dir := casesDir()
	fs := loadFixtures(t, dir)
	type key struct{ dtype, ops string }
	worst := map[key]caseResult{}
	worstName := map[key]string{}
	var keys []key
	check := func(t *testing.T, f *fixture, ops string, r caseResult) {
		if b := bound(f.dtype, f.cfg.HiddenSize); r.maxAbs > b {
			t.Errorf("%+v: max abs error %.3g > %.0g at %s", f.cfg, r.maxAbs, b, r.where)
		}
		k := key{f.dtype, ops}
		if _, ok := worst[k]; !ok {
			keys = append(keys, k)
		}
		if r.maxAbs >= worst[k].maxAbs {
			worst[k] = r
			worstName[k] = f.name
		}
	}
	for _, f := range fs {
		name := strings.TrimSuffix(f.name, ".safetensors")
		switch f.dtype {
		case "F32":
			for _, o := range allOps[float32]() {
				t.Run(name+"/"+o.name, func(t *testing.T) { check(t, f, o.name, runFixture(t, f, o)) })
			}
		case "F64":
			for _, o := range allOps[float64]() {
				t.Run(name+"/"+o.name, func(t *testing.T) { check(t, f, o.name, runFixture(t, f, o)) })
			}
		default:
			t.Fatalf("%s: dtype %q", f.name, f.dtype)
		}
	}
	for _, k := range keys {
		w := worst[k]
		t.Logf("%s %s kernels: worst max abs error %.3g over %d cases in %s (%s: %s)", k.dtype, k.ops, w.maxAbs, len(fs), dir, worstName[k], w.where)
	}
}

// TestFixtureCoverage checks that the committed fixtures are the covering design gen.py
// claims: every mode × dtype × layout, and every pair of values of any two factors.
func TestFixtureCoverage(t *testing.T) {
	fs := loadFixtures(t, filepath.Join("..", "testdata", "rnn"))
	factors := []struct {
		name   string
		values []string
	}{
		{"mode", []string{"tanh", "relu", "lstm", "lstmproj", "gru"}},
		{"layers", []string{"1", "2", "3"}},
		{"dir", []string{"uni", "bi"}},
		{"bias", []string{"bias", "nobias"}},
		{"layout", []string{"seq_first", "batch_first", "unbatched"}},
		{"seq", []string{"1", "7", "50"}},
		{"batch", []string{"1", "3"}},
		{"dtype", []string{"F32", "F64"}},
		{"h0", []string{"h0", "noh0"}},
	}
	describe := func(f *fixture) []string {
		c := f.cfg
		mode := map[Mode]string{RNNTanh: "tanh", RNNReLU: "relu", LSTM: "lstm", GRU: "gru"}[c.Mode]
		if c.ProjSize > 0 {
			mode = "lstmproj"
		}
		dir, bias, h0 := "uni", "nobias", "noh0"
		if c.Bidirectional {
			dir = "bi"
		}
		if c.Bias {
			bias = "bias"
		}
		if _, ok := f.tensors["h0"]; ok {
			h0 = "h0"
		}
		shape := f.tensors["input"].Shape
		layout, seq, batch := "seq_first", shape[0], 1
		switch {
		case len(shape) == 2:
			layout = "unbatched"
		case c.BatchFirst:
			layout, seq, batch = "batch_first", shape[1], shape[0]
		default:
			batch = shape[1]
		}
		return []string{mode, fmt.Sprint(c.NumLayers), dir, bias, layout, fmt.Sprint(seq), fmt.Sprint(batch), f.dtype, h0}
	}
	seen := map[string]bool{}
	n := 0
	for _, f := range fs {
		if !strings.HasPrefix(f.name, "cover_") {
			continue
		}
		n++
		d := describe(f)
		seen["triple "+d[0]+" "+d[7]+" "+d[4]] = true
		for a := range d {
			for b := a + 1; b < len(d); b++ {
				seen[fmt.Sprint(a, d[a], b, d[b])] = true
			}
		}
	}
	for _, m := range factors[0].values {
		for _, dt := range factors[7].values {
			for _, l := range factors[4].values {
				if !seen["triple "+m+" "+dt+" "+l] {
					t.Errorf("no case for %s %s %s", m, dt, l)
				}
			}
		}
	}
	for a := range factors {
		for b := a + 1; b < len(factors); b++ {
			for _, va := range factors[a].values {
				for _, vb := range factors[b].values {
					if factors[a].name == "batch" && va == "3" && vb == "unbatched" || factors[b].name == "batch" && vb == "3" && va == "unbatched" {
						continue
					}
					if !seen[fmt.Sprint(a, va, b, vb)] {
						t.Errorf("no case with %s=%s and %s=%s", factors[a].name, va, factors[b].name, vb)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no cover_ fixtures")
	}
}
