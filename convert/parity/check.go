package parity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fileerr"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// Options are the settings of a check.
type Options struct {
	// Load holds the model's settings a state_dict does not store. A reference's own
	// batch_first and nonlinearity values add to them; a contradiction (with a
	// BatchFirst that is true, or set by BatchFirstSet) is an error.
	Load convert.Options
	// Tolerance returns the tolerance for a tensor computed in dtype got (F32 or F64)
	// and compared with a reference tensor of dtype want; nil means DefaultTolerance.
	// Each part must be a finite number, zero or more; Check fails otherwise.
	Tolerance func(got, want pickle.DType) Tolerance
	// Ignore names reference entries to leave out of the check (an entry's name covers
	// the entries of a tuple under it).
	Ignore []string
}

// Report is the result of a check.
type Report struct {
	Pass bool `json:"pass"`
	// Rule is how the verdict was reached: RuleTolerance when every tensor passed by its
	// tolerance, RuleTruth when some needed the truth rule; for a failure, the rule of the
	// first failing tensor.
	Rule      string            `json:"rule"`
	MaxAbsErr float64           `json:"max_abs_err"`
	MaxRelErr float64           `json:"max_rel_err"`
	Model     convert.ModelInfo `json:"model"`
	// ModelFile and Reference are the names of the model's and the reference's files.
	ModelFile string `json:"model_file"`
	Reference string `json:"reference"`
	// InitialState says where each initial state came from; it is empty (and left out
	// of the JSON) for a model that has no recurrent layer, and so no state.
	InitialState InitialState `json:"initial_state,omitzero"`
	// Settings says where the model's batch_first and nonlinearity came from.
	Settings Settings `json:"settings"`
	// Ignored lists the reference entries left out at the caller's request.
	Ignored []string       `json:"ignored,omitempty"`
	Tensors []TensorReport `json:"tensors"`
	// Diagnosis lists the usual porting mistakes that explain a failure, best first;
	// empty when the check passed or no mistake explains it.
	Diagnosis []Mistake `json:"diagnosis"`
}

// InitialState says where a check's initial states came from: a reference entry's name
// (such as "h0" or "hx.0"), or "zeros".
type InitialState struct {
	H0 string `json:"h0"`
	C0 string `json:"c0,omitempty"` // for an LSTM
}

// Zeros is InitialState's word for a state the reference does not give.
const Zeros = "zeros"

// Settings says where a checked model's settings came from, those a state_dict does not
// store: one of FromModule, FromReference, FromOptions and FromDefault each, or "" for
// a setting the model does not have (batch_first for a cell, nonlinearity for all but
// nn.RNN). Who can change a setting is where it came from: a pickled module's cannot be
// changed by the options (they must agree), a reference's only with them.
type Settings struct {
	BatchFirst   string `json:"batch_first,omitempty"`
	Nonlinearity string `json:"nonlinearity,omitempty"`
}

// Where a setting came from (Settings).
const (
	FromModule    = "module"    // the pickled module's attributes
	FromReference = "reference" // the reference's configuration values
	FromOptions   = "options"   // Options.Load, nothing else giving it
	FromDefault   = "default"   // PyTorch's default, nothing giving it
)

// Check runs the recurrent module of model (found and loaded with opts.Load and the
// reference's configuration values) on ref's input and initial states and compares its
// results with ref's output and final states, every one the reference holds, by the
// schema (see RefInput). Every compared tensor is also measured against the float64
// truth, and judged by it (the truth rule) when a model computing below float64 misses
// the tolerance. A failing check tries the usual porting mistakes (Mistake) and lists
// those that explain it.
//
// The error is non-nil when the check cannot be made: a reference outside the schema
// (*ReferenceError), a model that does not load or does not fit the reference
// (*convert.ValidationError, ...), or, once ctx is done (the Go forward pass and the
// float64 truth stop between time steps), an error that names model's file and wraps
// ctx.Err(). A mismatch is a Report whose Pass is false.
func Check(ctx context.Context, model, ref *convert.Checkpoint, opts Options) (*Report, error) {
	if model == nil || ref == nil {
		return nil, errors.New("parity: Check of a nil Checkpoint")
	}
	r, m, err := load(model, ref, opts, true)
	if err != nil {
		return nil, err
	}
	tm, err := truthModel(model, m)
	if err != nil {
		return nil, err
	}
	c := &checker{ctx: ctx, ref: r, m: m, model: tm, tol: opts.Tolerance, file: model.Path}
	if c.tol == nil {
		c.tol = func(got, want pickle.DType) Tolerance { return DefaultTolerance(got, want) }
	}
	if err := c.run(); err != nil {
		return nil, stopped(ctx, model.Path, err)
	}
	c.report.Settings = r.settings(m, opts.Load)
	return c.report, nil
}

// load reads the reference ref by the schema (an output required when needOutput), loads
// the model of model with opts.Load and the reference's configuration values, and checks
// that they fit each other.
func load(model, ref *convert.Checkpoint, opts Options, needOutput bool) (*reference, *convert.Model, error) {
	r, err := parseReference(ref.Path, ref.Root, ref.Leaves, opts.Ignore, needOutput)
	if err != nil {
		if serr := swapped(model, ref, err); serr != nil {
			return nil, nil, serr
		}
		return nil, nil, err
	}
	m, err := convert.Load(model, opts.Load)
	if err != nil {
		return nil, nil, err
	}
	if !m.FromModule {
		// A state_dict takes the reference's configuration values, those it has; a
		// pickled module's attributes are checked against them (fits).
		lopts, changed, err := r.loadOptions(opts.Load, m)
		if err != nil {
			return nil, nil, err
		}
		if changed {
			if m, err = convert.Load(model, lopts); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := r.fits(model, m); err != nil {
		return nil, nil, err
	}
	return r, m, nil
}

// settings says where the settings of m, loaded with opts and r's configuration values,
// came from.
func (r *reference) settings(m *convert.Model, opts convert.Options) Settings {
	from := func(inRef, inOpts bool) string {
		switch {
		case m.FromModule:
			return FromModule
		case inRef:
			return FromReference
		case inOpts:
			return FromOptions
		}
		return FromDefault
	}
	var s Settings
	if m.Config.InputSize == 0 {
		return s // no recurrent module
	}
	if !m.Cell {
		s.BatchFirst = from(r.batchFirst != nil, opts.BatchFirst || opts.BatchFirstSet)
	}
	if mode := m.Config.Mode; mode == rnn.RNNTanh || mode == rnn.RNNReLU {
		s.Nonlinearity = from(r.nonlinearity != "", opts.Nonlinearity != "")
	}
	return s
}

// swapped returns the *ReferenceError of a model's file and a reference's given the other
// way round, when err, ref's, is entries outside the schema, ref holds a recurrent module
// and model reads as a reference; else nil.
func swapped(model, ref *convert.Checkpoint, err error) error {
	var rerr *ReferenceError
	if !errors.As(err, &rerr) || len(rerr.Unknown) == 0 || len(convert.Prefixes(ref)) == 0 {
		return nil
	}
	if _, err := parseReference(model.Path, model.Root, model.Leaves, nil, false); err != nil {
		return nil
	}
	return &ReferenceError{File: ref.Path, Problems: []Problem{{Kind: ProblemSwapped,
		Msg: fmt.Sprintf("it holds a recurrent module's weights, and the model's file, %s, a reference's entries: the two files are the other way round", model.Path)}}}
}

// loadOptions adds the reference's configuration values that apply to m, loaded without
// them, to opts, and reports whether they changed them; fits judges those that do not
// apply.
func (r *reference) loadOptions(opts convert.Options, m *convert.Model) (convert.Options, bool, error) {
	changed := false
	if r.batchFirst != nil && !m.Cell {
		switch {
		case opts.BatchFirst && !*r.batchFirst:
			return opts, false, referenceErrorf(r.file, "batch_first is False in the reference, but the model's options set it")
		case opts.BatchFirstSet && !opts.BatchFirst && *r.batchFirst:
			return opts, false, referenceErrorf(r.file, "batch_first is True in the reference, but False in the model's options")
		}
		changed = changed || opts.BatchFirst != *r.batchFirst
		opts.BatchFirst = *r.batchFirst
	}
	if mode := m.Config.Mode; r.nonlinearity != "" && (mode == rnn.RNNTanh || mode == rnn.RNNReLU) {
		if opts.Nonlinearity != "" && opts.Nonlinearity != r.nonlinearity {
			return opts, false, referenceErrorf(r.file, "nonlinearity is %q in the reference, but %q in the model's options", r.nonlinearity, opts.Nonlinearity)
		}
		changed = changed || opts.Nonlinearity != r.nonlinearity
		opts.Nonlinearity = r.nonlinearity
	}
	return opts, changed, nil
}

// fits checks the reference against the loaded model: its configuration values, its
// states, and the layers and directions its shapes show.
func (r *reference) fits(cp *convert.Checkpoint, m *convert.Model) error {
	if m.Whole {
		return nil // the model's shapes judge the reference's
	}
	cfg := m.Config
	rerr := &ReferenceError{File: r.file}
	problem := rerr.addf
	switch {
	case r.batchFirst != nil && *r.batchFirst && m.Cell:
		problem("the reference gives batch_first True, which %s does not have: a cell takes one step of (batch, features)", m.Info().Module)
	case r.batchFirst != nil && *r.batchFirst != cfg.BatchFirst:
		problem("batch_first is %s in the reference, %s in the pickled module", pyBool(*r.batchFirst), pyBool(cfg.BatchFirst))
	}
	if r.nonlinearity != "" {
		switch {
		case cfg.Mode != rnn.RNNTanh && cfg.Mode != rnn.RNNReLU:
			problem("the reference gives nonlinearity %q, which %s does not have", r.nonlinearity, m.Info().Module)
		case (r.nonlinearity == "relu") != (cfg.Mode == rnn.RNNReLU):
			problem("nonlinearity is %q in the reference, but the pickled module's mode is %s", r.nonlinearity, cfg.Mode)
		}
	}
	lstm := cfg.Mode == rnn.LSTM
	switch {
	case lstm && r.h0.ok() && !r.c0.ok() && m.Cell:
		problem("%s without c0: nn.LSTMCell takes its state as the tuple (h0, c0); save both", r.h0.name)
	case lstm && r.h0.ok() && !r.c0.ok():
		problem("%s without c0: nn.LSTM takes its initial state as the tuple (h0, c0); save both", r.h0.name)
	case !lstm && r.c0.ok():
		problem("%s: %s has no cell state", r.c0.name, m.Info().Module)
	}
	if !lstm && r.cn.ok() {
		problem("%s: %s has no cell state", r.cn.name, m.Info().Module)
	}
	if len(rerr.Problems) > 0 {
		return rerr
	}
	if m.Cell {
		return nil // a cell's states are (batch, hidden_size)
	}
	// Layers and directions: h_n and c_n hold layers x directions rows (first dimension),
	// the output directions x P features (last dimension).
	dirs := 1
	if cfg.Bidirectional {
		dirs = 2
	}
	p := cfg.HiddenSize
	if cfg.ProjSize > 0 {
		p = cfg.ProjSize
	}
	refDirs := dirs
	if o := r.output.t; o != nil && len(o.Shape) > 0 {
		if f := o.Shape[len(o.Shape)-1]; f == p || f == 2*p {
			refDirs = f / p
		}
	}
	for _, e := range []entry{r.hn, r.cn} {
		if !e.ok() || len(e.t.Shape) < 2 {
			continue
		}
		rows := e.t.Shape[0]
		if rows == cfg.NumLayers*dirs {
			continue
		}
		if rows > cfg.NumLayers*dirs && rows%refDirs == 0 {
			// More layers or directions than the checkpoint holds: name what is missing.
			want := cfg
			want.NumLayers, want.Bidirectional = rows/refDirs, refDirs == 2
			var missing []string
			for _, q := range want.Params() {
				if _, ok := cp.Tensor(m.Prefix + q.Name); !ok {
					missing = append(missing, m.Prefix+q.Name)
				}
			}
			if len(missing) > 0 {
				verr := &convert.ValidationError{File: cp.Path, Prefix: m.Prefix, Config: want, Missing: missing}
				return fmt.Errorf("%w\n  (the reference %s's %s has shape %v: %s × %s)", verr, r.file, e.name, e.t.Shape,
					plural(want.NumLayers, "layer", "layers"), plural(refDirs, "direction", "directions"))
			}
		}
		return referenceErrorf(r.file, "%s has shape %v, for %s; the model, %s, has %d: the reference comes from another model",
			e.name, e.t.Shape, plural(rows, "layer × direction", "layers × directions"), m.Info().Module, cfg.NumLayers*dirs)
	}
	return nil
}

// initialState says where the initial states of m come from.
func (r *reference) initialState(m *convert.Model) InitialState {
	if m.Config.InputSize == 0 {
		return InitialState{} // no recurrent layer
	}
	s := InitialState{H0: Zeros}
	if r.h0.ok() {
		s.H0 = r.h0.name
	}
	if m.Config.Mode == rnn.LSTM {
		s.C0 = Zeros
		if r.c0.ok() {
			s.C0 = r.c0.name
		}
	}
	return s
}

// plural spells n things.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// checker holds a check in progress.
type checker struct {
	ctx    context.Context
	ref    *reference
	m      *convert.Model
	model  *model // the truth's
	tol    func(got, want pickle.DType) Tolerance
	file   string // the model's
	in     input
	h0, c0 []float64
	coreIn []int // the shape of the first recurrent layer's input
	report *Report
	// compared are the reference's tensors in report order, and what Go computed.
	compared []entry
}

func (c *checker) values(e entry) ([]float64, error) {
	if !e.ok() {
		return nil, nil
	}
	v, err := e.t.Float64s()
	if err != nil {
		return nil, fileerr.Errorf(c.ref.file, "%s: %w", e.name, err)
	}
	return v, nil
}

func (c *checker) run() error {
	r, m := c.ref, c.m
	var err error
	if c.h0, err = c.values(r.h0); err != nil {
		return err
	}
	if c.c0, err = c.values(r.c0); err != nil {
		return err
	}
	out, hn, cn, err := m.ForwardContext(c.ctx, r.input.t, r.h0.t, r.c0.t)
	if err != nil {
		return c.forwardError(err)
	}
	// A whole model whose last layer is not recurrent gives no final states: the
	// reference's are not compared with nothing, nor passed over.
	var unmatched []string
	for _, p := range []struct {
		ref entry
		got *pickle.Tensor
	}{{r.hn, hn}, {r.cn, cn}} {
		if p.ref.ok() && p.got == nil {
			unmatched = append(unmatched, p.ref.name)
		}
	}
	if len(unmatched) > 0 {
		them := "it"
		if len(unmatched) > 1 {
			them = "them"
		}
		return &ReferenceError{File: r.file, Problems: []Problem{{Kind: ProblemNoFinalState, Entries: unmatched,
			Msg: fmt.Sprintf("%s: the whole model gives no final state to compare with (its last layer is not recurrent); leave %s out of the check, or check the recurrent module alone",
				strings.Join(unmatched, ", "), them)}}}
	}
	// The input Go took, read again for the truth.
	if c.in, err = c.model.readInput(r.input.t); err != nil {
		return fileerr.Errorf(r.file, "%s: %w", r.input.name, err)
	}
	rep := &Report{Pass: true, Rule: RuleTolerance, Model: m.Info(), ModelFile: c.file, Reference: r.file, Ignored: r.ignored, Diagnosis: []Mistake{}}
	rep.InitialState = r.initialState(m)
	truth, err := c.model.forward(c.ctx, c.in, c.h0, c.c0, nil, &c.coreIn)
	if err != nil {
		return err
	}
	type pair struct {
		name  string
		ref   entry
		got   *pickle.Tensor
		truth []float64
	}
	pairs := []pair{{RefOutput, r.output, out, truth.output}, {RefHN, r.hn, hn, truth.hn}, {RefCN, r.cn, cn, truth.cn}}
	var failed bool
	for _, p := range pairs {
		if !p.ref.ok() {
			continue
		}
		tr := TensorReport{Name: p.name, Entry: p.ref.name, Shape: p.ref.t.Shape, DType: p.ref.t.DType,
			Tolerance: c.tol(m.DType, p.ref.t.DType)}
		if err := tr.Tolerance.check(); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if !slices.Equal(p.got.Shape, p.ref.t.Shape) {
			tr.shapeMismatch(p.got.Shape)
		} else {
			g, err := p.got.Float64s()
			if err != nil {
				return err
			}
			w, err := c.values(p.ref)
			if err != nil {
				return err
			}
			tr.measure(g, w)
			if len(p.truth) != len(w) {
				return fileerr.Errorf(c.file, "the truth of %s has %d elements, Go's result %d", p.name, len(p.truth), len(w))
			}
			tr.measureTruth(p.truth)
		}
		failed = failed || !tr.Pass
		rep.Tensors = append(rep.Tensors, tr)
		c.compared = append(c.compared, p.ref)
	}
	c.report = rep
	if failed && m.DType != pickle.F64 {
		if err := c.measureNoise(truth); err != nil {
			return err
		}
		for i := range rep.Tensors {
			if tr := &rep.Tensors[i]; !tr.Pass && tr.Rule == RuleTolerance {
				tr.judgeTruth()
			}
		}
	}
	for _, tr := range rep.Tensors {
		rep.MaxAbsErr = max(rep.MaxAbsErr, tr.MaxAbsErr)
		rep.MaxRelErr = max(rep.MaxRelErr, tr.MaxRelErr)
		switch {
		case !tr.Pass && rep.Pass:
			rep.Pass, rep.Rule = false, tr.Rule
		case tr.Pass && tr.Rule == RuleTruth && rep.Pass:
			rep.Rule = RuleTruth
		}
	}
	if !rep.Pass {
		d, err := c.diagnose(truth)
		if err != nil {
			return err
		}
		rep.Diagnosis = d
	}
	return nil
}

// measureNoise sets each compared tensor's Noise (see network.noise).
func (c *checker) measureNoise(truth *results) error {
	nz, err := noiseOf(func(nz *noise) (*results, error) { return c.model.forward(c.ctx, c.in, c.h0, c.c0, nz, nil) }, truth)
	if err != nil {
		return err
	}
	for i := range c.report.Tensors {
		if tr := &c.report.Tensors[i]; tr.truth != nil {
			tr.Noise = nz[tr.Name]
		}
	}
	return nil
}

// pick returns the named result.
func pick(r *results, name string) []float64 {
	switch name {
	case RefOutput:
		return r.output
	case RefHN:
		return r.hn
	case RefCN:
		return r.cn
	}
	return nil
}

// forwardError explains an input the model does not take.
func (c *checker) forwardError(err error) error { return forwardError(c.ref, c.m, err) }

// forwardError explains an input of the reference r that the model m does not take: a
// *ReferenceError, which names the batch_first setting with which the shapes would fit.
func forwardError(r *reference, m *convert.Model, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err // the caller's, not the reference's
	}
	var le *pickle.LimitError
	if errors.As(err, &le) {
		// A limit the caller may raise (Options.Load.OutputLimit): not a problem of the
		// reference.
		return fileerr.Wrap(r.file, err)
	}
	x := r.input.t
	if x == nil {
		return fileerr.Wrap(r.file, err)
	}
	rerr := &ReferenceError{File: r.file}
	ids := fmt.Sprintf("%s is %s: a recurrent module's input is floating point (PyTorch refuses %s)", r.input.name, r.input.t.DType, r.input.t.DType)
	switch l := m.Layers; {
	case errors.Is(err, convert.ErrTokenIDs) && len(l) > 0 && strings.HasPrefix(l[0].Module, "Embedding("):
		rerr.Problems = append(rerr.Problems, Problem{Kind: ProblemTokenIDs, Entries: []string{r.input.name},
			Msg: fmt.Sprintf("%s; token ids are the input of the whole model, %s", ids, layerList(l))})
	case errors.Is(err, convert.ErrTokenIDs):
		rerr.addf("%s; token ids are the input of a whole model that starts with an Embedding, and none is known around this one", ids)
	case !m.Whole && len(l) > 1 && !errors.Is(err, convert.ErrTokenIDs):
		rerr.Problems = append(rerr.Problems, Problem{Kind: ProblemWholeInput, Entries: []string{r.input.name},
			Msg: fmt.Sprintf("%v; the recurrent module is inside a whole model, %s, whose input this may be: run it whole", err, layerList(l))})
	default:
		rerr.addf("%v", err)
	}
	fits := func(batchFirst bool) bool {
		n := network{cfg: m.Config}
		n.cfg.BatchFirst = batchFirst
		h0, c0 := r.h0.t, r.c0.t
		_, derr := n.dims(x.Shape, x.NumElements(), numElements(h0), numElements(c0), h0 != nil, c0 != nil)
		return derr == nil
	}
	if bf := m.Config.BatchFirst; len(x.Shape) == 3 && !m.Whole && !m.Cell && !fits(bf) && fits(!bf) {
		// The shapes fit the other layout alone. Where it came from says who can change it.
		flipped := !bf
		switch {
		case r.batchFirst != nil:
			rerr.addf("the shapes fit a model with batch_first=%s, but the reference's batch_first is %s", pyBool(flipped), pyBool(bf))
		case m.FromModule:
			rerr.addf("the shapes fit a model with batch_first=%s, but the pickled module's batch_first is %s", pyBool(flipped), pyBool(bf))
		default:
			rerr.addf("the shapes fit a model with batch_first=%s", pyBool(flipped))
			rerr.BatchFirst = &flipped
		}
	}
	return rerr
}

// layerList is a whole model's modules: "Embedding(20, 8) -> GRU(8, 32) -> Linear(...)".
func layerList(layers []convert.Layer) string {
	mods := make([]string, len(layers))
	for i, l := range layers {
		mods[i] = l.Module
	}
	return strings.Join(mods, " -> ")
}

func numElements(t *pickle.Tensor) int {
	if t == nil {
		return 0
	}
	return t.NumElements()
}

// stopped returns err, or, when ctx is done and err is what stopped, an error naming
// file (the model's) that wraps ctx.Err(): where the work stopped is of no use to a
// caller that stopped it.
func stopped(ctx context.Context, file string, err error) error {
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return fileerr.Wrap(file, cerr)
	}
	return err
}
