package parity

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// Mistake is a usual porting mistake that explains a failed check: the model, changed by
// the mistake, reproduces the reference.
type Mistake struct {
	// Name is one of the Mistake* constants.
	Name string `json:"name"`
	// Description says what the mistake is, for this model.
	Description string `json:"description"`
	// MaxAbsErr is the largest |ref - model with the mistake| over the compared tensors.
	MaxAbsErr float64 `json:"max_abs_err"`
}

// The usual porting mistakes a failed check tries.
const (
	// MistakeBatchFirst: input and output read with batch_first the other way.
	MistakeBatchFirst = "batch_first"
	// MistakeNonlinearity: a plain RNN computed with tanh for relu, or relu for tanh.
	MistakeNonlinearity = "nonlinearity"
	// MistakeTransposed: the square weights stored transposed (weights of other shapes,
	// transposed, fail to load, as a size mismatch the loader names).
	MistakeTransposed = "transposed"
	// MistakeGateOrder: an LSTM's gate rows in the order i f o g instead of PyTorch's
	// i f g o, or a GRU's in z r n instead of r z n.
	MistakeGateOrder = "gate_order"
	// MistakeBiasMissing: the reference computed without the biases.
	MistakeBiasMissing = "bias_missing"
	// MistakeBiasDoubled: the biases counted twice on one side (b_ih + b_hh added as
	// both).
	MistakeBiasDoubled = "bias_doubled"
	// MistakeH0Ignored: the reference's results computed from zero initial states, not
	// from the states it holds.
	MistakeH0Ignored = "h0_ignored"
	// MistakeReverseUnflipped: a bidirectional network's reverse outputs left in the
	// order that direction computed them, last time step first.
	MistakeReverseUnflipped = "reverse_unflipped"
	// MistakeReverseForward: a bidirectional network's reverse direction run over the
	// sequence from its first step.
	MistakeReverseForward = "reverse_forward"
	// MistakeOutputLastStep: the reference's output is the model's last time step alone
	// (output[:, -1] or output[-1]), not the whole output.
	MistakeOutputLastStep = "output_last_step"
	// MistakeTrainMode: the reference was computed in train mode, with dropout between
	// the layers: the first layer's final state matches, the layers above it do not.
	// Nothing reproduces dropout's random draws; MaxAbsErr is the first layer's.
	MistakeTrainMode = "train_mode"
)

// hypothesis is the model with one mistake made.
type hypothesis struct {
	name, description string
	model             *model
	zeroStates        bool
}

// hypotheses returns every mistake that applies to the checked model and reference. A
// mistake of the recurrent module is made in every recurrent layer it applies to.
func (c *checker) hypotheses() []hypothesis {
	base := c.model
	var hs []hypothesis
	add := func(name, description string, m *model) {
		hs = append(hs, hypothesis{name: name, description: description, model: m})
	}
	// changed returns n with its parameters changed by f (name, values, shape).
	changed := func(n *network, f func(name string, v []float64, shape []int) []float64) *network {
		out := *n
		out.params = make(map[string][]float64, len(n.params))
		for _, p := range n.cfg.Params() {
			out.params[p.Name] = f(p.Name, n.params[p.Name], p.Shape)
		}
		return &out
	}
	if core := base.core(); core != nil {
		cfg := core.cfg
		if len(c.coreIn) == 3 && !core.cell {
			add(MistakeBatchFirst, fmt.Sprintf("batch_first flipped: the reference was computed with batch_first=%s", pyBool(!cfg.BatchFirst)),
				base.withNets(func(n *network) *network {
					if n.cell {
						return nil
					}
					out := *n
					out.cfg.BatchFirst = !out.cfg.BatchFirst
					return &out
				}))
		}
		if cfg.Mode == rnn.RNNTanh || cfg.Mode == rnn.RNNReLU {
			name := "relu"
			if cfg.Mode == rnn.RNNReLU {
				name = "tanh"
			}
			add(MistakeNonlinearity, fmt.Sprintf("tanh and relu confused: the reference was computed with nonlinearity='%s'", name),
				base.withNets(func(n *network) *network {
					out := *n
					switch n.cfg.Mode {
					case rnn.RNNTanh:
						out.cfg.Mode = rnn.RNNReLU
					case rnn.RNNReLU:
						out.cfg.Mode = rnn.RNNTanh
					default:
						return nil
					}
					return &out
				}))
		}
		var square []string
		for _, s := range base.stages {
			if s.kind != recurrentLayer {
				continue
			}
			for _, p := range s.net.cfg.Params() {
				if len(p.Shape) == 2 && p.Shape[0] == p.Shape[1] {
					square = append(square, c.paramName(s, p.Name))
				}
			}
		}
		if len(square) > 0 {
			add(MistakeTransposed, fmt.Sprintf("weights transposed: the reference matches the model with %s transposed", strings.Join(square, ", ")),
				base.withNets(func(n *network) *network {
					return changed(n, func(_ string, v []float64, shape []int) []float64 {
						if len(shape) != 2 || shape[0] != shape[1] {
							return v
						}
						return transpose(v, shape[0])
					})
				}))
		}
		if _, names := gateOrder(cfg.Mode); names[0] != "" {
			add(MistakeGateOrder, fmt.Sprintf("gates in another order: the checkpoint's gate rows are in the order %s; PyTorch's %s expects %s", names[1], modeName(cfg.Mode), names[0]),
				base.withNets(func(n *network) *network {
					order, _ := gateOrder(n.cfg.Mode)
					if order == nil {
						return nil
					}
					h := n.cfg.HiddenSize
					return changed(n, func(name string, v []float64, _ []int) []float64 {
						if strings.HasPrefix(name, "weight_hr") {
							return v
						}
						row := len(v) / (len(order) * h) // elements per row
						out := make([]float64, 0, len(v))
						for _, b := range order {
							out = append(out, v[b*h*row:(b+1)*h*row]...)
						}
						return out
					})
				}))
		}
		if cfg.Bias {
			scaled := func(f float64) *model {
				return base.withNets(func(n *network) *network {
					if !n.cfg.Bias {
						return nil
					}
					return changed(n, func(name string, v []float64, _ []int) []float64 {
						if !strings.HasPrefix(name, "bias") {
							return v
						}
						out := make([]float64, len(v))
						for i, x := range v {
							out[i] = f * x
						}
						return out
					})
				})
			}
			add(MistakeBiasMissing, "biases missing: the reference was computed without the biases", scaled(0))
			add(MistakeBiasDoubled, "biases doubled: the reference was computed with twice the checkpoint's biases (b_ih + b_hh added as both)", scaled(2))
			add(MistakeBiasDoubled, "biases doubled: the checkpoint's biases are twice those the reference was computed with", scaled(0.5))
		}
		if c.ref.h0.ok() {
			hs = append(hs, hypothesis{name: MistakeH0Ignored, model: base, zeroStates: true,
				description: fmt.Sprintf("h0 ignored: the reference's results were computed from zero initial states, not from its %s", c.ref.h0.name)})
		}
		if cfg.Bidirectional {
			reversed := func(r reverseMode) *model {
				return base.withNets(func(n *network) *network {
					if !n.cfg.Bidirectional {
						return nil
					}
					out := *n
					out.reverse = r
					return &out
				})
			}
			add(MistakeReverseUnflipped, "reverse direction misread: the reference's reverse-direction outputs are in the order that direction computed them (last time step first)", reversed(reverseUnflipped))
			add(MistakeReverseForward, "reverse direction misread: the reference's reverse direction ran over the sequence from its first step", reversed(reverseForward))
		}
	}
	// A whole model's square Linear weights, transposed: x W for x Wᵀ.
	var square []string
	lin := &model{whole: base.whole, stages: slices.Clone(base.stages)}
	for i, s := range base.stages {
		if s.kind != linearLayer || s.lin.InFeatures != s.lin.OutFeatures {
			continue
		}
		t := *s
		t.params = maps.Clone(s.params)
		t.params["weight"] = transpose(s.params["weight"], s.lin.InFeatures)
		lin.stages[i] = &t
		square = append(square, c.paramName(s, "weight"))
	}
	if len(square) > 0 {
		add(MistakeTransposed, fmt.Sprintf("weights transposed: the reference matches the model with %s transposed (x·W computed for x·Wᵀ)", strings.Join(square, ", ")), lin)
	}
	return hs
}

// paramName is the name of a stage's parameter as the checkpoint spells it: a cell's
// without its layer suffix, a whole model's with its layer's prefix.
func (c *checker) paramName(s *stage, name string) string {
	if s.kind == recurrentLayer && s.net.cell {
		name = strings.TrimSuffix(name, "_l0")
	}
	if c.model.whole {
		name = s.prefix + name
	}
	return name
}

// transpose returns the k x k matrix v transposed.
func transpose(v []float64, k int) []float64 {
	t := make([]float64, len(v))
	for i := range k {
		for j := range k {
			t[j*k+i] = v[i*k+j]
		}
	}
	return t
}

// gateOrder returns, for an LSTM or a GRU, the order of the gate blocks of the mistaken
// layout in PyTorch's (block i of the result is block order[i] of the stored weights),
// and the names of PyTorch's order and of the mistaken one.
func gateOrder(m rnn.Mode) ([]int, [2]string) {
	switch m {
	case rnn.LSTM:
		return []int{0, 1, 3, 2}, [2]string{"i f g o", "i f o g"}
	case rnn.GRU:
		return []int{1, 0, 2}, [2]string{"r z n", "z r n"}
	}
	return nil, [2]string{}
}

func modeName(m rnn.Mode) string {
	switch m {
	case rnn.LSTM:
		return "LSTM"
	case rnn.GRU:
		return "GRU"
	}
	return "RNN"
}

// diagnose runs every hypothesis and returns those that reproduce the reference, best
// first; truth are the model's results (of c.in, c.h0 and c.c0), which tell what the
// reference saved wrongly.
func (c *checker) diagnose(truth *results) ([]Mistake, error) {
	found := []Mistake{}
	for _, h := range c.hypotheses() {
		h0, c0 := c.h0, c.c0
		if h.zeroStates {
			h0, c0 = nil, nil
		}
		res, err := h.model.forward(c.ctx, c.in, h0, c0, nil, nil)
		if err != nil {
			if cerr := c.ctx.Err(); cerr != nil {
				return nil, cerr
			}
			continue // the changed model does not take these inputs: it explains nothing
		}
		worst, ok := 0.0, true
		for i, tr := range c.report.Tensors {
			ref := c.compared[i]
			got, shape := pick(res, tr.Name), pickShape(res, tr.Name)
			if !slices.Equal(shape, ref.t.Shape) {
				ok = false
				break
			}
			want, err := c.values(ref)
			if err != nil {
				return nil, err
			}
			e, near := within(got, want, tr.Tolerance)
			// Below float64, the rounding of the reference is judged as the truth rule
			// judges it.
			if !near && c.m.DType != pickle.F64 {
				near = e <= TruthFactor*max(tr.Floor, tr.Noise)
			}
			worst = max(worst, e)
			ok = ok && near
		}
		if ok {
			found = append(found, Mistake{Name: h.name, Description: h.description, MaxAbsErr: worst})
		}
	}
	// What the reference saved, rather than how the model was ported.
	for _, f := range []func(*results) (Mistake, bool, error){c.lastStep, c.trainMode} {
		m, ok, err := f(truth)
		if err != nil {
			return nil, err
		}
		if ok {
			found = append(found, m)
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].MaxAbsErr < found[j].MaxAbsErr })
	return found, nil
}

// lastStep finds a reference whose output, of another shape than the model's, is the
// model's last time step, every other tensor passing; res are the model's results.
func (c *checker) lastStep(res *results) (Mistake, bool, error) {
	i := slices.IndexFunc(c.report.Tensors, func(tr TensorReport) bool { return tr.Name == RefOutput && tr.Rule == RuleShape })
	if i < 0 || slices.ContainsFunc(c.report.Tensors, func(tr TensorReport) bool { return tr.Name != RefOutput && !tr.Pass }) {
		return Mistake{}, false, nil
	}
	tr, ref := c.report.Tensors[i], c.compared[i]
	shape := res.outShape
	for d := range min(2, len(shape)) { // the time axis: 0, or 1 for batch_first
		if shape[d] == 0 || !slices.Equal(slices.Delete(slices.Clone(shape), d, d+1), ref.t.Shape) {
			continue
		}
		want, err := c.values(ref)
		if err != nil {
			return Mistake{}, false, err
		}
		last := lastAlong(res.output, shape, d)
		if e, ok := within(last, want, tr.Tolerance); ok {
			index := "output[-1]"
			if d == 1 {
				index = "output[:, -1]"
			}
			return Mistake{Name: MistakeOutputLastStep, MaxAbsErr: e,
				Description: fmt.Sprintf("the reference's output is the last time step alone (%s, shape %v of the output's %v): save the whole output", index, ref.t.Shape, shape)}, true, nil
		}
	}
	return Mistake{}, false, nil
}

// trainMode finds a reference of a network of several layers whose first layer's final
// state matches the model's and whose layers above it do not, as dropout between the
// layers (train mode) makes it; res are the model's results.
func (c *checker) trainMode(res *results) (Mistake, bool, error) {
	core := c.model.core()
	if core == nil || core.cell || c.model.whole || core.cfg.NumLayers < 2 {
		return Mistake{}, false, nil
	}
	i := slices.IndexFunc(c.report.Tensors, func(tr TensorReport) bool { return tr.Name == RefHN })
	if i < 0 || c.report.Tensors[i].Pass || c.report.Tensors[i].Rule == RuleShape {
		return Mistake{}, false, nil
	}
	tr, ref := c.report.Tensors[i], c.compared[i]
	want, err := c.values(ref)
	if err != nil {
		return Mistake{}, false, err
	}
	first := len(want) / core.cfg.NumLayers // the layer's directions, one after the other
	e, ok := within(res.hn[:first], want[:first], tr.Tolerance)
	if _, above := within(res.hn[first:], want[first:], tr.Tolerance); !ok || above {
		return Mistake{}, false, nil
	}
	return Mistake{Name: MistakeTrainMode, MaxAbsErr: e,
		Description: "the reference was computed in train mode: layer 0's final state matches, the layers above it do not, as dropout between the layers makes them; compute the reference after model.eval()"}, true, nil
}

// within returns the largest |got - want| and whether every element is within tol
// (Tolerance.Matches).
func within(got, want []float64, tol Tolerance) (float64, bool) {
	e, ok := 0.0, len(got) == len(want)
	for j := range min(len(got), len(want)) {
		e = max(e, absDiff(got[j], want[j]))
		ok = ok && tol.Matches(got[j], want[j])
	}
	return e, ok
}

// lastAlong returns the last index along axis d of the C-contiguous v of shape shape.
func lastAlong(v []float64, shape []int, d int) []float64 {
	outer, inner := 1, 1
	for _, n := range shape[:d] {
		outer *= n
	}
	for _, n := range shape[d+1:] {
		inner *= n
	}
	out := make([]float64, 0, outer*inner)
	for o := range outer {
		start := (o*shape[d] + shape[d] - 1) * inner
		out = append(out, v[start:start+inner]...)
	}
	return out
}

func pickShape(r *results, name string) []int {
	switch name {
	case RefOutput:
		return r.outShape
	case RefHN:
		return r.hShape
	case RefCN:
		return r.cShape
	}
	return nil
}
