package pickle

import (
	"fmt"
	"math/big"
	"reflect"
	"strconv"
)

// Leaf is a named leaf of the object tree: a *Tensor or a non-tensor value
// (int64, float64, string, bool, nil, ...).
type Leaf struct {
	Name  string
	Value any
}

// Limits of Leaves, proportional to the size of the tree.
const (
	leafVisitFactor = 8 // visits allowed per distinct edge of the tree
	leafVisitFloor  = 1 << 16
	leafNameFactor  = 256 // name bytes allowed per distinct edge
	leafNameFloor   = 16 << 20
)

// Leaves returns the leaves of root in tree order, named by the dotted path
// from root: dict keys (ints in decimal), then list and tuple indices. A
// tensor at the root is named "tensor". Empty containers have no leaves.
//
// An *Object whose state has _parameters or _modules is an nn.Module and
// yields the names its state_dict() would: its _parameters (skipping
// None), its persistent _buffers (skipping None and names in
// _non_persistent_buffers_set), then its _modules recursively. Other
// objects yield their state's leaves, or are a leaf themselves when they
// have no state. A Dict's Attrs are not leaves.
//
// An *Object of TorchScript's __torch__ namespace (a module of a TorchScript archive)
// yields the names torch.jit.load(...).state_dict() would: its tensor attributes, then
// its attributes that are such objects, recursively; its other attributes are not
// leaves.
//
// A quantized tensor NAME yields NAME and its parameters (see Quantization); a
// *SparseTensor and a *NestedTensor yield their components (see their types).
//
// Values reachable by several paths (tied weights) are yielded once per
// path. A cycle, a tree nested deeper than 1000 levels, or a walk much
// larger than the tree (shared subtrees multiplying paths) is an error.
func Leaves(root any) ([]Leaf, error) {
	edges, err := countEdges(root)
	if err != nil {
		return nil, err
	}
	w := &leafWalker{
		onPath:    make(map[any]bool),
		visitLeft: leafVisitFactor*edges + leafVisitFloor,
		nameLeft:  leafNameFactor*edges + leafNameFloor,
	}
	if err := w.walk(root, "", 0); err != nil {
		return nil, err
	}
	return w.out, nil
}

// identity returns a comparable identity for containers that can be
// shared or cyclic, or nil for plain values.
func identity(v any) any {
	switch x := v.(type) {
	case *Dict, *Object, *Tensor:
		return v
	case List:
		if len(x) > 0 {
			return &x[0]
		}
	case Tuple:
		if len(x) > 0 {
			return &x[0]
		}
	}
	return nil
}

// children calls fn for each (key, child) of a container.
func children(v any, fn func(key any, child any)) {
	switch x := v.(type) {
	case *Dict:
		for _, e := range x.Entries {
			fn(e.Key, e.Value)
		}
	case List:
		for i, e := range x {
			fn(i, e)
		}
	case Tuple:
		for i, e := range x {
			fn(i, e)
		}
	case *Object:
		fn("Args", x.Args)
		fn("State", x.State)
	default:
		if _, parts, ok := components(v); ok {
			for _, p := range parts {
				fn(p.Name, p.Value)
			}
		}
	}
}

// countEdges counts the edges between distinct containers, iteratively.
func countEdges(root any) (int, error) {
	seen := make(map[any]bool)
	stack := []any{root}
	edges := 0
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id := identity(v); id != nil {
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		if o, ok := v.(*Object); ok {
			// Args is a []any, not a List: walk it here.
			for _, a := range o.Args {
				edges++
				stack = append(stack, a)
			}
			edges++
			stack = append(stack, o.State)
			continue
		}
		children(v, func(_ any, c any) {
			edges++
			stack = append(stack, c)
		})
	}
	return edges, nil
}

type leafWalker struct {
	out       []Leaf
	onPath    map[any]bool
	visitLeft int
	nameLeft  int
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// keyName renders a dict key as a path component.
func keyName(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case *big.Int:
		return x.String()
	case bool:
		if x {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []byte:
		return string(x)
	case Global:
		return x.String()
	case Tuple:
		s := "("
		for i, e := range x {
			if i > 0 {
				s += ", "
			}
			s += keyName(e)
		}
		return s + ")"
	}
	return fmt.Sprintf("<%s>", reflect.TypeOf(k))
}

func (w *leafWalker) emit(name string, v any) error {
	w.nameLeft -= len(name)
	if w.nameLeft < 0 {
		return &FormatError{Where: name, Msg: "leaf names too long for the size of the tree (shared or deeply nested subtrees)"}
	}
	w.out = append(w.out, Leaf{Name: name, Value: v})
	return nil
}

func (w *leafWalker) walk(v any, name string, depth int) error {
	w.visitLeft--
	if w.visitLeft < 0 {
		return &FormatError{Where: name, Msg: "the tree has too many paths for its size (shared subtrees)"}
	}
	if depth > maxDepth {
		return &FormatError{Where: name, Msg: fmt.Sprintf("tree nesting depth exceeds %d", maxDepth)}
	}
	id := identity(v)
	if id != nil {
		if _, isTensor := v.(*Tensor); !isTensor {
			if w.onPath[id] {
				return &FormatError{Where: name, Msg: "the object tree contains a cycle"}
			}
			w.onPath[id] = true
			defer delete(w.onPath, id)
		}
	}
	if ok, err := w.composite(v, name, depth); ok {
		return err
	}
	switch x := v.(type) {
	case *Dict:
		for _, e := range x.Entries {
			if err := w.walk(e.Value, join(name, keyName(e.Key)), depth+1); err != nil {
				return err
			}
		}
		return nil
	case List:
		for i, e := range x {
			if err := w.walk(e, join(name, strconv.Itoa(i)), depth+1); err != nil {
				return err
			}
		}
		return nil
	case Tuple:
		for i, e := range x {
			if err := w.walk(e, join(name, strconv.Itoa(i)), depth+1); err != nil {
				return err
			}
		}
		return nil
	case *Object:
		if isScriptObject(x) {
			return w.scriptObject(x, name, depth)
		}
		if isModule(x) {
			return w.module(x, name, depth)
		}
		if x.State == nil {
			return w.emit(name, x)
		}
		return w.walk(x.State, name, depth+1)
	}
	return w.emit(name, v)
}

// isModule reports whether o looks like an nn.Module: its state has
// _parameters or _modules.
func isModule(o *Object) bool {
	if _, ok := o.Attr("_parameters"); ok {
		return true
	}
	_, ok := o.Attr("_modules")
	return ok
}

// module walks an nn.Module as state_dict() does.
func (w *leafWalker) module(o *Object, name string, depth int) error {
	if p, ok := o.Attr("_parameters"); ok {
		if d, ok := p.(*Dict); ok {
			for _, e := range d.Entries {
				if e.Value == nil {
					continue
				}
				if err := w.walk(e.Value, join(name, keyName(e.Key)), depth+1); err != nil {
					return err
				}
			}
		}
	}
	if b, ok := o.Attr("_buffers"); ok {
		if d, ok := b.(*Dict); ok {
			skip := map[string]bool{}
			if np, ok := o.Attr("_non_persistent_buffers_set"); ok {
				if items, ok := np.(List); ok {
					for _, it := range items {
						if s, ok := it.(string); ok {
							skip[s] = true
						}
					}
				}
			}
			for _, e := range d.Entries {
				k := keyName(e.Key)
				if e.Value == nil || skip[k] {
					continue
				}
				if err := w.walk(e.Value, join(name, k), depth+1); err != nil {
					return err
				}
			}
		}
	}
	if m, ok := o.Attr("_modules"); ok {
		if d, ok := m.(*Dict); ok {
			for _, e := range d.Entries {
				if e.Value == nil {
					continue
				}
				if err := w.walk(e.Value, join(name, keyName(e.Key)), depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
