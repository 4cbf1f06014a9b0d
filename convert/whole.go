package convert

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// The whole model around a recurrent module: the layers a pickled torch.nn.Sequential
// holds, in its order, or the Embedding before the module and the LayerNorm and Linear
// after it, found by the shapes of the tensors beside it.

// layerKind is the kind of a layer of a whole model.
type layerKind int

const (
	kindRNN layerKind = iota // torch.nn.RNN, LSTM, GRU
	kindCell
	kindEmbedding
	kindLinear
	kindLayerNorm
	kindDropout
	kindActivation
)

// layer is one module of a whole model: its kind, its configuration and its tensors.
type layer struct {
	prefix  string
	kind    layerKind
	rnn     rnn.Config // kindRNN; a cell's as a one-layer network
	emb     rnn.EmbeddingConfig
	lin     rnn.LinearConfig
	ln      rnn.LayerNormConfig
	p       float64 // kindDropout
	act     rnn.ActivationFunc
	dim     int                       // Softmax, LogSoftmax
	tensors map[string]*pickle.Tensor // its parameters, by name without the prefix
	core    bool                      // the recurrent module Load chose
}

// String spells the layer as PyTorch prints the module.
func (l *layer) String() string {
	switch l.kind {
	case kindRNN:
		return l.rnn.String()
	case kindCell:
		return cellConfig(l.rnn).String()
	case kindEmbedding:
		return l.emb.String()
	case kindLinear:
		return l.lin.String()
	case kindLayerNorm:
		return l.ln.String()
	case kindDropout:
		return fmt.Sprintf("Dropout(p=%v)", l.p)
	}
	if l.act >= rnn.Softmax {
		return fmt.Sprintf("%s(dim=%d)", l.act, l.dim)
	}
	return l.act.String() + "()"
}

// params returns the parameters the layer needs.
func (l *layer) params() []rnn.Param {
	switch l.kind {
	case kindRNN:
		return l.rnn.Params()
	case kindCell:
		return cellConfig(l.rnn).Params()
	case kindEmbedding:
		return l.emb.Params()
	case kindLinear:
		return l.lin.Params()
	case kindLayerNorm:
		return l.ln.Params()
	}
	return nil
}

// widths returns the number of features the layer takes and gives (0: any).
func (l *layer) widths() (in, out int) {
	switch l.kind {
	case kindRNN:
		d := 1
		if l.rnn.Bidirectional {
			d = 2
		}
		p := l.rnn.HiddenSize
		if l.rnn.ProjSize > 0 {
			p = l.rnn.ProjSize
		}
		return l.rnn.InputSize, d * p
	case kindCell:
		return l.rnn.InputSize, l.rnn.HiddenSize
	case kindEmbedding:
		return 0, l.emb.EmbeddingDim
	case kindLinear:
		return l.lin.InFeatures, l.lin.OutFeatures
	case kindLayerNorm:
		if len(l.ln.NormalizedShape) == 0 {
			return 0, 0
		}
		n := l.ln.NormalizedShape[len(l.ln.NormalizedShape)-1]
		return n, n
	}
	return 0, 0
}

// validate checks the layer's configuration, before its parameters are listed.
func (l *layer) validate() error {
	switch l.kind {
	case kindRNN, kindCell:
		return l.rnn.Validate()
	case kindEmbedding:
		return l.emb.Validate()
	case kindLinear:
		return l.lin.Validate()
	case kindLayerNorm:
		return l.ln.Validate()
	case kindDropout:
		if !(l.p >= 0 && l.p <= 1) {
			return fmt.Errorf("dropout probability has to be between 0 and 1, but got %v", l.p)
		}
	}
	return nil
}

// check reports every parameter of l that its tensors lack or hold in another shape,
// and every tensor it has no place for.
func (l *layer) check() error {
	if err := l.validate(); err != nil {
		return fmt.Errorf("%s: %w", where(l.prefix), err)
	}
	var problems []string
	want := map[string]bool{}
	for _, p := range l.params() {
		want[p.Name] = true
		t, ok := l.tensors[p.Name]
		switch {
		case !ok:
			problems = append(problems, "missing "+l.prefix+p.Name)
		case !slices.Equal(t.Shape, p.Shape):
			problems = append(problems, fmt.Sprintf("%s%s: shape %v in file, %v expected", l.prefix, p.Name, t.Shape, p.Shape))
		}
	}
	var extra []string
	for name := range l.tensors {
		if !want[name] {
			extra = append(extra, l.prefix+name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		problems = append(problems, "unexpected "+name)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s, %s: %s", where(l.prefix), l, strings.Join(problems, "; "))
	}
	return nil
}

// tree is what the whole-model search knows of a checkpoint: its tensors grouped by the
// prefix of the module they belong to (the name up to its last dot), in file order, and
// its pickled modules by prefix.
type tree struct {
	groups  map[string]map[string]*pickle.Tensor
	order   []string // group prefixes in the order they first appear
	sorted  []int    // indices of order, its prefixes sorted
	modules map[string]*pickle.Object
}

// survey finds what the search for a model in cp needs: its recurrent modules and
// cells, and the tree, whose tensors are grouped only when there are some or a pickled
// Sequential (which nothing else needs). It stops with poll's error.
func survey(cp *Checkpoint, poll *ctxio.Poller) (*tree, []*candidate, error) {
	mods, err := modules(cp.Root, poll)
	if err != nil {
		return nil, nil, err
	}
	cands, err := candidates(cp, mods, poll)
	if err != nil {
		return nil, nil, err
	}
	if len(cands) == 0 {
		seq := false
		for _, o := range mods {
			seq = seq || isSequential(o)
		}
		if !seq {
			return &tree{groups: map[string]map[string]*pickle.Tensor{}, modules: mods}, nil, nil
		}
	}
	t, err := newTree(cp, mods, poll)
	if err != nil {
		return nil, nil, err
	}
	return t, cands, nil
}

// newTree groups cp's tensors; mods are its pickled modules. It stops with poll's error.
func newTree(cp *Checkpoint, mods map[string]*pickle.Object, poll *ctxio.Poller) (*tree, error) {
	t := &tree{groups: map[string]map[string]*pickle.Tensor{}, modules: mods}
	for _, l := range cp.Leaves {
		if err := poll.Step(); err != nil {
			return nil, err
		}
		x, ok := l.Value.(*pickle.Tensor)
		if !ok {
			continue
		}
		prefix, name := "", l.Name
		if i := strings.LastIndexByte(l.Name, '.'); i >= 0 {
			prefix, name = l.Name[:i+1], l.Name[i+1:]
		}
		g := t.groups[prefix]
		if g == nil {
			g = map[string]*pickle.Tensor{}
			t.groups[prefix] = g
			t.order = append(t.order, prefix)
		}
		g[name] = x
	}
	t.sorted = make([]int, len(t.order))
	for i := range t.sorted {
		t.sorted[i] = i
	}
	slices.SortFunc(t.sorted, func(i, j int) int { return strings.Compare(t.order[i], t.order[j]) })
	return t, nil
}

// under returns the range of t.sorted whose groups' prefixes start with prefix.
func (t *tree) under(prefix string) (lo, hi int) {
	lo, _ = slices.BinarySearchFunc(t.sorted, prefix, func(i int, p string) int { return strings.Compare(t.order[i], p) })
	hi = lo + sort.Search(len(t.sorted)-lo, func(k int) bool { return !strings.HasPrefix(t.order[t.sorted[lo+k]], prefix) })
	return lo, hi
}

// maxBeside bounds the modules beside a recurrent module at one level that the
// whole-model search places: at most four find a place ([Embedding] [LayerNorm] core
// [LayerNorm] [Linear]), and more than maxBeside are not weighed one by one.
const maxBeside = 16

// beside returns the prefixes of the groups under q but not under core (a prefix that
// starts with q), in file order, and their number; when they number more than
// maxBeside, it returns only their number.
func (t *tree) beside(q, core string) ([]string, int) {
	lo, hi := t.under(q)
	clo, chi := t.under(core)
	n := hi - lo - (chi - clo)
	if n == 0 || n > maxBeside {
		return nil, n
	}
	idx := make([]int, 0, n)
	idx = append(idx, t.sorted[lo:clo]...)
	idx = append(idx, t.sorted[chi:hi]...)
	slices.Sort(idx)
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = t.order[i]
	}
	return out, n
}

// parent returns the prefix of the module holding the module at prefix ("a.b." for
// "a.b.c."; "" for "c." and for "").
func parent(prefix string) string {
	p := strings.TrimSuffix(prefix, ".")
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i+1]
	}
	return ""
}

// isSequential reports whether o is a pickled torch.nn.Sequential.
func isSequential(o *pickle.Object) bool { return o != nil && moduleClass(o) == "Sequential" }

// children returns the prefixes of the modules a pickled container holds, in order.
func children(o *pickle.Object, prefix string) []string {
	v, _ := o.Attr("_modules")
	d, _ := v.(*pickle.Dict)
	if d == nil {
		return nil
	}
	var out []string
	for _, e := range d.Entries {
		if e.Value != nil { // a module attribute set to None
			out = append(out, prefix+keyString(e.Key)+".")
		}
	}
	return out
}

// sequentialLayers returns the layers of the pickled Sequential at prefix, nested
// Sequentials flattened, core standing for the recurrent module it holds at its prefix.
func (t *tree) sequentialLayers(prefix string, core *layer, opts Options) ([]*layer, error) {
	var out []*layer
	for _, p := range children(t.modules[prefix], prefix) {
		o := t.modules[p]
		switch {
		case core != nil && p == core.prefix:
			out = append(out, core)
		case isSequential(o):
			inner, err := t.sequentialLayers(p, core, opts)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
		default:
			l, err := t.moduleLayer(p, o, opts)
			if err != nil {
				return nil, err
			}
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the Sequential %s is empty", under(prefix))
	}
	return out, nil
}

// moduleLayer returns the layer of the pickled module o at prefix.
func (t *tree) moduleLayer(prefix string, o *pickle.Object, opts Options) (*layer, error) {
	if o == nil {
		return nil, fmt.Errorf("%s is not a pickled module", subject(prefix))
	}
	l := &layer{prefix: prefix, tensors: t.groups[prefix]}
	if l.tensors == nil {
		l.tensors = map[string]*pickle.Tensor{}
	}
	attrs := attrReader{o: o}
	switch moduleClass(o) {
	case "RNN", "LSTM", "GRU":
		cfg, err := fromModule(o, opts)
		if err != nil {
			return nil, err
		}
		l.kind, l.rnn = kindRNN, cfg
	case "RNNCell", "LSTMCell", "GRUCell":
		cfg, err := inferCell(&candidate{prefix: prefix, cell: true, module: o, tensors: l.tensors}, opts)
		if err != nil {
			return nil, err
		}
		l.kind, l.rnn = kindCell, cfg
	case "Embedding":
		l.kind = kindEmbedding
		l.emb = rnn.EmbeddingConfig{NumEmbeddings: attrs.int("num_embeddings"), EmbeddingDim: attrs.int("embedding_dim"),
			PaddingIdx: attrs.optInt("padding_idx"), MaxNorm: attrs.optFloat("max_norm"), NormType: attrs.float("norm_type", 2)}
		if v, ok := o.Attr("max_norm"); ok && v != nil && l.emb.MaxNorm <= 0 {
			attrs.fail("max_norm", v, "a positive float")
		}
		if l.emb.NormType == 0 {
			attrs.fail("norm_type", 0.0, "a positive p")
		}
	case "Linear":
		l.kind = kindLinear
		_, bias := l.tensors["bias"]
		l.lin = rnn.LinearConfig{InFeatures: attrs.int("in_features"), OutFeatures: attrs.int("out_features"), Bias: bias}
	case "LayerNorm":
		l.kind = kindLayerNorm
		_, w := l.tensors["weight"]
		_, b := l.tensors["bias"]
		l.ln = rnn.LayerNormConfig{NormalizedShape: attrs.ints("normalized_shape"), Eps: attrs.float("eps", math.NaN()),
			ElementwiseAffine: attrs.bool("elementwise_affine"), Bias: w && b}
	case "Dropout":
		l.kind, l.p = kindDropout, attrs.float("p", math.NaN())
	case "Tanh", "ReLU", "Sigmoid":
		l.kind = kindActivation
		l.act = map[string]rnn.ActivationFunc{"Tanh": rnn.Tanh, "ReLU": rnn.ReLU, "Sigmoid": rnn.Sigmoid}[o.Name]
	case "Softmax", "LogSoftmax":
		l.kind = kindActivation
		l.act = map[string]rnn.ActivationFunc{"Softmax": rnn.Softmax, "LogSoftmax": rnn.LogSoftmax}[o.Name]
		if v, _ := o.Attr("dim"); v == nil {
			return nil, fmt.Errorf("%s: %s with dim=None (the legacy implicit dimension) is not supported: give it a dim", where(prefix), o.Name)
		}
		l.dim = attrs.int("dim")
	default:
		return nil, fmt.Errorf("%s is a %s.%s, which ptport does not run", subject(prefix), o.Module, o.Name)
	}
	if attrs.err != nil {
		return nil, fmt.Errorf("%s: pickled %s module: %w", where(prefix), o.Name, attrs.err)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where(prefix), err)
	}
	return l, nil
}

// attrReader reads a pickled module's attributes, keeping the first error.
type attrReader struct {
	o   *pickle.Object
	err error
}

func (a *attrReader) fail(name string, v any, want string) {
	if a.err == nil {
		a.err = fmt.Errorf("%s is %v (%T), not %s", name, v, v, want)
	}
}

func (a *attrReader) int(name string) int {
	v, _ := a.o.Attr(name)
	n, ok := v.(int64)
	if !ok || n < math.MinInt32 || n > math.MaxInt32 {
		a.fail(name, v, "an int")
	}
	return int(n)
}

func (a *attrReader) optInt(name string) *int {
	if v, _ := a.o.Attr(name); v == nil {
		return nil
	}
	n := a.int(name)
	return &n
}

func (a *attrReader) float(name string, def float64) float64 {
	v, ok := a.o.Attr(name)
	if !ok {
		if math.IsNaN(def) {
			a.fail(name, nil, "a float")
		}
		return def
	}
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	}
	a.fail(name, v, "a float")
	return 0
}

func (a *attrReader) optFloat(name string) float64 {
	if v, _ := a.o.Attr(name); v == nil {
		return 0
	}
	return a.float(name, math.NaN())
}

func (a *attrReader) bool(name string) bool {
	v, _ := a.o.Attr(name)
	b, ok := v.(bool)
	if !ok {
		a.fail(name, v, "a bool")
	}
	return b
}

func (a *attrReader) ints(name string) []int {
	v, _ := a.o.Attr(name)
	var items []any
	switch x := v.(type) {
	case pickle.Tuple:
		items = x
	case pickle.List:
		items = x
	case int64:
		items = []any{x}
	default:
		a.fail(name, v, "a tuple of ints")
		return nil
	}
	out := make([]int, len(items))
	for i, it := range items {
		n, ok := it.(int64)
		if !ok || n < 0 || n > math.MaxInt32 {
			a.fail(name, v, "a tuple of ints")
			return nil
		}
		out[i] = int(n)
	}
	return out
}

// embeddingHint reports whether a module's prefix names it as an embedding table, for
// telling an Embedding from a Linear without bias when the shapes fit both.
func embeddingHint(prefix string) bool {
	p := strings.ToLower(prefix)
	return strings.Contains(p, "emb") || strings.Contains(p, "encoder") || strings.Contains(p, "lookup")
}

// around returns the whole model around the recurrent module core: the pickled
// Sequential holding it, or the layers beside it found by their shapes. It returns the
// core alone and why when the model around it is not known.
func (t *tree) around(core *layer, opts Options) ([]*layer, error) {
	// The outermost pickled Sequential that holds the core, through Sequentials only.
	outer := ""
	found := false
	for p := core.prefix; p != ""; {
		q := parent(p)
		if !isSequential(t.modules[q]) {
			break
		}
		outer, found, p = q, true, q
	}
	if found {
		return t.sequentialLayers(outer, core, opts)
	}
	// The nearest enclosing level that holds other modules than the core.
	for q := parent(core.prefix); core.prefix != ""; q = parent(q) {
		switch others, n := t.beside(q, core.prefix); {
		case n > maxBeside:
			return nil, fmt.Errorf("%d modules are beside %s %s, more than fit around it", n, core, under(q))
		case n > 0:
			return t.place(core, q, others, opts)
		}
		if q == "" {
			break
		}
	}
	return []*layer{core}, nil
}

// place arranges the modules whose tensors are under the prefixes others (at level q)
// around core: [Embedding] [LayerNorm] core [LayerNorm] [Linear], each place taken by
// the one module whose shapes fit it. Every module must find its place.
func (t *tree) place(core *layer, q string, others []string, opts Options) ([]*layer, error) {
	in, out := core.widths()
	const (
		slotEmbedding = iota
		slotNormIn
		slotNormOut
		slotHead
		slots
	)
	var placed [slots][]*layer
	// A pickled custom module at q: its modules without parameters must be ones whose
	// place does not matter.
	if o := t.modules[q]; o != nil && !isSequential(o) && q != "" {
		for _, p := range children(o, q) {
			if t.groups[p] != nil || p == core.prefix {
				continue
			}
			switch c := moduleClass(t.modules[p]); c {
			case "Dropout":
			case "":
			default:
				return nil, fmt.Errorf("the forward of %s is not in the file: where its %s %q applies is not known", o.Name, c, p)
			}
		}
	}
	for _, g := range others {
		var l *layer
		if o := t.modules[g]; o != nil && moduleClass(o) != "" {
			var err error
			if l, err = t.moduleLayer(g, o, opts); err != nil {
				return nil, err
			}
		} else {
			l = shapeLayer(g, t.groups[g])
		}
		if l == nil || l.validate() != nil {
			return nil, fmt.Errorf("the tensors %s are no Embedding, Linear or LayerNorm", under(g))
		}
		var fits []int
		li, lo := l.widths()
		switch l.kind {
		case kindEmbedding:
			if lo == in {
				fits = append(fits, slotEmbedding)
			}
			// A table without bias may also be a Linear without bias.
			if l.emb.PaddingIdx == nil && t.modules[g] == nil && l.emb.NumEmbeddings > 0 && l.emb.EmbeddingDim == out {
				fits = append(fits, slotHead)
			}
		case kindLayerNorm:
			if len(l.ln.NormalizedShape) == 1 && li == in {
				fits = append(fits, slotNormIn)
			}
			if len(l.ln.NormalizedShape) == 1 && li == out {
				fits = append(fits, slotNormOut)
			}
		case kindLinear:
			if li == out {
				fits = append(fits, slotHead)
			}
		}
		if len(fits) == 2 && fits[0] == slotEmbedding && fits[1] == slotHead {
			if embeddingHint(g) {
				fits = fits[:1]
			} else {
				fits = fits[1:]
			}
		}
		switch len(fits) {
		case 0:
			return nil, fmt.Errorf("%q, %s, does not fit before or after %s", g, t.describe(l), core)
		case 1:
		default:
			return nil, fmt.Errorf("%q, %s, fits both before and after %s", g, t.describe(l), core)
		}
		if fits[0] == slotHead && l.kind == kindEmbedding {
			l = &layer{prefix: g, kind: kindLinear, tensors: l.tensors,
				lin: rnn.LinearConfig{InFeatures: l.emb.EmbeddingDim, OutFeatures: l.emb.NumEmbeddings}}
		}
		placed[fits[0]] = append(placed[fits[0]], l)
	}
	layers := []*layer{}
	for s := 0; s < slots; s++ {
		if s == slotNormOut {
			layers = append(layers, core)
		}
		switch len(placed[s]) {
		case 0:
		case 1:
			layers = append(layers, placed[s][0])
		default:
			var names []string
			for _, l := range placed[s] {
				names = append(names, strconv.Quote(l.prefix))
			}
			return nil, fmt.Errorf("several modules fit one place around %s: %s", core, strings.Join(names, ", "))
		}
	}
	return layers, nil
}

// describe spells l for an error: as PyTorch prints the module, or, for a weight
// alone of a module whose class the file does not say, as both modules it can be.
func (t *tree) describe(l *layer) string {
	if l.kind == kindEmbedding && t.modules[l.prefix] == nil {
		lin := rnn.LinearConfig{InFeatures: l.emb.EmbeddingDim, OutFeatures: l.emb.NumEmbeddings}
		return fmt.Sprintf("a weight %dx%d alone (%s or %s)", l.emb.NumEmbeddings, l.emb.EmbeddingDim, l, lin)
	}
	return l.String()
}

// shapeLayer returns the layer that the tensors of a module of unknown class make, or
// nil: weight (V, E) alone, an Embedding (or a Linear without bias); weight (O, I) and
// bias (O), a Linear; weight (N) and bias (N), a LayerNorm with PyTorch's default eps.
func shapeLayer(prefix string, g map[string]*pickle.Tensor) *layer {
	w, b := g["weight"], g["bias"]
	switch {
	case w == nil || len(g) > 2 || len(g) == 2 && b == nil:
		return nil
	case len(w.Shape) == 2 && b == nil:
		return &layer{prefix: prefix, kind: kindEmbedding, tensors: g,
			emb: rnn.EmbeddingConfig{NumEmbeddings: w.Shape[0], EmbeddingDim: w.Shape[1]}}
	case len(w.Shape) == 2 && len(b.Shape) == 1:
		return &layer{prefix: prefix, kind: kindLinear, tensors: g,
			lin: rnn.LinearConfig{InFeatures: w.Shape[1], OutFeatures: w.Shape[0], Bias: true}}
	case len(w.Shape) == 1 && (b == nil || slices.Equal(b.Shape, w.Shape)):
		return &layer{prefix: prefix, kind: kindLayerNorm, tensors: g,
			ln: rnn.LayerNormConfig{NormalizedShape: slices.Clone(w.Shape), Eps: 1e-5, ElementwiseAffine: true, Bias: b != nil}}
	}
	return nil
}

// sequentials returns the prefixes of the outermost pickled Sequentials, in the order of
// their first tensors (those without tensors last, by prefix).
func (t *tree) sequentials() []string {
	var out []string
	for p, o := range t.modules {
		if !isSequential(o) {
			continue
		}
		outer := true
		for q := p; q != ""; {
			q = parent(q)
			if isSequential(t.modules[q]) {
				outer = false
				break
			}
		}
		if outer {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// buildLayers builds the layers in T, each validated, reusing core for the core layer.
func buildLayers[T rnn.Float](layers []*layer, core rnn.Layer[T], values func(*pickle.Tensor) ([]T, error)) ([]rnn.Layer[T], error) {
	var out []rnn.Layer[T]
	for _, l := range layers {
		if l.core && core != nil {
			out = append(out, core)
			continue
		}
		if err := l.check(); err != nil {
			return nil, err
		}
		params := map[string][]T{}
		for _, p := range l.params() {
			v, err := values(l.tensors[p.Name])
			if err != nil {
				return nil, fmt.Errorf("%s%s: %w", l.prefix, p.Name, err)
			}
			params[p.Name] = v
		}
		var rl rnn.Layer[T]
		var err error
		switch l.kind {
		case kindRNN:
			rl, err = rnn.New(l.rnn, params)
		case kindCell:
			rl, err = rnn.NewCell(cellConfig(l.rnn), params)
		case kindEmbedding:
			rl, err = rnn.NewEmbedding(l.emb, params)
		case kindLinear:
			rl, err = rnn.NewLinear(l.lin, params)
		case kindLayerNorm:
			rl, err = rnn.NewLayerNorm(l.ln, params)
		case kindDropout:
			rl, err = rnn.NewDropout[T](l.p)
		case kindActivation:
			rl, err = rnn.NewActivation[T](l.act, l.dim)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where(l.prefix), err)
		}
		out = append(out, rl)
	}
	return out, nil
}
