package rnn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The fixtures of testdata/rnn/cells and testdata/rnn/layers are written by
// testdata/rnn/gen_layers.py from PyTorch; see its doc comment for their contents.

// layerDesc is one layer of a layers fixture: the PyTorch class and its arguments.
type layerDesc struct {
	Type string `json:"type"`
	// Embedding
	NumEmbeddings int      `json:"num_embeddings"`
	EmbeddingDim  int      `json:"embedding_dim"`
	PaddingIdx    *int     `json:"padding_idx"`
	MaxNorm       *float64 `json:"max_norm"`
	NormType      float64  `json:"norm_type"`
	// Linear
	InFeatures  int  `json:"in_features"`
	OutFeatures int  `json:"out_features"`
	Bias        bool `json:"bias"`
	// LayerNorm
	NormalizedShape   []int   `json:"normalized_shape"`
	Eps               float64 `json:"eps"`
	ElementwiseAffine bool    `json:"elementwise_affine"`
	// Dropout, Softmax, LogSoftmax
	P   float64 `json:"p"`
	Dim int     `json:"dim"`
	// RNN, LSTM, GRU and the cells
	Mode          string `json:"mode"`
	InputSize     int    `json:"input_size"`
	HiddenSize    int    `json:"hidden_size"`
	NumLayers     int    `json:"num_layers"`
	BatchFirst    bool   `json:"batch_first"`
	Bidirectional bool   `json:"bidirectional"`
	ProjSize      int    `json:"proj_size"`
}

var modes = map[string]Mode{"RNN_TANH": RNNTanh, "RNN_RELU": RNNReLU, "LSTM": LSTM, "GRU": GRU}

// buildLayer builds a layer with the kernel set o from its description and its
// parameters (their names without the layer's prefix).
func buildLayer[T Float](d layerDesc, params map[string][]T, o *ops[T]) (Layer[T], error) {
	switch d.Type {
	case "Embedding":
		c := EmbeddingConfig{NumEmbeddings: d.NumEmbeddings, EmbeddingDim: d.EmbeddingDim, PaddingIdx: d.PaddingIdx, NormType: d.NormType}
		if d.MaxNorm != nil {
			c.MaxNorm = *d.MaxNorm
		}
		return NewEmbedding(c, params)
	case "Linear":
		c := LinearConfig{InFeatures: d.InFeatures, OutFeatures: d.OutFeatures, Bias: d.Bias}
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if err := checkParams(c.Params(), params); err != nil {
			return nil, err
		}
		return newLinear(c, params, o), nil
	case "LayerNorm":
		return NewLayerNorm(LayerNormConfig{NormalizedShape: d.NormalizedShape, Eps: d.Eps, ElementwiseAffine: d.ElementwiseAffine, Bias: d.Bias}, params)
	case "Dropout":
		return NewDropout[T](d.P)
	case "Tanh", "ReLU", "Sigmoid", "Softmax", "LogSoftmax":
		f := map[string]ActivationFunc{"Tanh": Tanh, "ReLU": ReLU, "Sigmoid": Sigmoid, "Softmax": Softmax, "LogSoftmax": LogSoftmax}[d.Type]
		a, err := NewActivation[T](f, d.Dim)
		if err != nil {
			return nil, err
		}
		a.o = o
		return a, nil
	case "RNN", "LSTM", "GRU":
		c := Config{Mode: modes[d.Mode], InputSize: d.InputSize, HiddenSize: d.HiddenSize, NumLayers: d.NumLayers,
			Bias: d.Bias, BatchFirst: d.BatchFirst, Bidirectional: d.Bidirectional, ProjSize: d.ProjSize}
		if _, err := New(c, params); err != nil {
			return nil, err
		}
		return build(c, params, o), nil
	case "RNNCell", "LSTMCell", "GRUCell":
		c := CellConfig{Mode: modes[d.Mode], InputSize: d.InputSize, HiddenSize: d.HiddenSize, Bias: d.Bias}
		if _, err := NewCell(c, params); err != nil {
			return nil, err
		}
		return newCell(c, params, o), nil
	}
	return nil, fmt.Errorf("layer type %q", d.Type)
}

// layersCase is a layers fixture built with one kernel set.
type layersCase[T Float] struct {
	seq   *Sequential[T]
	descs []layerDesc
	x     *Tensor[T]
	ids   *Tensor[int64]
}

func buildLayersCase[T Float](t *testing.T, f *fixture, o *ops[T]) layersCase[T] {
	t.Helper()
	var lc layersCase[T]
	if err := json.Unmarshal([]byte(f.meta["layers"]), &lc.descs); err != nil {
		t.Fatal(err)
	}
	var layers []Layer[T]
	for i, d := range lc.descs {
		params := map[string][]T{}
		prefix := fmt.Sprintf("%d.", i)
		for name := range f.tensors {
			if rest, ok := strings.CutPrefix(name, prefix); ok {
				v, _, _ := f.values(name)
				params[rest] = convert[T](v)
			}
		}
		l, err := buildLayer(d, params, o)
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		layers = append(layers, l)
	}
	var err error
	if lc.seq, err = NewSequential(layers...); err != nil {
		t.Fatal(err)
	}
	if ids, shape, ok := f.int64s("input"); ok {
		lc.ids = &Tensor[int64]{Data: ids, Shape: shape}
	} else {
		v, shape, _ := f.values("input")
		lc.x = &Tensor[T]{Data: convert[T](v), Shape: shape}
	}
	return lc
}

func (lc layersCase[T]) forward() (*Tensor[T], error) {
	if lc.ids != nil {
		return lc.seq.ForwardIndices(lc.ids)
	}
	return lc.seq.Forward(lc.x)
}

// compareWith returns the largest absolute difference of got from the fixture's tensor
// name, and where it is; shapes must agree.
func compareWith[T Float](t *testing.T, f *fixture, name string, got *Tensor[T]) caseResult {
	t.Helper()
	want, shape, ok := f.values(name)
	if !ok {
		t.Fatalf("fixture has no %s", name)
	}
	if got == nil || !slices.Equal(got.Shape, shape) {
		t.Fatalf("%s: shape %v, PyTorch's %v", name, got.Shape, shape)
	}
	var r caseResult
	for i, w := range want {
		d := math.Abs(float64(got.Data[i]) - w)
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		if d > r.maxAbs || i == 0 {
			r.maxAbs = d
			r.where = fmt.Sprintf("%s[%d] = %v, PyTorch %v", name, i, got.Data[i], w)
		}
	}
	return r
}

// timeAxis returns the dimension of time in the input of a layers case (the first
// recurrent network's layout), or -1 when it has no recurrent network.
func (lc layersCase[T]) timeAxis() int {
	nd := 0
	if lc.ids != nil {
		nd = len(lc.ids.Shape) + 1
	} else {
		nd = len(lc.x.Shape)
	}
	for _, l := range lc.seq.layers {
		if m, ok := l.(*Model[T]); ok {
			if m.cfg.BatchFirst && nd == 3 {
				return 1
			}
			return 0
		}
	}
	return -1
}

// sliceAxis returns elements [i0, i1) of dimension axis of x, in a new tensor.
func sliceAxis[E Elem](x *Tensor[E], axis, i0, i1 int) *Tensor[E] {
	outer, inner := 1, 1
	for _, s := range x.Shape[:axis] {
		outer *= s
	}
	for _, s := range x.Shape[axis+1:] {
		inner *= s
	}
	n := x.Shape[axis]
	shape := slices.Clone(x.Shape)
	shape[axis] = i1 - i0
	var data []E
	for o := 0; o < outer; o++ {
		data = append(data, x.Data[(o*n+i0)*inner:(o*n+i1)*inner]...)
	}
	return &Tensor[E]{Data: data, Shape: shape}
}

// concatAxis joins tensors along dimension axis.
func concatAxis[E Elem](parts []*Tensor[E], axis int) *Tensor[E] {
	shape := slices.Clone(parts[0].Shape)
	shape[axis] = 0
	for _, p := range parts {
		shape[axis] += p.Shape[axis]
	}
	outer := 1
	for _, s := range shape[:axis] {
		outer *= s
	}
	var data []E
	for o := 0; o < outer; o++ {
		for _, p := range parts {
			n := len(p.Data) / outer
			data = append(data, p.Data[o*n:(o+1)*n]...)
		}
	}
	return &Tensor[E]{Data: data, Shape: shape}
}

// stream runs a layers case through a Stream in parts of the given lengths along its time
// axis (the whole input in one Step when it has none) and returns the joined outputs.
func (lc layersCase[T]) stream(parts []int) (*Tensor[T], error) {
	axis := lc.timeAxis()
	n := 1
	var L int
	if lc.ids != nil {
		if len(lc.ids.Shape) == 2 {
			n = lc.ids.Shape[1-max(axis, 0)]
		}
		if axis >= 0 {
			L = lc.ids.Shape[axis]
		}
	} else {
		if len(lc.x.Shape) == 3 {
			n = lc.x.Shape[1-max(axis, 0)]
		}
		if axis >= 0 {
			L = lc.x.Shape[axis]
		}
	}
	if axis < 0 {
		// Cells or no recurrent layer: the batch is the first dimension, if any.
		parts = nil
		if lc.ids != nil && len(lc.ids.Shape) > 0 {
			n = lc.ids.Shape[0]
		} else if lc.x != nil && len(lc.x.Shape) > 1 {
			n = lc.x.Shape[0]
		}
	}
	st, err := lc.seq.NewStream(n)
	if err != nil {
		return nil, err
	}
	if parts == nil {
		y, err := lc.step(st, lc.x, lc.ids)
		if err != nil {
			return nil, err
		}
		return &Tensor[T]{Data: slices.Clone(y.Data), Shape: slices.Clone(y.Shape)}, nil
	}
	var outs []*Tensor[T]
	for t0, i := 0, 0; t0 < L; i++ {
		t1 := min(L, t0+parts[i%len(parts)])
		var y *Tensor[T]
		if lc.ids != nil {
			y, err = lc.step(st, nil, sliceAxis(lc.ids, axis, t0, t1))
		} else {
			y, err = lc.step(st, sliceAxis(lc.x, axis, t0, t1), nil)
		}
		if err != nil {
			return nil, err
		}
		outs = append(outs, &Tensor[T]{Data: slices.Clone(y.Data), Shape: slices.Clone(y.Shape)})
		t0 = t1
	}
	return concatAxis(outs, axis), nil
}

func (lc layersCase[T]) step(st *Stream[T], x *Tensor[T], ids *Tensor[int64]) (*Tensor[T], error) {
	if ids != nil {
		return st.StepIndices(ids)
	}
	return st.Step(x)
}

// eachKernelSet runs a case with every kernel set of its dtype (F32 or F64), a subtest
// each, requires its error within limit, and keeps the worst result by dtype and kernel
// set in worst.
func eachKernelSet(t *testing.T, name, dtype string, limit float64, worst map[string]caseResult,
	check32 func(*testing.T, *ops[float32]) caseResult, check64 func(*testing.T, *ops[float64]) caseResult) {
	record := func(t *testing.T, opsName string, r caseResult) {
		if r.maxAbs > limit {
			t.Errorf("max abs error %.3g > %.0g at %s", r.maxAbs, limit, r.where)
		}
		k := dtype + " " + opsName
		if w, ok := worst[k]; !ok || r.maxAbs >= w.maxAbs {
			r.where = name + ": " + r.where
			worst[k] = r
		}
	}
	switch dtype {
	case "F32":
		for _, o := range allOps[float32]() {
			t.Run(name+"/"+o.name, func(t *testing.T) { record(t, o.name, check32(t, o)) })
		}
	case "F64":
		for _, o := range allOps[float64]() {
			t.Run(name+"/"+o.name, func(t *testing.T) { record(t, o.name, check64(t, o)) })
		}
	default:
		t.Fatalf("%s: dtype %q", name, dtype)
	}
}

// TestLayersDifferential runs every case of testdata/rnn/layers with every kernel set and
// compares with PyTorch within bound(); a case that can be streamed is also run through a
// Stream in parts, which must give Forward's result to the bit.
func TestLayersDifferential(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "rnn", "layers", "*.safetensors"))
	if len(files) == 0 {
		t.Fatal("no layers fixtures")
	}
	sort.Strings(files)
	worst := map[string]caseResult{}
	seen := map[string]bool{}
	for _, path := range files {
		f, err := readSafetensors(path)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(path), ".safetensors")
		width, _ := strconv.Atoi(f.meta["width"])
		eachKernelSet(t, name, f.meta["dtype"], bound(f.meta["dtype"], width), worst,
			func(t *testing.T, o *ops[float32]) caseResult { return checkLayersCase(t, f, o, seen) },
			func(t *testing.T, o *ops[float64]) caseResult { return checkLayersCase(t, f, o, seen) })
	}
	var keys []string
	for k := range worst {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%s kernels: worst max abs error %.3g (%s)", k, worst[k].maxAbs, worst[k].where)
	}
	// The fixtures cover every layer type and the ways of streaming.
	for _, want := range []string{"Embedding", "Linear", "LayerNorm", "Dropout", "Tanh", "ReLU", "Sigmoid", "Softmax",
		"LogSoftmax", "RNN", "LSTM", "GRU", "LSTMCell", "streamed", "not streamable"} {
		if !seen[want] {
			t.Errorf("no layers fixture has %s", want)
		}
	}
}

func checkLayersCase[T Float](t *testing.T, f *fixture, o *ops[T], seen map[string]bool) caseResult {
	lc := buildLayersCase(t, f, o)
	for _, d := range lc.descs {
		seen[d.Type] = true
	}
	y, err := lc.forward()
	if err != nil {
		t.Fatal(err)
	}
	r := compareWith(t, f, "output", y)
	s, err := lc.stream([]int{1, 3, 2})
	switch {
	case errors.Is(err, ErrNotStreamable):
		seen["not streamable"] = true
		return r
	case err != nil:
		t.Fatal(err)
	}
	seen["streamed"] = true
	if !slices.Equal(s.Shape, y.Shape) || !slices.Equal(s.Data, y.Data) {
		t.Errorf("streamed output (shape %v) differs from Forward's (%v) by %g", s.Shape, y.Shape, maxDiff(s.Data, y.Data))
	}
	return r
}

// TestCellsDifferential runs every case of testdata/rnn/cells with every kernel set: the
// cell's Forward, step after step, against PyTorch within bound(), and a State stepping
// the same sequence, which must give the same values to the bit.
func TestCellsDifferential(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "rnn", "cells", "*.safetensors"))
	if len(files) == 0 {
		t.Fatal("no cell fixtures")
	}
	sort.Strings(files)
	worst := map[string]caseResult{}
	for _, path := range files {
		f, err := readSafetensors(path)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(path), ".safetensors")
		var d layerDesc
		if err := json.Unmarshal([]byte(f.meta["cell"]), &d); err != nil {
			t.Fatal(err)
		}
		c := CellConfig{Mode: modes[d.Mode], InputSize: d.InputSize, HiddenSize: d.HiddenSize, Bias: d.Bias}
		eachKernelSet(t, name, f.meta["dtype"], bound(f.meta["dtype"], c.HiddenSize), worst,
			func(t *testing.T, o *ops[float32]) caseResult { return checkCellCase(t, f, c, o) },
			func(t *testing.T, o *ops[float64]) caseResult { return checkCellCase(t, f, c, o) })
	}
	for k, w := range worst {
		t.Logf("%s kernels: worst max abs error %.3g (%s)", k, w.maxAbs, w.where)
	}
}

func checkCellCase[T Float](t *testing.T, f *fixture, c CellConfig, o *ops[T]) caseResult {
	params := fixtureParams[T](t, f, c.model(), "_l0")
	if _, err := NewCell(c, params); err != nil {
		t.Fatal(err)
	}
	cell := newCell(c, params, o)
	tensor := func(name string) *Tensor[T] {
		v, shape, ok := f.values(name)
		if !ok {
			return nil
		}
		return &Tensor[T]{Data: convert[T](v), Shape: shape}
	}
	x, h, cx := tensor("input"), tensor("h0"), tensor("c0")
	if f.meta["stepped"] != "true" {
		hy, cy, err := cell.Forward(x, h, cx)
		if err != nil {
			t.Fatal(err)
		}
		r := compareWith(t, f, "h", hy)
		if c.Mode == LSTM {
			if rc := compareWith(t, f, "c", cy); rc.maxAbs > r.maxAbs {
				r = rc
			}
		}
		return r
	}
	L := x.Shape[0]
	stepShape := x.Shape[1:]
	n := 1
	if len(stepShape) == 2 {
		n = stepShape[0]
	}
	st, err := cell.NewState(n)
	if err != nil {
		t.Fatal(err)
	}
	if h != nil {
		copy(st.H().Data, h.Data)
	}
	if cx != nil {
		copy(st.C().Data, cx.Data)
	}
	var hs, cs []*Tensor[T]
	per := len(x.Data) / L
	for s := 0; s < L; s++ {
		xt := &Tensor[T]{Data: x.Data[s*per : (s+1)*per], Shape: stepShape}
		var err error
		if h, cx, err = cell.Forward(xt, h, cx); err != nil {
			t.Fatal(err)
		}
		y, err := st.Step(xt)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(y.Data, h.Data) || !slices.Equal(st.H().Data, h.Data) || cx != nil && !slices.Equal(st.C().Data, cx.Data) {
			t.Fatalf("step %d: State.Step differs from Forward by %g", s, maxDiff(y.Data, h.Data))
		}
		hs = append(hs, &Tensor[T]{Data: h.Data, Shape: append([]int{1}, h.Shape...)})
		if cx != nil {
			cs = append(cs, &Tensor[T]{Data: cx.Data, Shape: append([]int{1}, cx.Shape...)})
		}
	}
	r := compareWith(t, f, "h", concatAxis(hs, 0))
	if c.Mode == LSTM {
		if rc := compareWith(t, f, "c", concatAxis(cs, 0)); rc.maxAbs > r.maxAbs {
			r = rc
		}
	}
	return r
}

// TestStreamDifferential steps every unidirectional case of testdata/rnn (the covering
// design and the large cases) through a State in parts of 1, 3 and 2 steps and compares
// with PyTorch's Forward within bound(), and with Forward in Go to the bit.
func TestStreamDifferential(t *testing.T) {
	fs := loadFixtures(t, filepath.Join("..", "testdata", "rnn"))
	n := 0
	var worst [2]caseResult
	for _, f := range fs {
		if f.cfg.Bidirectional {
			continue
		}
		n++
		name := strings.TrimSuffix(f.name, ".safetensors")
		switch f.dtype {
		case "F32":
			for _, o := range allOps[float32]() {
				t.Run(name+"/"+o.name, func(t *testing.T) { worst[0] = worse(worst[0], streamFixture(t, f, o)) })
			}
		case "F64":
			for _, o := range allOps[float64]() {
				t.Run(name+"/"+o.name, func(t *testing.T) { worst[1] = worse(worst[1], streamFixture(t, f, o)) })
			}
		}
	}
	if n == 0 {
		t.Fatal("no unidirectional fixtures")
	}
	t.Logf("worst max abs error of %d streamed cases: float32 %.3g, float64 %.3g", n, worst[0].maxAbs, worst[1].maxAbs)
}

func worse(a, b caseResult) caseResult {
	if b.maxAbs > a.maxAbs {
		return b
	}
	return a
}

func streamFixture[T Float](t *testing.T, f *fixture, o *ops[T]) caseResult {
	params := fixtureParams[T](t, f, f.cfg, "")
	m := build(f.cfg, params, o)
	tensor := func(name string) *Tensor[T] {
		v, shape, ok := f.values(name)
		if !ok {
			return nil
		}
		return &Tensor[T]{Data: convert[T](v), Shape: shape}
	}
	x, h0, c0 := tensor("input"), tensor("h0"), tensor("c0")
	want, err := m.Forward(x, h0, c0)
	if err != nil {
		t.Fatal(err)
	}
	axis, n := 0, 1
	if len(x.Shape) == 3 {
		n = x.Shape[1]
		if f.cfg.BatchFirst {
			axis, n = 1, x.Shape[0]
		}
	}
	st, err := m.NewState(n)
	if err != nil {
		t.Fatal(err)
	}
	if h0 != nil {
		copy(st.H().Data, h0.Data)
	}
	if c0 != nil {
		copy(st.C().Data, c0.Data)
	}
	var outs []*Tensor[T]
	L := x.Shape[axis]
	for t0, i := 0, 0; t0 < L; i++ {
		t1 := min(L, t0+[]int{1, 3, 2}[i%3])
		y, err := st.Step(sliceAxis(x, axis, t0, t1))
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, &Tensor[T]{Data: slices.Clone(y.Data), Shape: slices.Clone(y.Shape)})
		t0 = t1
	}
	y := concatAxis(outs, axis)
	if !slices.Equal(y.Data, want.Output.Data) || !slices.Equal(st.H().Data, want.H.Data) || c0 != nil && !slices.Equal(st.C().Data, want.C.Data) {
		t.Errorf("stepped results differ from Forward's by %g", maxDiff(y.Data, want.Output.Data))
	}
	r := compareWith(t, f, "output", y)
	if b := bound(f.dtype, f.cfg.HiddenSize); r.maxAbs > b {
		t.Errorf("max abs error %.3g > %.0g at %s", r.maxAbs, b, r.where)
	}
	hn := &Tensor[T]{Data: st.H().Data, Shape: want.H.Shape} // unbatched h_n has no batch dimension
	if rh := compareWith(t, f, "h_n", hn); rh.maxAbs > bound(f.dtype, f.cfg.HiddenSize) {
		t.Errorf("h_n: max abs error %.3g at %s", rh.maxAbs, rh.where)
	}
	return r
}
