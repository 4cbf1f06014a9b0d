package parity

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ptport/ptport/convert/internal/fileerr"
	"github.com/ptport/ptport/pickle"
)

// The reference schema: what a notebook saves with torch.save, as a dict.
//
//	input                       the model's input (floating point; token ids for a whole
//	                            model that starts with an Embedding)
//	h0, c0                      the initial states (optional; c0 for an LSTM, with h0)
//	h0 = (h0, c0)               as nn.LSTM takes them; also named hx or hidden
//	output                      the model's output
//	h_n, c_n                    the final states (optional; c_n for an LSTM)
//	h_n = (h, c)                as nn.LSTM returns them
//	batch_first, nonlinearity   the configuration, as values (optional)
//
// Any other entry is an error, unless the caller ignores it: a verdict covers exactly
// what it says it compared.
const (
	RefInput        = "input"
	RefH0           = "h0"
	RefC0           = "c0"
	RefOutput       = "output"
	RefHN           = "h_n"
	RefCN           = "c_n"
	RefBatchFirst   = "batch_first"
	RefNonlinearity = "nonlinearity"
)

// stateNames are the names an initial state may have.
var stateNames = []string{RefH0, "hx", "hidden"}

// knownNames are every name of the schema, for suggestions.
var knownNames = []string{RefInput, RefH0, RefC0, "hx", "hidden", RefOutput, RefHN, RefCN, RefBatchFirst, RefNonlinearity}

// synonyms are names users give entries, and the schema's name for them.
var synonyms = map[string]string{
	"x": RefInput, "inputs": RefInput, "inp": RefInput, "input_seq": RefInput,
	"y": RefOutput, "out": RefOutput, "outputs": RefOutput, "output_seq": RefOutput,
	"h": RefHN, "hn": RefHN, "h_out": RefHN, "hidden_out": RefHN, "final_hidden": RefHN, "h_t": RefHN,
	"c": RefCN, "cn": RefCN, "c_out": RefCN, "cell": RefCN, "final_cell": RefCN, "c_t": RefCN,
	"h_0": RefH0, "hidden0": RefH0, "init_hidden": RefH0, "h_init": RefH0, "state": RefH0,
	"c_0": RefC0, "cell0": RefC0, "init_cell": RefC0, "c_init": RefC0,
}

// UnknownEntry is a reference entry outside the schema.
type UnknownEntry struct {
	Name string `json:"name"`
	// Closest is the schema's name the entry most likely means, or "".
	Closest string `json:"closest,omitempty"`
}

// ReferenceError reports a reference that cannot be checked as it is: entries outside
// the schema, states that do not go together, an input that is not floating point,
// configuration values that contradict each other or the model.
type ReferenceError struct {
	File     string
	Unknown  []UnknownEntry
	Problems []Problem
	// BatchFirst, when not nil, is the batch_first setting with which the reference's
	// shapes would fit the model, and do not as it is: the caller's to give
	// (Options.Load.BatchFirst), for neither the reference nor a pickled module fixes it.
	BatchFirst *bool
}

// Problem is one thing wrong with a reference, other than an entry outside the schema.
type Problem struct {
	// Kind says what remedies the problem, for a caller that suggests one.
	Kind ProblemKind
	Msg  string
	// Entries are the reference's entries the problem is about, when its Kind names
	// some.
	Entries []string
}

func (p Problem) String() string { return p.Msg }

// A ProblemKind says what kind of problem of a reference a Problem is.
type ProblemKind int

const (
	// ProblemOther is any problem of no kind below.
	ProblemOther ProblemKind = iota
	// ProblemTokenIDs: the input is token ids, which the model takes run whole
	// (Options.Load.Whole): the whole model around its recurrent module starts with an
	// Embedding.
	ProblemTokenIDs
	// ProblemNotDict: the reference is not a dict of entries but a tuple, a list or a
	// tensor.
	ProblemNotDict
	// ProblemNoFinalState: the whole model gives no final state to compare with the
	// reference's entries Entries (its last layer is not recurrent); Options.Ignore
	// leaves them out.
	ProblemNoFinalState
	// ProblemNotIgnored: Options.Ignore names Entries, which the reference does not hold.
	ProblemNotIgnored
	// ProblemSwapped: the reference holds a recurrent module's weights and the model's
	// file reads as a reference: the two were given the other way round.
	ProblemSwapped
	// ProblemWholeInput: the recurrent module does not take the input, and a whole model
	// is known around it (its layers in the message), whose input it may be: run whole
	// (Options.Load.Whole).
	ProblemWholeInput
)

func (e *ReferenceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%snot a usable reference", fileerr.Prefix(e.File))
	for _, u := range e.Unknown {
		if u.Closest != "" {
			fmt.Fprintf(&b, "\n  %s: not a reference entry; did you mean %s?", u.Name, u.Closest)
		} else {
			fmt.Fprintf(&b, "\n  %s: not a reference entry (known: %s)", u.Name, strings.Join(knownNames, ", "))
		}
	}
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s", p.Msg)
	}
	return b.String()
}

// addf adds a problem of no particular kind.
func (e *ReferenceError) addf(format string, args ...any) {
	e.Problems = append(e.Problems, Problem{Msg: fmt.Sprintf(format, args...)})
}

// referenceErrorf is a *ReferenceError of one problem of no particular kind.
func referenceErrorf(file, format string, args ...any) *ReferenceError {
	e := &ReferenceError{File: file}
	e.addf(format, args...)
	return e
}

// entry is a tensor of the reference and the entry name it came from.
type entry struct {
	name string // e.g. "h_n.1"
	t    *pickle.Tensor
}

func (e entry) ok() bool { return e.t != nil }

// reference is a parsed reference file.
type reference struct {
	file           string
	input          entry
	h0, c0         entry
	output, hn, cn entry
	batchFirst     *bool
	nonlinearity   string
	ignored        []string
}

// parseReference reads the leaves of a reference file by the schema. ignore names
// entries to leave out (a name covers the entries below it, as "hn" covers "hn.0").
// needOutput requires an output to compare with.
func parseReference(file string, root any, leaves []pickle.Leaf, ignore []string, needOutput bool) (*reference, error) {
	r := &reference{file: file}
	rerr := &ReferenceError{File: file}
	problem := func(format string, args ...any) { rerr.addf(format, args...) }
	if what := notDict(root); what != "" {
		// Its entries are indices: naming each as outside the schema would not help.
		rerr.Problems = append(rerr.Problems, Problem{Kind: ProblemNotDict,
			Msg: fmt.Sprintf("the reference is %s, not a dict of named entries: save a dict, as torch.save({\"input\": x, \"output\": y}, \"ref.pt\") (with \"h0\", \"c0\", \"h_n\", \"c_n\" as the model takes and gives them)", what)})
		return nil, rerr
	}
	for _, ig := range ignore {
		if !slices.ContainsFunc(leaves, func(l pickle.Leaf) bool { return covers(ig, l.Name) }) {
			tops := topNames(leaves)
			msg := fmt.Sprintf("%s is to be ignored, but the reference has no such entry (its entries: %s)", ig, strings.Join(tops, ", "))
			// At most 2 edits, and at most half of the name's letters.
			if near := nearest(ig, tops, min(2, len(ig)/2)); near != "" {
				msg += fmt.Sprintf("; did you mean %s?", near)
			}
			rerr.Problems = append(rerr.Problems, Problem{Kind: ProblemNotIgnored, Entries: []string{ig}, Msg: msg})
		}
	}
	ignored := func(name string) bool {
		return slices.ContainsFunc(ignore, func(ig string) bool { return covers(ig, name) })
	}
	// partlyIgnored reports whether entries below top are ignored.
	partlyIgnored := func(top string) bool {
		return slices.ContainsFunc(r.ignored, func(name string) bool { return strings.HasPrefix(name, top+".") })
	}
	// Group the leaves by their top-level entry: "h_n.1" belongs to "h_n".
	type group struct {
		top    string
		leaves []pickle.Leaf
	}
	var groups []*group
	byTop := map[string]*group{}
	for _, l := range leaves {
		if ignored(l.Name) {
			if !slices.Contains(r.ignored, l.Name) {
				r.ignored = append(r.ignored, l.Name)
			}
			continue
		}
		top, _, _ := strings.Cut(l.Name, ".")
		g := byTop[top]
		if g == nil {
			g = &group{top: top}
			byTop[top] = g
			groups = append(groups, g)
		}
		g.leaves = append(g.leaves, l)
	}
	// tensors returns the group's tensor, or its pair of tensors (a tuple) when pairOK;
	// a member of the pair that is ignored is left empty. ok is false, and the problem
	// said, when the group holds something else.
	tensors := func(g *group, pairOK bool) (first, second entry, ok bool) {
		ls := g.leaves
		var es []entry
		for _, l := range ls {
			if t, ok := l.Value.(*pickle.Tensor); ok {
				es = append(es, entry{name: l.Name, t: t})
			}
		}
		if len(es) == len(ls) {
			if len(ls) == 1 && ls[0].Name == g.top {
				return es[0], entry{}, true
			}
			if pairOK {
				var pair [2]entry
				for i := range pair {
					name := fmt.Sprintf("%s.%d", g.top, i)
					if j := slices.IndexFunc(es, func(e entry) bool { return e.name == name }); j >= 0 {
						pair[i] = es[j]
					} else if !slices.Contains(r.ignored, name) {
						break
					}
				}
				if n := btoi(pair[0].ok()) + btoi(pair[1].ok()); n == len(ls) && (n == 2 || partlyIgnored(g.top)) {
					return pair[0], pair[1], true
				}
			}
		}
		want := "a tensor"
		if pairOK {
			want = "a tensor or a tuple of two"
		}
		msg := fmt.Sprintf("%s: want %s, found %s", g.top, want, describeLeaves(ls))
		if g.top == RefOutput && returnedTuple(ls) {
			msg += `: this is the whole tuple the module returns; save its parts apart (y, h_n = model(x); {"output": y, "h_n": h_n})`
		}
		if partlyIgnored(g.top) {
			msg += fmt.Sprintf(" (the rest is ignored: leave out %s as a whole, or a member of its tuple)", g.top)
		}
		problem("%s", msg)
		return entry{}, entry{}, false
	}
	var stateFrom string
	for _, g := range groups {
		switch g.top {
		case RefInput:
			if e, _, ok := tensors(g, false); ok {
				r.input = e
			}
		case RefOutput:
			if e, _, ok := tensors(g, false); ok {
				r.output = e
			}
		case RefH0, "hx", "hidden":
			if stateFrom != "" {
				problem("%s and %s both give the initial state", stateFrom, g.top)
				continue
			}
			stateFrom = g.top
			if h, c, ok := tensors(g, true); ok {
				if c.ok() && r.c0.ok() {
					problem("c0 is given twice: as c0 and as %s", c.name)
				}
				r.h0 = h
				if c.ok() {
					r.c0 = c
				}
			}
		case RefC0:
			if e, _, ok := tensors(g, false); ok {
				if r.c0.ok() {
					problem("c0 is given twice: as %s and as c0", r.c0.name)
				}
				r.c0 = e
			}
		case RefHN:
			if h, c, ok := tensors(g, true); ok {
				if c.ok() && r.cn.ok() {
					problem("c_n is given twice: as c_n and as %s", c.name)
				}
				r.hn = h
				if c.ok() {
					r.cn = c
				}
			}
		case RefCN:
			if e, _, ok := tensors(g, false); ok {
				if r.cn.ok() {
					problem("c_n is given twice: as %s and as c_n", r.cn.name)
				}
				r.cn = e
			}
		case RefBatchFirst:
			if b, ok := g.leaves[0].Value.(bool); ok && len(g.leaves) == 1 && g.leaves[0].Name == g.top {
				r.batchFirst = &b
			} else {
				problem("batch_first: want True or False, found %s", describeLeaves(g.leaves))
			}
		case RefNonlinearity:
			if s, ok := g.leaves[0].Value.(string); ok && len(g.leaves) == 1 && (s == "tanh" || s == "relu") {
				r.nonlinearity = s
			} else {
				problem("nonlinearity: want \"tanh\" or \"relu\", found %s", describeLeaves(g.leaves))
			}
		default:
			rerr.Unknown = append(rerr.Unknown, UnknownEntry{Name: g.top, Closest: closest(g.top)})
		}
	}
	// The input and the output cannot be left out: the model runs on the one, and its
	// results are compared with the other.
	switch {
	case r.input.ok():
	case ignored(RefInput):
		problem("%s is ignored, but the model runs on it: a reference holds the model's input", RefInput)
	default:
		problem("no %q entry: a reference holds the model's input", RefInput)
	}
	switch {
	case !needOutput || r.output.ok():
	case ignored(RefOutput):
		problem("%s is ignored, but it is what the model's output is compared with", RefOutput)
	case len(rerr.Problems) == 0:
		problem("no %q entry: a reference holds the model's output to compare with", RefOutput)
	}
	if r.c0.ok() && !r.h0.ok() {
		problem("%s without h0: PyTorch takes the cell state only with h0, as (h0, c0)", r.c0.name)
	}
	for _, e := range []entry{r.h0, r.c0} { // the input's dtype is the model's to judge (an Embedding takes ids)
		if e.ok() && !floating(e.t.DType) {
			problem("%s is %s: a recurrent module's input and states must be floating point (PyTorch refuses %s)", e.name, e.t.DType, e.t.DType)
		}
	}
	if len(rerr.Unknown)+len(rerr.Problems) > 0 {
		return nil, rerr
	}
	return r, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// floating reports whether d is a floating-point dtype a model can take.
func floating(d pickle.DType) bool {
	switch d {
	case pickle.F64, pickle.F32, pickle.F16, pickle.BF16:
		return true
	}
	return false
}

// describeLeaves says what a group of leaves holds, for errors.
func describeLeaves(ls []pickle.Leaf) string {
	if len(ls) == 1 && !strings.Contains(ls[0].Name, ".") {
		return describeValue(ls[0].Value)
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%s (%s)", l.Name, describeValue(l.Value))
	}
	return strings.Join(parts, ", ")
}

func describeValue(v any) string {
	switch v := v.(type) {
	case *pickle.Tensor:
		return fmt.Sprintf("a %s tensor of shape %v", v.DType, v.Shape)
	case string:
		return fmt.Sprintf("the string %q", v)
	case nil:
		return "None"
	}
	return fmt.Sprintf("%T %v", v, v)
}

// covers reports whether the entry name ig, to be ignored, covers the entry name: it
// or one below it ("hn" covers "hn" and "hn.0").
func covers(ig, name string) bool { return name == ig || strings.HasPrefix(name, ig+".") }

// notDict says what the reference's root is when it is not a dict of entries ("a tuple
// of 2", "one tensor"), or "".
func notDict(root any) string {
	switch v := root.(type) {
	case pickle.Tuple:
		return fmt.Sprintf("a tuple of %d", len(v))
	case pickle.List:
		return fmt.Sprintf("a list of %d", len(v))
	case *pickle.Tensor:
		return "one tensor"
	}
	return ""
}

// topNames are the distinct top-level entries of leaves, in their order.
func topNames(leaves []pickle.Leaf) []string {
	var names []string
	for _, l := range leaves {
		if top, _, _ := strings.Cut(l.Name, "."); !slices.Contains(names, top) {
			names = append(names, top)
		}
	}
	return names
}

// nearest returns the name of names nearest to name by edit distance, case aside, when
// it is at most maxEdits edits away (the first of those equally near), or "".
func nearest(name string, names []string, maxEdits int) string {
	low := strings.ToLower(name)
	best, bestD := "", maxEdits+1
	for _, k := range names {
		if d := editDistance(low, strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// closest returns the schema's name that name most likely means: a known synonym, or the
// nearest name by edit distance when it is near enough (at most 2 edits, and fewer than
// half of the name's letters); "" when none is.
func closest(name string) string {
	low := strings.ToLower(name)
	if s, ok := synonyms[low]; ok {
		return s
	}
	return nearest(low, knownNames, min(2, (len(low)-1)/2))
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// returnedTuple reports whether the leaves of an output entry are what a recurrent
// module's forward returns, saved whole: a tensor at output.0, and output.1 (h_n) or
// output.1.0 and output.1.1 (an LSTM's (h_n, c_n)) beside it.
func returnedTuple(ls []pickle.Leaf) bool {
	has := func(name string) bool {
		return slices.ContainsFunc(ls, func(l pickle.Leaf) bool {
			_, ok := l.Value.(*pickle.Tensor)
			return ok && l.Name == name
		})
	}
	return has(RefOutput+".0") && (has(RefOutput+".1") || has(RefOutput+".1.0"))
}
