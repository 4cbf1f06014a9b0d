package pickle

import (
	"fmt"
	"strings"
)

// isScriptObject reports whether o is an object of TorchScript's __torch__
// namespace (a scripted or traced module, or a TorchScript class).
func isScriptObject(o *Object) bool {
	return o.Module == "__torch__" || strings.HasPrefix(o.Module, "__torch__.")
}

// scriptObject walks a TorchScript module as torch.jit.load(...).state_dict()
// names it: its attributes that are tensors, then its attributes that are
// TorchScript objects, recursively. Other attributes are not leaves: ints,
// strings and flags, and lists (the _flat_weights of a recurrent module repeat
// its parameters).
func (w *leafWalker) scriptObject(o *Object, name string, depth int) error {
	d := o.Attrs
	if d == nil {
		return nil
	}
	for pass := 0; pass < 2; pass++ {
		for _, e := range d.Entries {
			_, _, isTensor := components(e.Value)
			sub, isObject := e.Value.(*Object)
			if pass == 0 && !isTensor || pass == 1 && (!isObject || !isScriptObject(sub)) {
				continue
			}
			if err := w.walkChild(e.Value, name, e.Key, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkScript refuses a TorchScript archive whose objects keep a state that only
// their code interprets (a __getstate__ tuple set by __setstate__, as quantized
// modules do): reading it would mean running that code.
func (r *reader) checkScript(root any, where string) error {
	// Paths are built only for the message: a node keeps its parent and key.
	type item struct {
		v      any
		parent *item
		key    any
	}
	path := func(it *item) string {
		var keys []any
		for ; it != nil && it.parent != nil; it = it.parent {
			keys = append(keys, it.key)
		}
		s := ""
		for i := len(keys) - 1; i >= 0 && len(s) < 256; i-- {
			s = join(s, keyName(keys[i]))
		}
		return shortPath(s)
	}
	seen := make(map[any]bool)
	stack := []*item{{v: root}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id := identity(it.v); id != nil {
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		if o, ok := it.v.(*Object); ok && isScriptObject(o) {
			if o.Attrs == nil || o.State != nil {
				at := path(it)
				if at == "" {
					at = "the root object"
				}
				return r.errf(where, "TorchScript object %s (%s.%s) keeps its state as %s, which only its TorchScript code interprets (__setstate__); ptport does not run TorchScript code",
					at, o.Module, o.Name, stateKind(o.State))
			}
		}
		children(it.v, func(key, child any) {
			stack = append(stack, &item{child, it, key})
		})
	}
	return nil
}

func stateKind(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case Tuple:
		return "a tuple"
	case List:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}
