package convert

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ptport/ptport/convert/internal/ctxio"
	"github.com/ptport/ptport/convert/internal/fileerr"
	"github.com/ptport/ptport/convert/internal/leaf"
	"github.com/ptport/ptport/pickle"
	"github.com/ptport/ptport/rnn"
)

// A paramName is the name of a recurrent module's parameter, PREFIX KIND_lLAYER, with
// _reverse after it for the reverse direction, split; a cell's parameter is PREFIX KIND,
// with no layer. KIND is weight_ih, weight_hh, bias_ih, bias_hh or (a module's only)
// weight_hr; a prefix holds no newline.
type paramName struct {
	prefix, kind string
	layer        string // decimal digits; "" for a cell
	reverse      bool
}

// paramKinds are the kinds of a recurrent parameter; a cell has no weight_hr.
var paramKinds = [...]string{"weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"}

// parseParam splits the name of a recurrent module's parameter (cell false) or a cell's
// (cell true), in time linear in the name's length at worst, and reports whether it is
// one.
func parseParam(name string, cell bool) (paramName, bool) {
	var p paramName
	rest := name
	if !cell {
		rest, p.reverse = strings.CutSuffix(rest, "_reverse")
		i := len(rest)
		for i > 0 && '0' <= rest[i-1] && rest[i-1] <= '9' {
			i--
		}
		if i == len(rest) || !strings.HasSuffix(rest[:i], "_l") {
			return paramName{}, false
		}
		p.layer, rest = rest[i:], rest[:i-len("_l")]
	}
	kinds := paramKinds[:]
	if cell {
		kinds = kinds[:len(kinds)-1]
	}
	for _, k := range kinds {
		if prefix, ok := strings.CutSuffix(rest, k); ok && !strings.Contains(prefix, "\n") {
			p.prefix, p.kind = prefix, k
			return p, true
		}
	}
	return paramName{}, false
}

// isParam reports whether name is the name of a recurrent module's or a cell's parameter.
func isParam(name string) bool {
	_, module := parseParam(name, false)
	_, cell := parseParam(name, true)
	return module || cell
}

// candidate is one recurrent module or cell found in a checkpoint: the tensors under its
// prefix and, when the checkpoint pickled the module itself, that module.
type candidate struct {
	prefix  string
	cell    bool
	tensors map[string]*pickle.Tensor // by name without the prefix
	order   []string
	module  *pickle.Object
}

// candidates groups the checkpoint's tensors by the prefix of their recurrent parameter
// names (a module's, with a layer suffix, or a cell's, without), in the order the
// prefixes first appear; mods are the checkpoint's pickled modules. It stops with poll's
// error.
func candidates(cp *Checkpoint, mods map[string]*pickle.Object, poll *ctxio.Poller) ([]*candidate, error) {
	var list []*candidate
	type key struct {
		prefix string
		cell   bool
	}
	byPrefix := map[key]*candidate{}
	for _, l := range cp.Leaves {
		if err := poll.Step(); err != nil {
			return nil, err
		}
		t, ok := l.Value.(*pickle.Tensor)
		if !ok {
			continue
		}
		k := key{}
		if p, ok := parseParam(l.Name, false); ok {
			k.prefix = p.prefix
		} else if p, ok := parseParam(l.Name, true); ok {
			k = key{p.prefix, true}
		} else {
			continue
		}
		c := byPrefix[k]
		if c == nil {
			c = &candidate{prefix: k.prefix, cell: k.cell, tensors: map[string]*pickle.Tensor{}}
			byPrefix[k] = c
			list = append(list, c)
		}
		name := strings.TrimPrefix(l.Name, k.prefix)
		c.tensors[name] = t
		c.order = append(c.order, name)
	}
	for prefix, mod := range mods {
		switch class := moduleClass(mod); class {
		case "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell":
			if c := byPrefix[key{prefix, strings.HasSuffix(class, "Cell")}]; c != nil {
				c.module = mod
			}
		}
	}
	return list, nil
}

// modules finds the pickled torch.nn modules in the object tree (and the objects of
// other classes that hold them in their _modules), by the prefix their parameters' names
// have. The walk visits each container once, at most 1<<20 of them and 1000 levels deep
// (pickle.Leaves refuses deeper trees); a prefix is built only for a module found. It
// stops with poll's error.
func modules(root any, poll *ctxio.Poller) (map[string]*pickle.Object, error) {
	type place struct {
		parent *place
		key    string
	}
	prefix := func(p *place) string {
		var keys []string
		for ; p != nil; p = p.parent {
			keys = append(keys, p.key)
		}
		if len(keys) == 0 {
			return ""
		}
		slices.Reverse(keys)
		return strings.Join(keys, ".") + "."
	}
	found := map[string]*pickle.Object{}
	seen := map[any]bool{}
	budget := 1 << 20
	var err error
	var walk func(v any, at *place, depth int)
	walk = func(v any, at *place, depth int) {
		if budget--; budget < 0 || depth > 1000 || err != nil {
			return
		}
		if err = poll.Step(); err != nil {
			return
		}
		child := func(key string) *place { return &place{at, key} }
		switch v := v.(type) {
		case *pickle.Dict:
			if seen[v] {
				return
			}
			seen[v] = true
			for _, e := range v.Entries {
				walk(e.Value, child(keyString(e.Key)), depth+1)
			}
		case pickle.List:
			if len(v) == 0 || seen[&v[0]] {
				return
			}
			seen[&v[0]] = true
			for i, e := range v {
				walk(e, child(strconv.Itoa(i)), depth+1)
			}
		case pickle.Tuple:
			if len(v) == 0 || seen[&v[0]] {
				return
			}
			seen[&v[0]] = true
			for i, e := range v {
				walk(e, child(strconv.Itoa(i)), depth+1)
			}
		case *pickle.Object:
			if seen[v] {
				return
			}
			seen[v] = true
			if _, ok := v.Attr("_modules"); ok || moduleClass(v) != "" {
				found[prefix(at)] = v
			}
			if mods, ok := v.Attr("_modules"); ok {
				if d, ok := mods.(*pickle.Dict); ok {
					for _, e := range d.Entries {
						walk(e.Value, child(keyString(e.Key)), depth+1)
					}
				}
			}
		}
	}
	walk(root, nil, 0)
	if err != nil {
		return nil, err
	}
	return found, nil
}

// keyString is a dict key as tensor names spell it. A tuple key, which no module's
// state holds, is not spelled out.
func keyString(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case int64:
		return strconv.FormatInt(k, 10)
	case pickle.Tuple, pickle.List, *pickle.Dict:
		return "<" + fmt.Sprintf("%T", k) + ">"
	}
	return fmt.Sprint(k)
}

// moduleClass is the class name of a pickled module of torch.nn ("LSTM", "Linear",
// "Sequential", ...), or "" for an object of another class.
func moduleClass(o *pickle.Object) string {
	if !strings.HasPrefix(o.Module, "torch.nn.modules.") {
		return ""
	}
	return o.Name
}

// Options are the settings of a model that a state_dict does not store.
type Options struct {
	// Prefix selects the module whose parameter names start with it when a checkpoint
	// holds several ("encoder.rnn."; the trailing dot may be left out).
	Prefix string
	// Nonlinearity is "tanh" or "relu" for a plain RNN; "" means the pickled module's
	// own, or tanh. It is an error for an LSTM or a GRU, and for a pickled module whose
	// mode says otherwise.
	Nonlinearity string
	// BatchFirst makes input and output (batch, seq, feature), as the module's
	// batch_first; a pickled module's own batch_first also sets it, and BatchFirst with
	// a pickled module whose batch_first is False is an error.
	BatchFirst bool
	// BatchFirstSet says BatchFirst was given, false as well as true: a pickled module
	// whose batch_first is not BatchFirst is then an error either way, where a false
	// BatchFirst alone leaves the module's own batch_first to decide.
	BatchFirstSet bool
	// Whole makes Forward run the whole model (Model.Layers) from its input, token ids
	// for an Embedding, to its output, not the recurrent module alone. It is an error when
	// the layers around the recurrent module are not known.
	Whole bool
	// OutputLimit bounds the bytes Forward may compute: its input's rows (the elements
	// of all but its last dimension; of all, for token ids) times the model's widest
	// dimension times the size of an element, checked before anything is computed. A
	// Forward past it is a *pickle.LimitError of Limit LimitOutput. 0 means
	// max(64 × (the bytes of the input's storage + the model's weights), 256 MiB); a
	// negative value means no limit.
	OutputLimit int64
}

// LimitOutput is the Limit of the *pickle.LimitError of a Forward past
// Options.OutputLimit.
const LimitOutput = "output"

// Defaults of Options.OutputLimit.
const (
	outputFactor = 64
	outputFloor  = 256 << 20
)

// AmbiguousError reports a checkpoint that holds several recurrent modules when no
// prefix selects one (Options.Prefix).
type AmbiguousError struct {
	File       string
	Candidates []string // each prefix and its architecture, e.g. `"enc." LSTM(32, 64)`
}

func (e *AmbiguousError) Error() string {
	file := e.File
	if file == "" {
		file = "the checkpoint"
	}
	return fmt.Sprintf("%s holds %d recurrent modules; choose one by its prefix:\n  %s",
		file, len(e.Candidates), strings.Join(e.Candidates, "\n  "))
}

// ValidationError reports every way a module's tensors differ from what its
// configuration needs, as load_state_dict(strict=True) does.
type ValidationError struct {
	File       string
	Prefix     string
	Config     rnn.Config // a cell's: a one-layer network of its mode
	Cell       bool       // the module is a cell
	Missing    []string   // expected parameters absent from the file
	Unexpected []string   // parameters the configuration has no place for
	Mismatched []string   // "name: shape [a b] in file, [c d] expected"
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	module := e.Config.String()
	if e.Cell {
		module = cellConfig(e.Config).String()
	}
	fmt.Fprintf(&b, "%sthe tensors %s do not fit %s", fileerr.Prefix(e.File), under(e.Prefix), module)
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "\n  missing keys: %s", strings.Join(e.Missing, ", "))
	}
	if len(e.Unexpected) > 0 {
		fmt.Fprintf(&b, "\n  unexpected keys: %s", strings.Join(e.Unexpected, ", "))
	}
	for _, m := range e.Mismatched {
		fmt.Fprintf(&b, "\n  size mismatch: %s", m)
	}
	return b.String()
}

// choose picks the candidate the options select.
func choose(cp *Checkpoint, cands []*candidate, opts Options) (*candidate, error) {
	if opts.Prefix != "" {
		want := strings.TrimSuffix(opts.Prefix, ".") + "."
		for _, c := range cands {
			if c.prefix == want {
				return c, nil
			}
		}
		var have []string
		for _, c := range cands {
			have = append(have, strconv.Quote(c.prefix))
		}
		if len(have) == 0 {
			return nil, fileerr.Errorf(cp.Path, "no recurrent module weights (weight_ih_l0, ...) found")
		}
		return nil, fileerr.Errorf(cp.Path, "no recurrent module or cell under prefix %q; found %s", opts.Prefix, strings.Join(have, ", "))
	}
	switch len(cands) {
	case 0:
		return nil, fileerr.Errorf(cp.Path, "no recurrent module weights (weight_ih_l0, weight_hh_l0, ... or a cell's weight_ih, weight_hh, ...) found among its %d tensors", leaf.CountTensors(cp.Leaves))
	case 1:
		return cands[0], nil
	}
	err := &AmbiguousError{File: cp.Path}
	for _, c := range cands {
		arch := "(unrecognized shapes)"
		if cfg, ierr := infer(c, opts); ierr == nil {
			arch = c.describe(cfg)
		}
		err.Candidates = append(err.Candidates, fmt.Sprintf("%q %s", c.prefix, arch))
	}
	return nil, err
}

// infer derives the configuration: from the pickled module's attributes when there is
// one, from the tensors' names and shapes otherwise.
func infer(c *candidate, opts Options) (rnn.Config, error) {
	if c.cell {
		return inferCell(c, opts)
	}
	if c.module != nil {
		return fromModule(c.module, opts)
	}
	var cfg rnn.Config
	ih, hh := c.tensors["weight_ih_l0"], c.tensors["weight_hh_l0"]
	if ih == nil || hh == nil || len(ih.Shape) != 2 || len(hh.Shape) != 2 {
		return cfg, errors.New("weight_ih_l0 and weight_hh_l0 must be present and 2-D to infer the configuration")
	}
	hidden, hout := hh.Shape[1], hh.Shape[1]
	if hr := c.tensors["weight_hr_l0"]; hr != nil && len(hr.Shape) == 2 {
		cfg.ProjSize = hr.Shape[0]
		hidden = hr.Shape[1]
		if hout != cfg.ProjSize {
			return cfg, fmt.Errorf("weight_hh_l0 %v does not match weight_hr_l0 %v", hh.Shape, hr.Shape)
		}
	}
	if hidden <= 0 || hh.Shape[0]%hidden != 0 {
		// Weights stored transposed, (inputs, gates × hidden): infer from the transposed
		// shapes, so that validate names every transposed weight.
		if t, ok := transposedConfig(ih.Shape, hh.Shape, c.tensors["weight_hr_l0"] != nil); ok {
			cfg = t
			hidden = t.HiddenSize
		} else {
			return cfg, fmt.Errorf("weight_hh_l0 has shape %v: its rows are not a multiple of its hidden size %d", hh.Shape, hidden)
		}
	}
	switch g := hh.Shape[0] / hidden; {
	case cfg.Mode != rnn.RNNTanh: // known from the transposed shapes
	case g == 1:
		cfg.Mode = rnn.RNNTanh
		if opts.Nonlinearity == "relu" {
			cfg.Mode = rnn.RNNReLU
		}
	case g == 3:
		cfg.Mode = rnn.GRU
	case g == 4:
		cfg.Mode = rnn.LSTM
	default:
		return cfg, fmt.Errorf("weight_hh_l0 has shape %v: %d gates of hidden size %d is no RNN (1), GRU (3) or LSTM (4)", hh.Shape, g, hidden)
	}
	if cfg.InputSize == 0 {
		cfg.InputSize = ih.Shape[1]
	}
	cfg.HiddenSize = hidden
	for name := range c.tensors {
		p, _ := parseParam(name, false)
		layer, _ := strconv.Atoi(p.layer)
		cfg.NumLayers = max(cfg.NumLayers, layer+1)
		cfg.Bidirectional = cfg.Bidirectional || p.reverse
		cfg.Bias = cfg.Bias || strings.HasPrefix(p.kind, "bias")
	}
	cfg.BatchFirst = opts.BatchFirst
	if opts.Nonlinearity != "" && cfg.Mode != rnn.RNNTanh && cfg.Mode != rnn.RNNReLU {
		return cfg, fmt.Errorf("the nonlinearity option applies to nn.RNN only; the module is %s", cfg.String())
	}
	return cfg, nil
}

// transposedConfig infers the configuration from the shapes of weight_ih_l0 and
// weight_hh_l0 read as transposed: (inputs, gates × hidden) and (hidden, gates × hidden).
func transposedConfig(ih, hh []int, proj bool) (rnn.Config, bool) {
	if proj || len(ih) != 2 || len(hh) != 2 || hh[0] <= 0 || hh[1]%hh[0] != 0 || ih[1] != hh[1] {
		return rnn.Config{}, false
	}
	cfg := rnn.Config{InputSize: ih[0], HiddenSize: hh[0]}
	switch hh[1] / hh[0] {
	case 3:
		cfg.Mode = rnn.GRU
	case 4:
		cfg.Mode = rnn.LSTM
	default:
		return rnn.Config{}, false // 1 gate: square weight_hh, which loads
	}
	return cfg, true
}

// inferCell derives a cell's configuration, as a one-layer network of its mode: from the
// pickled cell's attributes, or from the tensors' shapes.
func inferCell(c *candidate, opts Options) (rnn.Config, error) {
	cfg := rnn.Config{NumLayers: 1}
	if opts.BatchFirst {
		return cfg, errors.New("a cell takes one step of (batch, features): it has no batch_first")
	}
	if o := c.module; o != nil {
		a := attrReader{o: o}
		cfg.InputSize, cfg.HiddenSize, cfg.Bias = a.int("input_size"), a.int("hidden_size"), a.bool("bias")
		if a.err != nil {
			return cfg, fmt.Errorf("pickled %s module: %w", o.Name, a.err)
		}
		switch o.Name {
		case "LSTMCell":
			cfg.Mode = rnn.LSTM
		case "GRUCell":
			cfg.Mode = rnn.GRU
		default:
			nl, _ := o.Attr("nonlinearity")
			switch nl {
			case "tanh":
				cfg.Mode = rnn.RNNTanh
			case "relu":
				cfg.Mode = rnn.RNNReLU
			default:
				return cfg, fmt.Errorf("pickled RNNCell module has nonlinearity %v", nl)
			}
		}
	} else {
		ih, hh := c.tensors["weight_ih"], c.tensors["weight_hh"]
		if ih == nil || hh == nil || len(ih.Shape) != 2 || len(hh.Shape) != 2 {
			return cfg, errors.New("weight_ih and weight_hh must be present and 2-D to infer the cell's configuration")
		}
		h := hh.Shape[1]
		if h <= 0 || hh.Shape[0]%h != 0 {
			return cfg, fmt.Errorf("weight_hh has shape %v: its rows are not a multiple of its hidden size %d", hh.Shape, h)
		}
		switch g := hh.Shape[0] / h; g {
		case 1:
			cfg.Mode = rnn.RNNTanh
		case 3:
			cfg.Mode = rnn.GRU
		case 4:
			cfg.Mode = rnn.LSTM
		default:
			return cfg, fmt.Errorf("weight_hh has shape %v: %d gates of hidden size %d is no RNNCell (1), GRUCell (3) or LSTMCell (4)", hh.Shape, g, h)
		}
		cfg.InputSize, cfg.HiddenSize = ih.Shape[1], h
		cfg.Bias = c.tensors["bias_ih"] != nil || c.tensors["bias_hh"] != nil
	}
	switch {
	case opts.Nonlinearity == "":
	case cfg.Mode != rnn.RNNTanh && cfg.Mode != rnn.RNNReLU:
		return cfg, fmt.Errorf("the nonlinearity option applies to nn.RNN and nn.RNNCell only; the cell is %s", cellConfig(cfg))
	case c.module != nil && (opts.Nonlinearity == "relu") != (cfg.Mode == rnn.RNNReLU):
		return cfg, fmt.Errorf("the options set nonlinearity %q, but the pickled RNNCell module has nonlinearity %s", opts.Nonlinearity, map[bool]string{true: "relu", false: "tanh"}[cfg.Mode == rnn.RNNReLU])
	case opts.Nonlinearity == "relu":
		cfg.Mode = rnn.RNNReLU
	}
	return cfg, nil
}

// cellConfig is the cell whose one step the one-layer network c computes.
func cellConfig(c rnn.Config) rnn.CellConfig {
	return rnn.CellConfig{Mode: c.Mode, InputSize: c.InputSize, HiddenSize: c.HiddenSize, Bias: c.Bias}
}

// params returns the parameters the candidate needs with configuration cfg.
func (c *candidate) params(cfg rnn.Config) []rnn.Param {
	if c.cell {
		return cellConfig(cfg).Params()
	}
	return cfg.Params()
}

// describe spells the candidate's module with configuration cfg as PyTorch prints it.
func (c *candidate) describe(cfg rnn.Config) string {
	if c.cell {
		return cellConfig(cfg).String()
	}
	return cfg.String()
}

// fromModule reads the configuration from a pickled module's attributes.
func fromModule(o *pickle.Object, opts Options) (rnn.Config, error) {
	var cfg rnn.Config
	ints := map[string]*int{"input_size": &cfg.InputSize, "hidden_size": &cfg.HiddenSize, "num_layers": &cfg.NumLayers, "proj_size": &cfg.ProjSize}
	for name, dst := range ints {
		v, ok := o.Attr(name)
		if !ok {
			if name == "proj_size" {
				continue // modules pickled before proj_size existed
			}
			return cfg, fmt.Errorf("pickled %s module has no attribute %s", o.Name, name)
		}
		n, ok := v.(int64)
		if !ok {
			return cfg, fmt.Errorf("pickled %s module: %s is %T, not an int", o.Name, name, v)
		}
		if n < 0 || n > math.MaxInt32 {
			return cfg, fmt.Errorf("pickled %s module: %s is %d, out of range", o.Name, name, n)
		}
		*dst = int(n)
	}
	bools := map[string]*bool{"bias": &cfg.Bias, "batch_first": &cfg.BatchFirst, "bidirectional": &cfg.Bidirectional}
	for name, dst := range bools {
		v, _ := o.Attr(name)
		b, ok := v.(bool)
		if !ok {
			return cfg, fmt.Errorf("pickled %s module: %s is %T, not a bool", o.Name, name, v)
		}
		*dst = b
	}
	if (opts.BatchFirst || opts.BatchFirstSet) && opts.BatchFirst != cfg.BatchFirst {
		if opts.BatchFirst {
			return cfg, fmt.Errorf("the options set batch_first, but the pickled %s module has batch_first=False", o.Name)
		}
		return cfg, fmt.Errorf("the options set batch_first=False, but the pickled %s module has batch_first=True", o.Name)
	}
	mode, _ := o.Attr("mode")
	switch mode {
	case "RNN_TANH":
		cfg.Mode = rnn.RNNTanh
	case "RNN_RELU":
		cfg.Mode = rnn.RNNReLU
	case "LSTM":
		cfg.Mode = rnn.LSTM
	case "GRU":
		cfg.Mode = rnn.GRU
	default:
		return cfg, fmt.Errorf("pickled %s module has mode %v", o.Name, mode)
	}
	switch {
	case opts.Nonlinearity == "":
	case cfg.Mode != rnn.RNNTanh && cfg.Mode != rnn.RNNReLU:
		return cfg, fmt.Errorf("the nonlinearity option applies to nn.RNN only; the pickled module is %s", cfg.String())
	case (opts.Nonlinearity == "relu") != (cfg.Mode == rnn.RNNReLU):
		return cfg, fmt.Errorf("the options set nonlinearity %q, but the pickled %s module has mode %s", opts.Nonlinearity, o.Name, mode)
	}
	return cfg, nil
}

// validate checks the candidate's tensors against what cfg needs, reporting every
// missing, unexpected and mis-shaped key together: unexpected are the candidate's
// tensors that cfg has no place for and the other tensors of leaves under its prefix,
// which no recurrent module has (load_state_dict(strict=True) reports them).
func validate(file string, leaves []pickle.Leaf, c *candidate, cfg rnn.Config) error {
	verr := &ValidationError{File: file, Prefix: c.prefix, Config: cfg, Cell: c.cell}
	if err := cfg.Validate(); err != nil {
		return fileerr.Errorf(file, "%s: %w", where(c.prefix), err)
	}
	want := map[string]bool{}
	for _, p := range c.params(cfg) {
		want[p.Name] = true
		t, ok := c.tensors[p.Name]
		if !ok {
			verr.Missing = append(verr.Missing, c.prefix+p.Name)
			continue
		}
		if !slices.Equal(t.Shape, p.Shape) {
			m := fmt.Sprintf("%s%s: shape %v in file, %v expected", c.prefix, p.Name, t.Shape, p.Shape)
			if len(p.Shape) == 2 && slices.Equal(t.Shape, []int{p.Shape[1], p.Shape[0]}) {
				m += " (transposed: PyTorch stores a weight as (gates × hidden, inputs))"
			}
			verr.Mismatched = append(verr.Mismatched, m)
		}
	}
	for _, name := range c.order {
		if !want[name] {
			verr.Unexpected = append(verr.Unexpected, c.prefix+name)
		}
	}
	for _, l := range leaves {
		if _, ok := l.Value.(*pickle.Tensor); ok && strings.HasPrefix(l.Name, c.prefix) && !isParam(l.Name) {
			verr.Unexpected = append(verr.Unexpected, l.Name)
		}
	}
	sort.Strings(verr.Missing)
	if len(verr.Missing)+len(verr.Unexpected)+len(verr.Mismatched) > 0 {
		return verr
	}
	return nil
}

// where names the module whose parameters' names start with prefix, for an error about
// it: the quoted prefix, or "at the root" for the empty one (which quoted would print
// as "").
func where(prefix string) string {
	if prefix == "" {
		return "at the root"
	}
	return strconv.Quote(prefix)
}

// under says where the tensors of names starting with prefix are: under the quoted
// prefix, or "at the root".
func under(prefix string) string {
	if prefix == "" {
		return "at the root"
	}
	return "under " + strconv.Quote(prefix)
}

// subject names the module at prefix as the subject of a sentence: the quoted prefix,
// or "the root".
func subject(prefix string) string {
	if prefix == "" {
		return "the root"
	}
	return strconv.Quote(prefix)
}
