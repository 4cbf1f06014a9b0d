package convert

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// Model is a recurrent module loaded from a checkpoint, ready to run.
type Model struct {
	// Prefix is the module's parameter name prefix in the checkpoint ("" at the root).
	Prefix string
	// Config is the module's configuration, inferred or read from the pickled module.
	Config rnn.Config
	// DType is what the model computes in: F64 when every weight is F64, F32 otherwise
	// (F16 and BF16 weights are widened, as PyTorch's .float() does).
	DType pickle.DType
	// FromModule reports that the configuration came from a pickled module's attributes.
	FromModule bool

	m32 *rnn.Model[float32]
	m64 *rnn.Model[float64]
}

// Load finds the recurrent module in cp (see Options for choosing among several),
// validates its tensors strictly and builds the model.
func Load(cp *Checkpoint, opts Options) (*Model, error) {
	if opts.Nonlinearity != "" && opts.Nonlinearity != "tanh" && opts.Nonlinearity != "relu" {
		return nil, fmt.Errorf("nonlinearity %q: want tanh or relu", opts.Nonlinearity)
	}
	c, err := choose(cp, candidates(cp), opts)
	if err != nil {
		return nil, err
	}
	cfg, err := infer(c, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %w", cp.Path, c.prefix, err)
	}
	if err := validate(cp.Path, c, cfg); err != nil {
		return nil, err
	}
	m := &Model{Prefix: c.prefix, Config: cfg, DType: pickle.F64, FromModule: c.module != nil}
	for _, p := range cfg.Params() {
		if c.tensors[p.Name].DType != pickle.F64 {
			m.DType = pickle.F32
		}
	}
	if m.DType == pickle.F64 {
		m.m64, err = build[float64](cfg, c, (*pickle.Tensor).Float64s)
	} else {
		m.m32, err = build[float32](cfg, c, (*pickle.Tensor).Float32s)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %w", cp.Path, c.prefix, err)
	}
	return m, nil
}

// RNN returns m as package rnn runs it when m computes in T (float64 when m.DType is
// F64, float32 otherwise), and nil otherwise. The rnn.Model is m's own, immutable and safe
// for concurrent use.
func RNN[T rnn.Float](m *Model) *rnn.Model[T] {
	if r, ok := any(m.m64).(*rnn.Model[T]); ok && m.m64 != nil {
		return r
	}
	if r, ok := any(m.m32).(*rnn.Model[T]); ok && m.m32 != nil {
		return r
	}
	return nil
}

func build[T rnn.Float](cfg rnn.Config, c *candidate, values func(*pickle.Tensor) ([]T, error)) (*rnn.Model[T], error) {
	params := map[string][]T{}
	for _, p := range cfg.Params() {
		v, err := values(c.tensors[p.Name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		params[p.Name] = v
	}
	return rnn.New(cfg, params)
}

// Forward runs the model on x with initial states h0 and c0 (nil for zeros) and returns
// the output, h_n and, for an LSTM, c_n, as tensors of the model's dtype.
func (m *Model) Forward(x, h0, c0 *pickle.Tensor) (output, hn, cn *pickle.Tensor, err error) {
	if m.m64 != nil {
		return forward(m.m64, x, h0, c0, (*pickle.Tensor).Float64s, pickle.F64)
	}
	return forward(m.m32, x, h0, c0, (*pickle.Tensor).Float32s, pickle.F32)
}

func forward[T rnn.Float](m *rnn.Model[T], x, h0, c0 *pickle.Tensor, values func(*pickle.Tensor) ([]T, error), dt pickle.DType) (output, hn, cn *pickle.Tensor, err error) {
	in := func(t *pickle.Tensor, name string) (*rnn.Tensor[T], error) {
		if t == nil {
			return nil, nil
		}
		v, err := values(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &rnn.Tensor[T]{Data: v, Shape: t.Shape}, nil
	}
	xs, err := in(x, "input")
	if err != nil {
		return nil, nil, nil, err
	}
	hs, err := in(h0, "h0")
	if err != nil {
		return nil, nil, nil, err
	}
	cs, err := in(c0, "c0")
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := m.Forward(xs, hs, cs)
	if err != nil {
		return nil, nil, nil, err
	}
	if output, err = tensorOf(r.Output, dt); err != nil {
		return nil, nil, nil, err
	}
	if hn, err = tensorOf(r.H, dt); err != nil {
		return nil, nil, nil, err
	}
	if r.C != nil {
		if cn, err = tensorOf(r.C, dt); err != nil {
			return nil, nil, nil, err
		}
	}
	return output, hn, cn, nil
}

// tensorOf encodes an rnn tensor as a little-endian pickle tensor of dtype dt.
func tensorOf[T rnn.Float](t *rnn.Tensor[T], dt pickle.DType) (*pickle.Tensor, error) {
	var b []byte
	switch dt {
	case pickle.F64:
		b = make([]byte, 0, 8*len(t.Data))
		for _, x := range t.Data {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(x)))
		}
	default:
		b = make([]byte, 0, 4*len(t.Data))
		for _, x := range t.Data {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(x)))
		}
	}
	return pickle.NewTensor(dt, t.Shape, b)
}
