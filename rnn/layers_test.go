package rnn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestLayerErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	emb, err := NewEmbedding(EmbeddingConfig{NumEmbeddings: 5, EmbeddingDim: 3}, map[string][]float32{"weight": make([]float32, 15)})
	if err != nil {
		t.Fatal(err)
	}
	lc := LinearConfig{InFeatures: 3, OutFeatures: 4, Bias: true}
	lin, err := NewLinear(lc, map[string][]float32{"weight": make([]float32, 12), "bias": make([]float32, 4)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := NewLayerNorm[float32](LayerNormConfig{NormalizedShape: []int{3, 4}, Eps: 1e-5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sm, _ := NewActivation[float32](Softmax, 3)
	z := func(s ...int) *Tensor[float32] { return newTensor[float32](s...) }
	ids := func(v ...int64) *Tensor[int64] { return &Tensor[int64]{Data: v, Shape: []int{len(v)}} }
	for _, tc := range []struct {
		run func() error
		msg string
	}{
		{func() error { _, err := emb.Forward(ids(1, 5)); return err }, "index 5 at position 1 is out of range [0, 5)"},
		{func() error { _, err := emb.Forward(ids(-1)); return err }, "index -1 at position 0"},
		{func() error { _, err := emb.Forward(nil); return err }, "indices is nil"},
		{func() error { _, err := lin.Forward(z(2, 5)); return err }, "mat1 and mat2 shapes cannot be multiplied (2x5 and 3x4)"},
		{func() error { _, err := lin.Forward(z(2, 2, 5)); return err }, "(4x5 and 3x4)"},
		{func() error { _, err := lin.Forward(z()); return err }, "at least 1 dimension"},
		{func() error { _, err := ln.Forward(z(2, 4, 3)); return err }, "Given normalized_shape=[3, 4], expected input with shape [*, 3, 4], but got input of size[2, 4, 3]"},
		{func() error { _, err := sm.Forward(z(2, 3)); return err }, "Dimension out of range (expected to be in range of [-2, 1], but got 3)"},
		{func() error { _, err := NewActivation[float32](Tanh, 1); return err }, "Tanh has no dimension"},
		{func() error { _, err := NewActivation[float32](ActivationFunc(9), 0); return err }, "unknown activation"},
		{func() error { _, err := NewDropout[float32](1.5); return err }, "between 0 and 1"},
		{func() error { _, err := NewDropout[float32](math.NaN()); return err }, "between 0 and 1"},
		{func() error {
			_, err := NewEmbedding(EmbeddingConfig{NumEmbeddings: 5, EmbeddingDim: 3, PaddingIdx: new(5)}, map[string][]float32{"weight": make([]float32, 15)})
			return err
		}, "padding_idx must be within num_embeddings"},
		{func() error {
			_, err := NewEmbedding(EmbeddingConfig{NumEmbeddings: 5, EmbeddingDim: 3}, map[string][]float32{"weight": make([]float32, 14)})
			return err
		}, "weight has 14 values, shape (5, 3) needs 15"},
		{func() error { _, err := NewLinear(lc, map[string][]float32{"weight": make([]float32, 12)}); return err }, "missing parameter bias (4,)"},
		{func() error {
			_, err := NewLayerNorm(LayerNormConfig{NormalizedShape: []int{4}, ElementwiseAffine: true, Bias: true}, map[string][]float32{"weight": make([]float32, 4)})
			return err
		}, "missing parameter bias (4,)"},
		{func() error { _, err := NewLayerNorm[float32](LayerNormConfig{}, nil); return err }, "normalized_shape must have 1 to 8"},
		{func() error {
			_, err := NewLinear(LinearConfig{InFeatures: 0, OutFeatures: 1}, map[string][]float32{})
			return err
		}, "in_features"},
	} {
		if err := tc.run(); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("error %v, want one containing %q", err, tc.msg)
		}
	}
	// Empty inputs give empty outputs, and a 0-D input is one value.
	if y, err := lin.Forward(z(0, 3)); err != nil || !slices.Equal(y.Shape, []int{0, 4}) {
		t.Errorf("Linear of (0, 3): %v %v", y, err)
	}
	if y, err := emb.Forward(&Tensor[int64]{Data: []int64{2}, Shape: []int{}}); err != nil || !slices.Equal(y.Shape, []int{3}) {
		t.Errorf("Embedding of a 0-D index: %v %v", y, err)
	}
	sm0, _ := NewActivation[float32](Softmax, -1)
	if y, err := sm0.Forward(&Tensor[float32]{Data: []float32{3}, Shape: []int{}}); err != nil || len(y.Shape) != 0 || y.Data[0] != 1 {
		t.Errorf("Softmax of a 0-D tensor: %v %v", y, err)
	}
	// Dropout is the identity: it returns its input.
	d, _ := NewDropout[float32](0.5)
	x := randomTensor[float32](rng, 2, 3)
	if y, _ := d.Forward(x); y != x {
		t.Error("Dropout did not return its input")
	}
}

// TestLinearRows checks that a row's result does not depend on the other rows computed
// with it: 1, 2 or 7 rows at a time give the same bits.
func TestLinearRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	c := LinearConfig{InFeatures: 37, OutFeatures: 21, Bias: true}
	for _, o := range allOps[float32]() {
		w := randomTensor[float32](rng, 21, 37)
		b := randomTensor[float32](rng, 21)
		l := newLinear(c, map[string][]float32{"weight": w.Data, "bias": b.Data}, o)
		x := randomTensor[float32](rng, 7, 37)
		all, err := l.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 2} {
			for i := 0; i+n <= 7; i += n {
				part, err := l.Forward(&Tensor[float32]{Data: x.Data[i*37 : (i+n)*37], Shape: []int{n, 37}})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(part.Data, all.Data[i*21:(i+n)*21]) {
					t.Errorf("%s: rows [%d, %d) alone differ from all rows by %g", o.name, i, i+n, maxDiff(part.Data, all.Data[i*21:(i+n)*21]))
				}
			}
		}
	}
}

func TestSequentialErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	emb, _ := NewEmbedding(EmbeddingConfig{NumEmbeddings: 5, EmbeddingDim: 3}, map[string][]float32{"weight": make([]float32, 15)})
	lc := LinearConfig{InFeatures: 4, OutFeatures: 2}
	lin, _ := NewLinear(lc, map[string][]float32{"weight": make([]float32, 8)})
	gc := Config{Mode: GRU, InputSize: 3, HiddenSize: 4, NumLayers: 1, Bias: true}
	gru, _ := New(gc, randomParams[float32](gc, rng))
	bc := gc
	bc.Bidirectional = true
	bi, _ := New(bc, randomParams[float32](bc, rng))
	tanh, _ := NewActivation[float32](Tanh, 0)
	for _, tc := range []struct {
		layers []Layer[float32]
		msg    string
	}{
		{nil, "at least one layer"},
		{[]Layer[float32]{gru, emb}, "layer 1 is an Embedding"},
		{[]Layer[float32]{emb, lin}, "layer 1, Linear(in_features=4, out_features=2, bias=False), takes 4 features, but layer 0, Embedding(5, 3), gives 3"},
		{[]Layer[float32]{emb, tanh, lin}, "layer 0, Embedding(5, 3), gives 3"},
		{[]Layer[float32]{emb, nil}, "layer 1 is nil"},
		// A nil pointer of each layer type is nil too, and a zero value is not a layer.
		{[]Layer[float32]{(*Model[float32])(nil)}, "layer 0 is nil"},
		{[]Layer[float32]{(*Cell[float32])(nil)}, "layer 0 is nil"},
		{[]Layer[float32]{(*Linear[float32])(nil)}, "layer 0 is nil"},
		{[]Layer[float32]{(*Embedding[float32])(nil)}, "layer 0 is nil"},
		{[]Layer[float32]{(*LayerNorm[float32])(nil)}, "layer 0 is nil"},
		{[]Layer[float32]{(*Dropout[float32])(nil)}, "layer 0 is nil"},
		{[]Layer[float32]{gru, (*Activation[float32])(nil)}, "layer 1 is nil"},
		{[]Layer[float32]{new(Model[float32])}, "layer 0, a zero *rnn.Model[float32], was not made by its constructor"},
		{[]Layer[float32]{new(Cell[float32])}, "layer 0, a zero *rnn.Cell[float32]"},
		{[]Layer[float32]{new(Linear[float32])}, "layer 0, a zero *rnn.Linear[float32]"},
		{[]Layer[float32]{new(Embedding[float32])}, "layer 0, a zero *rnn.Embedding[float32]"},
		{[]Layer[float32]{new(LayerNorm[float32])}, "layer 0, a zero *rnn.LayerNorm[float32]"},
		{[]Layer[float32]{gru, new(Activation[float32])}, "layer 1, a zero *rnn.Activation[float32]"},
	} {
		if _, err := NewSequential(tc.layers...); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: %v, want an error containing %q", tc.layers, err, tc.msg)
		}
	}
	s, err := NewSequential[float32](emb, gru, tanh, lin)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "Sequential(Embedding(5, 3), GRU(3, 4), Tanh(), Linear(in_features=4, out_features=2, bias=False))"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	if l := s.Layers(); len(l) != 4 || l[1] != Layer[float32](gru) {
		t.Errorf("Layers() = %v", l)
	}
	if _, err := s.Forward(newTensor[float32](2, 3)); err == nil || !strings.Contains(err.Error(), "give it indices") {
		t.Errorf("Forward of values into an Embedding: %v", err)
	}
	s2, _ := NewSequential[float32](gru, lin)
	if _, err := s2.ForwardIndices(&Tensor[int64]{Data: []int64{1}, Shape: []int{1}}); err == nil || !strings.Contains(err.Error(), "takes values, not indices") {
		t.Errorf("ForwardIndices into a GRU: %v", err)
	}
	if _, err := s.ForwardIndices(&Tensor[int64]{Data: []int64{9}, Shape: []int{1}}); err == nil || !strings.Contains(err.Error(), "(in layer 0, Embedding(5, 3))") {
		t.Errorf("an index out of range: %v", err)
	}
	// What cannot be streamed.
	sb, _ := NewSequential[float32](emb, bi)
	if _, err := sb.NewStream(1); !errors.Is(err, ErrNotStreamable) || !strings.Contains(err.Error(), "layer 1") {
		t.Errorf("NewStream of a bidirectional GRU: %v", err)
	}
	for _, tc := range []struct {
		layer Layer[float32]
		ok    bool
	}{
		{must(NewActivation[float32](Softmax, 0)), false},    // time, seq-first
		{must(NewActivation[float32](Softmax, 1)), true},     // batch
		{must(NewActivation[float32](LogSoftmax, -1)), true}, // features
		{must(NewLayerNorm[float32](LayerNormConfig{NormalizedShape: []int{3, 4}}, nil)), true},
		{must(NewLayerNorm[float32](LayerNormConfig{NormalizedShape: []int{5, 3, 4}}, nil)), false},
	} {
		s, err := NewSequential[float32](gru, tc.layer)
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.NewStream(3)
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.Step(randomTensor[float32](rng, 5, 3, 3))
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrNotStreamable) {
			t.Errorf("%s after a GRU: Step error %v", tc.layer.describe(), err)
		}
	}
	var zero Stream[float32]
	if _, err := zero.Step(newTensor[float32](1, 3)); err == nil {
		t.Error("the zero Stream stepped")
	}
	// A zero Dropout is Dropout(p=0).
	if s, err := NewSequential[float32](gru, new(Dropout[float32])); err != nil || s.String() != "Sequential(GRU(3, 4), Dropout(p=0))" {
		t.Errorf("a zero Dropout: %v, %v", s, err)
	}
	// The states of a Stream are held to State's rules.
	st := must(must(NewSequential[float32](gru, lin)).NewStream(2))
	x := randomTensor[float32](rng, 1, 2, 3)
	st.States()[0].H().Data = []float32{1}
	if _, err := st.Step(x); err == nil || !strings.Contains(err.Error(), "the state's h has 1 elements, shape [1 2 4] needs 8 (in layer 0, GRU(3, 4))") {
		t.Errorf("Step after H's Data was replaced: %v", err)
	}
}

func must[L any](l L, err error) L {
	if err != nil {
		panic(err)
	}
	return l
}

// TestStreamAllocations checks that a Stream of an Embedding, an LSTM, a Linear and a
// LogSoftmax allocates nothing per step once warm.
func TestStreamAllocations(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	const V, E, H = 40, 16, 64
	emb := must(NewEmbedding(EmbeddingConfig{NumEmbeddings: V, EmbeddingDim: E}, map[string][]float32{"weight": randomTensor[float32](rng, V, E).Data}))
	lc := Config{Mode: LSTM, InputSize: E, HiddenSize: H, NumLayers: 2, Bias: true}
	lstm := must(New(lc, randomParams[float32](lc, rng)))
	head := must(NewLinear(LinearConfig{InFeatures: H, OutFeatures: V, Bias: true},
		map[string][]float32{"weight": randomTensor[float32](rng, V, H).Data, "bias": randomTensor[float32](rng, V).Data}))
	ls := must(NewActivation[float32](LogSoftmax, -1))
	seq := must(NewSequential[float32](emb, lstm, head, ls))
	st := must(seq.NewStream(1))
	id := &Tensor[int64]{Data: []int64{3}, Shape: []int{1}}
	if _, err := st.StepIndices(id); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(50, func() {
		y, _ := st.StepIndices(id)
		id.Data[0] = int64(slices.Index(y.Data, slices.Max(y.Data)))
	}); a != 0 {
		t.Errorf("%v allocations per step", a)
	}
}

func TestRepr(t *testing.T) {
	for _, tc := range []struct {
		s    fmt.Stringer
		want string
	}{
		{Config{Mode: LSTM, InputSize: 8, HiddenSize: 16, NumLayers: 2, Bias: true, BatchFirst: true, ProjSize: 4}, "LSTM(8, 16, num_layers=2, batch_first=True, proj_size=4)"},
		{Config{Mode: RNNReLU, InputSize: 3, HiddenSize: 5, NumLayers: 1}, "RNN(3, 5, nonlinearity='relu', bias=False)"},
		{CellConfig{Mode: RNNReLU, InputSize: 3, HiddenSize: 4}, "RNNCell(3, 4, bias=False, nonlinearity=relu)"},
		{CellConfig{Mode: LSTM, InputSize: 3, HiddenSize: 4, Bias: true}, "LSTMCell(3, 4)"},
		{EmbeddingConfig{NumEmbeddings: 5, EmbeddingDim: 3, PaddingIdx: new(0), MaxNorm: 1, NormType: 1}, "Embedding(5, 3, padding_idx=0, max_norm=1.0, norm_type=1.0)"},
		{LinearConfig{InFeatures: 3, OutFeatures: 4, Bias: true}, "Linear(in_features=3, out_features=4, bias=True)"},
		{LayerNormConfig{NormalizedShape: []int{3}, Eps: 1e-5, ElementwiseAffine: true, Bias: true}, "LayerNorm((3,), eps=1e-05, elementwise_affine=True)"},
		{LayerNormConfig{NormalizedShape: []int{3, 4}, Eps: 0.001}, "LayerNorm((3, 4), eps=0.001, elementwise_affine=False)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

// TestNilReceivers checks that the methods that return errors return one, and do not
// panic, on nil pointers, as on zero values.
func TestNilReceivers(t *testing.T) {
	x := newTensor[float32](1, 1, 3)
	for name, run := range map[string]func() error{
		"Model.Forward":        func() error { _, err := (*Model[float32])(nil).Forward(x, nil, nil); return err },
		"Model.NewState":       func() error { _, err := (*Model[float32])(nil).NewState(1); return err },
		"Cell.Forward":         func() error { _, _, err := (*Cell[float32])(nil).Forward(x, nil, nil); return err },
		"Cell.NewState":        func() error { _, err := (*Cell[float32])(nil).NewState(1); return err },
		"State.Step":           func() error { _, err := (*State[float32])(nil).Step(x); return err },
		"Sequential.Forward":   func() error { _, err := (*Sequential[float32])(nil).Forward(x); return err },
		"Sequential.NewStream": func() error { _, err := (*Sequential[float32])(nil).NewStream(1); return err },
		"Stream.Step":          func() error { _, err := (*Stream[float32])(nil).Step(x); return err },
		"Stream.StepIndices": func() error {
			_, err := (*Stream[float32])(nil).StepIndices(&Tensor[int64]{Data: []int64{0}, Shape: []int{1}})
			return err
		},
		"Embedding.Forward": func() error {
			_, err := (*Embedding[float32])(nil).Forward(&Tensor[int64]{Data: []int64{0}, Shape: []int{1}})
			return err
		},
		"Linear.Forward":     func() error { _, err := (*Linear[float32])(nil).Forward(x); return err },
		"LayerNorm.Forward":  func() error { _, err := (*LayerNorm[float32])(nil).Forward(x); return err },
		"Activation.Forward": func() error { _, err := (*Activation[float32])(nil).Forward(x); return err },
	} {
		if err := run(); err == nil || !strings.Contains(err.Error(), "not made by") {
			t.Errorf("%s on nil: %v, want an error saying it was not made by its constructor", name, err)
		}
	}
	var zero State[float32]
	zero.Reset() // the zero State has nothing to reset
}

// TestConfigsCopied checks that a layer keeps configurations of its own: what its caller
// changes after building it, or in what Config returns, changes nothing, where an
// Embedding shared its PaddingIdx with both (and reported padding_idx=7 of 3 rows).
func TestConfigsCopied(t *testing.T) {
	pad := 1
	e, err := NewEmbedding(EmbeddingConfig{NumEmbeddings: 3, EmbeddingDim: 2, PaddingIdx: &pad}, map[string][]float32{"weight": {1, 2, 3, 4, 5, 6}})
	if err != nil {
		t.Fatal(err)
	}
	pad = 7
	*e.Config().PaddingIdx = 9
	if got := *e.Config().PaddingIdx; got != 1 || e.Config().String() != "Embedding(3, 2, padding_idx=1)" {
		t.Errorf("padding_idx %d, %s: want 1", got, e.Config())
	}
	shape := []int{2}
	l, err := NewLayerNorm(LayerNormConfig{NormalizedShape: shape, Eps: 1e-5}, map[string][]float32{})
	if err != nil {
		t.Fatal(err)
	}
	shape[0] = 3
	l.Config().NormalizedShape[0] = 4
	if got := l.Config().NormalizedShape; !slices.Equal(got, []int{2}) {
		t.Errorf("normalized shape %v, want [2]", got)
	}
}
