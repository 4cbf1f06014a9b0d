package pickle

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
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
func (w *leafWalker) scriptObject(o *Object, p leafPath, depth int) error {
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
			if err := w.walkChild(e.Value, p, e.Key, depth); err != nil {
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
		p := leafPath{}
		for i := len(keys) - 1; i >= 0 && len(p.name) < 256; i-- {
			p = p.at(keyName(keys[i]))
		}
		return shortPath(p.name)
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

// checkScriptCode refuses a TorchScript archive whose code defines
// __setstate__. torch.load hands an archive with a constants.pkl to
// torch.jit.load, which calls that method, code of the archive, on the state
// of each object of its class that data.pkl builds; TorchScript can write
// files (torch.from_file with shared=True creates and maps one), and ptport,
// which runs none of it, cannot show it harmless. Every code/*.py record is
// read, whether data.pkl builds its classes or not.
func (r *reader) checkScriptCode() error {
	var names []string
	for name := range r.records {
		if strings.HasPrefix(name, "code/") && strings.HasSuffix(name, ".py") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if err := r.scanScriptCode(name); err != nil {
			return err
		}
	}
	return nil
}

// scanScriptCode reads one code record, line by line, for the name
// __setstate__, keeping the class it lies in for the message.
func (r *reader) scanScriptCode(name string) error {
	src, off, size, err := r.recordSource(r.records[name])
	if err != nil {
		return err
	}
	module := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(name, "code/"), ".py"), "/", ".")
	token := []byte("__setstate__")
	br := bufio.NewReaderSize(io.NewSectionReader(src, off, size), 64<<10)
	var at int64 // offset of frag in the record
	class, line, lineStart, carry := "", 1, true, []byte(nil)
	for {
		frag, err := br.ReadSlice('\n')
		if lineStart {
			if rest, ok := bytes.CutPrefix(frag, []byte("class ")); ok {
				class = string(rest[:min(len(rest), 256)])
				if i := strings.IndexAny(class, "(: \r\n"); i >= 0 {
					class = class[:i]
				}
			}
		}
		joined := append(carry, frag...)
		if i := bytes.Index(joined, token); i >= 0 {
			if !validDotted(module + "." + class) {
				module, class = name, "(a class)"
			}
			return &UnsafeGlobalError{File: r.name,
				Where:  fmt.Sprintf("%s offset %d (line %d)", name, at-int64(len(carry))+int64(i), line),
				Module: module, Name: class, Resolved: module + "." + class,
				Reason: ReasonScriptCode, Denied: true}
		}
		at += int64(len(frag))
		lineStart = err != bufio.ErrBufferFull
		carry = nil
		if lineStart {
			line++
		} else {
			carry = append(carry, frag[len(frag)-len(token)+1:]...)
		}
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return nil
		default:
			return r.errf(name, "%v", err)
		}
	}
}
