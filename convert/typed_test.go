package convert_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// load opens and loads a fixture of testdata/convert.
func load(t *testing.T, name string, opts convert.Options) *convert.Model {
	t.Helper()
	m, err := convert.Load(fixture.Open(t, name), opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTypedModels checks that RNN, Cell and Sequential give the typed model of package rnn
// when asked for what the model is, and otherwise an error that says what to ask for,
// where RNN and Cell returned a nil model whose methods said it was "not made by New".
func TestTypedModels(t *testing.T) {
	f32 := load(t, "rnn_tanh.pt", convert.Options{})
	f64 := load(t, "rnn_f64.pt", convert.Options{})
	cell := load(t, "cell_lstm_steps.pt", convert.Options{})
	mlp := load(t, "module_seq_mlp.pt", convert.Options{})
	if r, err := convert.RNN[float32](f32); err != nil || r.Config() != f32.Config {
		t.Errorf("RNN[float32] of %s: %v", f32.Info().Module, err)
	}
	if r, err := convert.RNN[float64](f64); err != nil || r.Config() != f64.Config {
		t.Errorf("RNN[float64] of %s: %v", f64.Info().Module, err)
	}
	if c, err := convert.Cell[float32](cell); err != nil || c.Config().HiddenSize != cell.Config.HiddenSize {
		t.Errorf("Cell[float32] of %s: %v", cell.Info().Module, err)
	}
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"RNN[float64] of F32", func() error { _, err := convert.RNN[float64](f32); return err }, "computes in F32: take it as RNN[float32]"},
		{"RNN[float32] of F64", func() error { _, err := convert.RNN[float32](f64); return err }, "computes in F64: take it as RNN[float64]"},
		{"Cell[float64] of F32", func() error { _, err := convert.Cell[float64](cell); return err }, "take it as Cell[float32]"},
		{"Sequential[float64] of F32", func() error { _, err := convert.Sequential[float64](f32); return err }, "take it as Sequential[float32]"},
		{"RNN of a cell", func() error { _, err := convert.RNN[float32](cell); return err }, "is a cell, LSTMCell(3, 5): take it with Cell"},
		{"Cell of an RNN", func() error { _, err := convert.Cell[float32](f32); return err }, "is RNN(3, 5, num_layers=2), not a cell: take it with RNN"},
		{"RNN of a Sequential", func() error { _, err := convert.RNN[float32](mlp); return err }, "has no recurrent module: take it with Sequential"},
		{"Cell of a Sequential", func() error { _, err := convert.Cell[float32](mlp); return err }, "has no recurrent module: take it with Sequential"},
		{"RNN of nil", func() error { _, err := convert.RNN[float32](nil); return err }, "RNN of a Model not made by Load"},
		{"Cell of the zero Model", func() error { _, err := convert.Cell[float32](&convert.Model{}); return err }, "Cell of a Model not made by Load"},
		{"Sequential of nil", func() error { _, err := convert.Sequential[float32](nil); return err }, "Sequential of a Model not made by Load"},
	} {
		if err := tc.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestNilArguments checks that the functions a service calls with what Open and Load
// returned return an error for a nil Checkpoint or Model, where they panicked.
func TestNilArguments(t *testing.T) {
	ctx := context.Background()
	x, err := pickle.NewTensor(pickle.F32, []int{1, 3}, make([]byte, 12))
	if err != nil {
		t.Fatal(err)
	}
	var nilModel *convert.Model
	for name, call := range map[string]func() error{
		"Load":           func() error { _, err := convert.Load(nil, convert.Options{}); return err },
		"InspectContext": func() error { _, err := convert.InspectContext(ctx, nil); return err },
		"Encode":         func() error { return convert.Encode(ctx, &bytes.Buffer{}, convert.NPZ, nil) },
		"Export":         func() error { return convert.Export(ctx, t.TempDir()+"/x.npz", convert.NPZ, nil) },
		"ExportFiles": func() error {
			_, err := convert.ExportFiles(ctx, t.TempDir()+"/x.npz", convert.NPZ, nil, convert.ExportOptions{})
			return err
		},
		"Model.Forward":        func() error { _, _, _, err := nilModel.Forward(x, nil, nil); return err },
		"Model.ForwardContext": func() error { _, _, _, err := nilModel.ForwardContext(ctx, x, nil, nil); return err },
		"TensorOf":             func() error { _, err := convert.TensorOf[float32](nil); return err },
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s panicked: %v", name, r)
				}
			}()
			if err := call(); err == nil {
				t.Errorf("%s of nil: no error", name)
			}
		}()
	}
}

// TestTensorOf checks that what a Go port computes becomes a pickle tensor of its element
// type, with its values and shape, that Export writes and Open reads back.
func TestTensorOf(t *testing.T) {
	type score float32 // a type defined on float32 is a Float too
	f32, _ := rnn.NewTensor([]float32{1.5, -2, 3.25, 1e-30, 7, 8}, 2, 3)
	f64, _ := rnn.NewTensor([]float64{1 + 1e-12, -2}, 2)
	ids, _ := rnn.NewTensor([]int64{-1, 1 << 40, 3}, 3)
	def := &rnn.Tensor[score]{Data: []score{0.5}, Shape: []int{}}
	var leaves []pickle.Leaf
	for _, c := range []struct {
		name  string
		t     func() (*pickle.Tensor, error)
		dtype pickle.DType
		shape []int
	}{
		{"f32", func() (*pickle.Tensor, error) { return convert.TensorOf(f32) }, pickle.F32, []int{2, 3}},
		{"f64", func() (*pickle.Tensor, error) { return convert.TensorOf(f64) }, pickle.F64, []int{2}},
		{"ids", func() (*pickle.Tensor, error) { return convert.TensorOf(ids) }, pickle.I64, []int{3}},
		{"score", func() (*pickle.Tensor, error) { return convert.TensorOf(def) }, pickle.F32, []int{}},
	} {
		p, err := c.t()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if p.DType != c.dtype || !slices.Equal(p.Shape, c.shape) {
			t.Errorf("%s: %s %v, want %s %v", c.name, p.DType, p.Shape, c.dtype, c.shape)
		}
		leaves = append(leaves, pickle.Leaf{Name: c.name, Value: p})
	}
	if _, err := convert.TensorOf(&rnn.Tensor[float32]{Data: make([]float32, 5), Shape: []int{2, 3}}); err == nil {
		t.Error("TensorOf of 5 values in shape [2 3]: no error")
	}
	path := t.TempDir() + "/results.pt"
	if err := convert.Export(context.Background(), path, convert.PT, convert.FromLeaves("results", leaves)); err != nil {
		t.Fatal(err)
	}
	back, err := convert.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	read := func(name string) *pickle.Tensor {
		p, ok := back.Tensor(name)
		if !ok {
			t.Fatalf("no %s in %s", name, path)
		}
		return p
	}
	if v, err := read("f32").Float32s(); err != nil || !slices.Equal(v, f32.Data) {
		t.Errorf("f32 read back as %v, %v", v, err)
	}
	if v, err := read("f64").Float64s(); err != nil || !slices.Equal(v, f64.Data) {
		t.Errorf("f64 read back as %v, %v", v, err)
	}
	if v, err := read("ids").Int64s(); err != nil || !slices.Equal(v, ids.Data) {
		t.Errorf("ids read back as %v, %v", v, err)
	}
	if v, err := read("score").Float32s(); err != nil || !slices.Equal(v, []float32{0.5}) {
		t.Errorf("score read back as %v, %v", v, err)
	}
}

// TestModelConcurrent checks what Model's doc promises a service: Forward from many
// goroutines at once gives the serial results, to the bit, once the checkpoint is closed.
func TestModelConcurrent(t *testing.T) {
	cp := fixture.Open(t, "lstm_proj_bi.pt")
	m, err := convert.Load(cp, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref := fixture.Open(t, "lstm_proj_bi.ref.pt")
	x, _ := ref.Tensor("input")
	h0, _ := ref.Tensor("h0")
	c0, _ := ref.Tensor("c0")
	want, _, _, err := m.Forward(x, h0, c0)
	if err != nil {
		t.Fatal(err)
	}
	wantBytes, _ := want.Bytes()
	cp.Close()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 4 {
				y, _, _, err := m.Forward(x, h0, c0)
				if err != nil {
					errs <- err.Error()
					return
				}
				if b, _ := y.Bytes(); !bytes.Equal(b, wantBytes) {
					errs <- "a concurrent Forward differs from the serial one"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestModelFieldsChanged checks that a Model whose exported fields were changed after
// Load, as a user "fixes" a setting there (m.Config.BatchFirst = true), is refused by
// Forward and CheckInput, naming the field and where the setting goes, where Forward
// ignored the change silently (or, for Whole on a model whose whole is unknown, panicked)
// while Info reported it.
func TestModelFieldsChanged(t *testing.T) {
	for _, c := range []struct {
		file, field string
		change      func(m *convert.Model)
	}{
		{"rnn_tanh.pt", "Config", func(m *convert.Model) { m.Config.BatchFirst = true }},
		{"rnn_tanh.pt", "Config", func(m *convert.Model) { m.Config.Mode = rnn.RNNReLU }},
		{"rnn_tanh.pt", "Prefix", func(m *convert.Model) { m.Prefix = "rnn." }},
		{"rnn_tanh.pt", "DType", func(m *convert.Model) { m.DType = pickle.F64 }},
		{"rnn_tanh.pt", "Cell", func(m *convert.Model) { m.Cell = true }},
		{"two_heads.pt", "Whole", func(m *convert.Model) { m.Whole = true }}, // its whole is unknown
		{"char_lstm.pt", "Layers", func(m *convert.Model) { m.Layers = m.Layers[1:] }},
	} {
		m := load(t, c.file, convert.Options{})
		in := m.Config.InputSize
		x, err := pickle.NewTensor(pickle.F32, []int{2, 1, in}, make([]byte, 2*4*in))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := m.Forward(x, nil, nil); err != nil {
			t.Fatalf("%s as loaded: %v", c.file, err)
		}
		c.change(m)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s with %s changed: Forward panicked: %v", c.file, c.field, r)
				}
			}()
			want := "Model." + c.field + " was changed after Load"
			if _, _, _, err := m.Forward(x, nil, nil); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s with %s changed: Forward: %v, want an error containing %q", c.file, c.field, err, want)
			}
			if err := m.CheckInput(x.Shape, x.DType); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s with %s changed: CheckInput: %v, want an error containing %q", c.file, c.field, err, want)
			}
		}()
	}
}
