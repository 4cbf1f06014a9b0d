package pickle

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"unsafe"
)

// Leaf is a named leaf of the object tree: a *Tensor or a non-tensor value
// (int64, float64, string, bool, nil, ...).
type Leaf struct {
	Name  string
	Value any
	part  *leafPart // nil for a leaf that is not a part of a tensor
}

// A leafPart is what the leaves of one part of a tensor stored as several leaves are
// a part of: the leaves of a part that is a tuple share it.
type leafPart struct {
	of   any
	name string
}

// Of returns the tensor stored as several leaves that l is a part of (a *SparseTensor,
// a *NestedTensor, or a quantized *Tensor, whose own leaf holds its integers), or nil
// for other leaves.
func (l Leaf) Of() any {
	if l.part == nil {
		return nil
	}
	return l.part.of
}

// Part names the part of the tensor Of that l is: "indices", "values", "size",
// "scale", ... (l.Name is then the tensor's name, ".", Part, and for a part that is a
// tuple, ".", the index); it is empty for other leaves.
func (l Leaf) Part() string {
	if l.part == nil {
		return ""
	}
	return l.part.name
}

// Limits of Leaves, proportional to the size of the tree.
const (
	leafVisitFactor = 8 // visits allowed per distinct edge of the tree
	leafVisitFloor  = 1 << 16
	leafNameFactor  = 256 // bytes of paths allowed per distinct edge
	leafNameFloor   = 16 << 20
	// The plain values of leaves that share their bytes with an earlier leaf (a
	// string of the memo at many places) are charged against the same
	// allowance as the paths, each time but the first: what a consumer renders
	// of them, once per leaf, is not in the file that many times.
	// leafShareMin is the smallest value charged so.
	leafShareMin = 64
)

// Leaves returns the leaves of root in tree order, named by the dotted path
// from root: dict keys, then list and tuple indices. A tensor at the root
// is named "tensor". An empty dict, list or tuple below the root (at any key,
// the empty key "" too) is a leaf of its own, its value the empty container,
// so that every output keeps it; an empty root has no leaves. The empty key
// is a key like any other: {"": {"": x}} names x ".".
//
// A dict key is named by its value: a string as it is, an int in decimal,
// True, False, None, a float as Go's shortest decimal, bytes as their
// text, a tuple as "(a, b)", a numpy scalar as its value, a global as
// "module.name". A key that is a tensor, an object or a storage (Python
// hashes those by identity) is named <tensor#N>, <object#N> or
// <storage#N>, N counting from 0 the distinct keys of that kind in the
// order Leaves first meets them; the same tensor is the same key wherever
// it appears. The names are stable: the same file always gives the same
// names.
//
// An *Object whose Attrs hold _parameters or _modules is an nn.Module and
// yields the names its state_dict() would: its _parameters (skipping
// None), its persistent _buffers (skipping None and names in
// _non_persistent_buffers_set), then its _modules recursively. Another
// *Object yields first the leaf NAME.__class__ (ClassKey), the string
// "module.Name" of its class (NAME.__call__, CallKey, for the record of a
// call: the class or function called), then the leaves of its Args (by
// index), its Kwargs, Attrs and Items (by key), its List (by index) and its
// State (at the object's own name). A Dict's Attrs are not leaves.
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
// path. No two leaves have the same name: keys that print alike (1 and
// "1") and a key holding a dot that names the path of nested keys (a key
// "a.b" beside a key "a" holding "b") are an error saying which of the two
// it is, and so are a cycle, a tree nested deeper than MaxDepth, and a walk
// much larger than the tree: more than 8 visits per edge between distinct
// values (keys included) plus 65536, or paths longer in all than 256 bytes
// per edge plus 16 MiB (shared subtrees multiplying paths, long keys over
// many children), or values yielded again at other paths more in all than
// that allowance (a string, bytes, big int or class name of 64 bytes or
// more whose bytes an earlier leaf holds: one string of the memo at many
// places, which a consumer would render once per leaf). Each path is
// charged before it is built.
func Leaves(root any) ([]Leaf, error) { return leaves(root, false, &poller{}) }

// LeavesContext is Leaves, stopping once ctx is done: it looks at ctx every few thousand
// values walked and returns an error that wraps ctx.Err().
func LeavesContext(ctx context.Context, root any) ([]Leaf, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := leaves(root, false, &poller{ctx: ctx})
	if err != nil {
		if stop := stopped(ctx, ""); stop != nil {
			return nil, stop
		}
		return nil, err
	}
	return out, nil
}

// leaves walks root as Leaves does, counting its steps with poll; with whole, a value
// stored as several tensors (a quantized, sparse or nested tensor) is one leaf, as in a
// module's state_dict().
func leaves(root any, whole bool, poll *poller) ([]Leaf, error) {
	edges, plain, err := countEdges(root, poll)
	if err != nil {
		return nil, err
	}
	// The leaves of a tree without shared subtrees are about its plain values: room
	// for them is made once, as the tree's own values take room already.
	w := &leafWalker{
		poll:      poll,
		whole:     whole,
		onPath:    make(map[any]bool),
		visitLeft: leafVisitFactor*int64(edges) + leafVisitFloor,
		nameLeft:  leafNameFactor*int64(edges) + leafNameFloor,
		shareLeft: leafNameFactor*int64(edges) + leafNameFloor,
		edges:     edges,
		out:       make([]Leaf, 0, plain),
	}
	w.names.init(plain)
	if err := w.walk(root, leafPath{}, 0); err != nil {
		return nil, err
	}
	return w.out, nil
}

// identity returns a comparable identity for containers that can be
// shared or cyclic, or nil for plain values.
func identity(v any) any {
	switch x := v.(type) {
	case *Dict, *Object, *Tensor, *SparseTensor, *NestedTensor:
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
		for i, a := range x.Args {
			fn(i, a)
		}
		for _, d := range []*Dict{x.Kwargs, x.Attrs, x.Items} {
			for _, e := range d.entries() {
				fn(e.Key, e.Value)
			}
		}
		for i, e := range x.List {
			fn(i, e)
		}
		if x.State != nil {
			fn("State", x.State)
		}
	default:
		if _, parts, ok := components(v); ok {
			for _, p := range parts {
				fn(p.Name, p.Value)
			}
		}
	}
}

// countEdges counts the edges between distinct containers, iteratively, and the plain
// values among their children (not keys): values that are not a dict, list, tuple or
// object with something in it.
func countEdges(root any, poll *poller) (edges, plain int, err error) {
	seen := make(map[any]bool)
	stack := []any{root}
	push := func(c any) {
		edges++
		// A plain value has no edges of its own, and a container seen has had them
		// counted (one shared by many places is not stacked as many times).
		if id := identity(c); id != nil && !seen[id] {
			stack = append(stack, c)
		}
	}
	value := func(c any) {
		if _, ok := c.(*Object); !ok && (identity(c) == nil || isEmptyContainer(c)) {
			plain++
		}
		push(c)
	}
	for len(stack) > 0 {
		if err := poll.step(); err != nil {
			return 0, 0, err
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id := identity(v); id != nil {
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		switch x := v.(type) {
		case *Object:
			// Its dicts are walked as dicts, keys included.
			for _, a := range x.Args {
				value(a)
			}
			for _, d := range []*Dict{x.Kwargs, x.Attrs, x.Items} {
				if d != nil {
					push(d)
				}
			}
			for _, e := range x.List {
				value(e)
			}
			value(x.State)
		case *Dict:
			// Keys are walked too (a tuple key can be a tree of its own).
			for _, e := range x.Entries {
				push(e.Key)
				value(e.Value)
			}
		case List:
			for _, c := range x {
				value(c)
			}
		case Tuple:
			for _, c := range x {
				value(c)
			}
		default:
			children(v, func(_ any, c any) { value(c) })
		}
	}
	return edges, plain, nil
}

type leafWalker struct {
	whole     bool      // composite values are leaves, not their parts
	part      *leafPart // the part of a composite being walked
	out       []Leaf
	onPath    map[any]bool
	visitLeft int64
	nameLeft  int64 // bytes of paths left to build
	shareLeft int64 // bytes of shared values left to yield (see shareCharge)
	shared    map[plainID]bool
	classes   map[[2]plainID]string // "module.Name" of the classes of objects, by their strings
	edges     int
	keyLens   map[any]int64           // rendered length of tuple and big int keys, by identity
	modules   map[*Object]*moduleInfo // what module() needs of each object, found once
	names     nameSet                 // names yielded, with their paths' shapes
	keyIDs    map[any]string          // names of keys Python hashes by identity: <tensor#0>, ...
	keyCount  map[string]int          // such keys named, by kind
	buf       []byte                  // the name of the path being built
	digits    [20]byte                // room for a decimal int

	poll *poller // counts the values walked
}

// A leafPath is the place of a value in the tree: the root (the zero path) or the keys
// that lead to it from the root. Its name joins the keys with dots; the root's name is
// empty, and so is the name of the value at the root's key "", which is not the root.
type leafPath struct {
	name  string
	below bool   // not the root: the path has keys
	shape uint64 // a hash of where the name's keys begin and end
}

// at returns the path of the component s (a key, or a part of a tensor) below p.
func (p leafPath) at(s string) leafPath {
	name := s
	if p.below {
		name = p.name + "." + s
	}
	return p.named(name)
}

// named returns the path below p of the name p's, a dot and a component.
func (p leafPath) named(name string) leafPath {
	// FNV-1a over the end of each key in the name: two paths of one name have one
	// shape when their keys print alike, and differ when a key holds a dot. The hash
	// starts from FNV's offset basis, not 0, so that an empty first key (ending at 0)
	// changes it too: the path "" "" of the name "." is not the key ".".
	h := p.shape
	if !p.below {
		h = 14695981039346656037
	}
	return leafPath{name: name, below: true, shape: (h ^ uint64(len(name))) * 1099511628211}
}

// child returns the path of the child at key below p, charging the length of its name
// before building it.
func (w *leafWalker) child(p leafPath, key any) (leafPath, error) {
	n, err := w.keyLen(key, 0)
	if err != nil {
		return leafPath{}, &FormatError{Where: shortPath(p.name), Msg: err.Error()}
	}
	if err := w.charge(p, n); err != nil {
		return leafPath{}, err
	}
	w.buf = appendKeyLimit(w.start(p), key, math.MaxInt, w.keyIDs)
	return p.named(string(w.buf)), nil
}

// item returns the path of the item i of a list or tuple below p, as child does for
// the key i.
func (w *leafWalker) item(p leafPath, i int) (leafPath, error) {
	if err := w.charge(p, int64(len(strconv.AppendInt(w.digits[:0], int64(i), 10)))); err != nil {
		return leafPath{}, err
	}
	w.buf = strconv.AppendInt(w.start(p), int64(i), 10)
	return p.named(string(w.buf)), nil
}

// charge charges the name of a path below p whose last key takes n bytes.
func (w *leafWalker) charge(p leafPath, n int64) error {
	if p.below {
		n += int64(len(p.name)) + 1
	}
	if n > w.nameLeft {
		return &FormatError{Where: shortPath(p.name), Msg: fmt.Sprintf("the paths of the tree would take more than %d bytes, the limit for a tree of %d edges (shared subtrees or long keys over many values)", leafNameFactor*int64(w.edges)+leafNameFloor, w.edges)}
	}
	w.nameLeft -= n
	return nil
}

// start returns w.buf holding the start of the name of a path below p: p's name and a
// dot, or nothing below the root.
func (w *leafWalker) start(p leafPath) []byte {
	if !p.below {
		return w.buf[:0]
	}
	return append(append(w.buf[:0], p.name...), '.')
}

// keyLen returns the length of keyName(k) without building it, memoising
// tuples and big ints so that shared keys cost their distinct parts. The
// length saturates at 1<<50.
func (w *leafWalker) keyLen(k any, depth int) (int64, error) {
	const most = 1 << 50
	switch x := k.(type) {
	case string:
		return int64(len(x)), nil
	case []byte:
		return int64(len(x)), nil
	case int64:
		return int64(len(strconv.AppendInt(w.digits[:0], x, 10))), nil
	case int:
		return int64(len(strconv.AppendInt(w.digits[:0], int64(x), 10))), nil
	case bool, nil, float64, Global, Scalar:
		return int64(len(keyName(k))), nil
	case *Tensor, *Object, *Storage:
		return int64(len(w.identityKey(k))), nil
	case *big.Int:
		if x == nil {
			break
		}
		if n, ok := w.keyLens[x]; ok {
			return n, nil
		}
		n := int64(len(x.String()))
		w.memoKeyLen(x, n)
		return n, nil
	case Tuple:
		if len(x) == 0 {
			return 2, nil
		}
		if n, ok := w.keyLens[&x[0]]; ok {
			return n, nil
		}
		if depth > MaxDepth {
			return 0, fmt.Errorf("dict key nesting depth exceeds %d", MaxDepth)
		}
		n := 2 + 2*int64(len(x)-1)
		for _, e := range x {
			m, err := w.keyLen(e, depth+1)
			if err != nil {
				return 0, err
			}
			n = min(n+m, most)
		}
		w.memoKeyLen(&x[0], n)
		return n, nil
	}
	return int64(len(keyName(k))), nil
}

// identityKey returns the name of a key Python hashes by identity, naming
// it when it is met first.
func (w *leafWalker) identityKey(k any) string {
	if s, ok := w.keyIDs[k]; ok {
		return s
	}
	kind := identityKind(k)
	if w.keyIDs == nil {
		w.keyIDs, w.keyCount = make(map[any]string), make(map[string]int)
	}
	s := "<" + kind + "#" + strconv.Itoa(w.keyCount[kind]) + ">"
	w.keyCount[kind]++
	w.keyIDs[k] = s
	return s
}

func identityKind(k any) string {
	switch k.(type) {
	case *Object:
		return "object"
	case *Storage:
		return "storage"
	}
	return "tensor"
}

func (w *leafWalker) memoKeyLen(id any, n int64) {
	if w.keyLens == nil {
		w.keyLens = make(map[any]int64)
	}
	w.keyLens[id] = n
}

// shortPath returns a path for a message: long paths are cut.
func shortPath(name string) string {
	const most = 256
	if len(name) <= most {
		return name
	}
	return fmt.Sprintf("%s... (a path of %d bytes)", name[:most], len(name))
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// keyName renders a dict key as a path component, for messages: a key
// hashed by identity is <tensor>, <object> or <storage>.
func keyName(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return string(appendKey(nil, k))
}

// appendKey appends keyName(k) to b.
func appendKey(b []byte, k any) []byte { return appendKeyLimit(b, k, math.MaxInt, nil) }

// appendKeyLimit appends the name of k to b, or its start when b would
// grow past limit bytes. ids names the keys hashed by identity (nil: by
// kind only).
func appendKeyLimit(b []byte, k any, limit int, ids map[any]string) []byte {
	switch x := k.(type) {
	case string:
		return append(b, x[:max(0, min(len(x), limit-len(b)))]...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case *big.Int:
		return x.Append(b, 10)
	case bool:
		if x {
			return append(b, "True"...)
		}
		return append(b, "False"...)
	case nil:
		return append(b, "None"...)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case []byte:
		return append(b, x[:max(0, min(len(x), limit-len(b)))]...)
	case Global:
		return append(append(append(b, x.Module...), '.'), x.Name...)
	case Tuple:
		b = append(b, '(')
		for i, e := range x {
			if len(b) >= limit {
				return b
			}
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendKeyLimit(b, e, limit, ids)
		}
		return append(b, ')')
	case Scalar:
		return append(b, x.String()...)
	case *Tensor, *Object, *Storage:
		if s, ok := ids[k]; ok {
			return append(b, s...)
		}
		return append(append(append(b, '<'), identityKind(k)...), '>')
	}
	return fmt.Appendf(b, "<%s>", reflect.TypeOf(k))
}

// emit yields the leaf v at p. A name that an earlier leaf has is an error that says
// why: the keys of the two paths print alike, or one path's key holds the dot that
// separates the other's keys.
func (w *leafWalker) emit(p leafPath, v any) error {
	slot, shape, found := w.names.find(p.name, w.out)
	if found {
		why := "dict keys that print alike, such as 1 and \"1\""
		if shape != uint32(p.shape) {
			why = "a key holding a dot, such as \"a.b\", names the path of nested keys, such as a[\"b\"]"
		}
		return &FormatError{Where: shortPath(p.name), Msg: "two leaves have this name (" + why + "); ptport does not guess which is which"}
	}
	if err := w.shareCharge(p, v); err != nil {
		return err
	}
	if int64(len(w.out)) >= maxLeaves {
		return &FormatError{Where: shortPath(p.name), Msg: fmt.Sprintf("the tree has more than %d leaves", int64(maxLeaves))}
	}
	w.out = append(w.out, Leaf{Name: p.name, Value: v, part: w.part})
	w.names.add(slot, len(w.out)-1, uint32(p.shape), w.out)
	return nil
}

// A plainID identifies the bytes of a plain value (a string, bytes, a big int): the
// values of one string of the memo, yielded at many places, share them.
type plainID struct {
	p unsafe.Pointer
	n int
}

// plainBytes returns the identity of v's bytes and how many bytes rendering v takes
// (about), for a string, bytes, a big int or a global; ok is false for other values.
func plainBytes(v any) (id plainID, n int64, ok bool) {
	switch x := v.(type) {
	case string:
		return plainID{unsafe.Pointer(unsafe.StringData(x)), len(x)}, int64(len(x)), true
	case []byte:
		return plainID{unsafe.Pointer(unsafe.SliceData(x)), len(x)}, int64(len(x)), true
	case *big.Int:
		if x != nil {
			return plainID{unsafe.Pointer(x), 0}, int64(x.BitLen()/3 + 2), true
		}
	case Global:
		return plainID{unsafe.Pointer(unsafe.StringData(x.Module)), len(x.Module)}, int64(len(x.Module) + len(x.Name) + 1), true
	}
	return plainID{}, 0, false
}

// shareCharge charges the leaf value v at p when its bytes are those of a value
// yielded before, as the leaves of one string of the memo at many places are: a
// consumer renders each leaf's value, so that a file holding a string once could
// otherwise make the leaves take its length as many times as it has paths.
func (w *leafWalker) shareCharge(p leafPath, v any) error {
	id, n, ok := plainBytes(v)
	if !ok || n < leafShareMin {
		return nil
	}
	if !w.shared[id] {
		if w.shared == nil {
			w.shared = make(map[plainID]bool)
		}
		w.shared[id] = true
		return nil
	}
	if n > w.shareLeft {
		return &FormatError{Where: shortPath(p.name), Msg: fmt.Sprintf("the values of the tree's leaves would take more than %d bytes beyond their first paths, the limit for a tree of %d edges (one string, bytes or int reached by many paths)", leafNameFactor*int64(w.edges)+leafNameFloor, w.edges)}
	}
	w.shareLeft -= n
	return nil
}

// className returns "module.Name" of o's class, one string for the objects whose
// class is named by the same strings, so that shareCharge sees them shared.
func (w *leafWalker) className(o *Object) string {
	key := [2]plainID{{unsafe.Pointer(unsafe.StringData(o.Module)), len(o.Module)}, {unsafe.Pointer(unsafe.StringData(o.Name)), len(o.Name)}}
	if s, ok := w.classes[key]; ok {
		return s
	}
	if w.classes == nil {
		w.classes = make(map[[2]plainID]string)
	}
	s := o.Module + "." + o.Name
	w.classes[key] = s
	return s
}

func (w *leafWalker) walk(v any, p leafPath, depth int) error {
	if err := w.poll.step(); err != nil {
		return err
	}
	w.visitLeft--
	if w.visitLeft < 0 {
		return &FormatError{Where: shortPath(p.name), Msg: fmt.Sprintf("the tree has too many paths: more than %d, the limit for a tree of %d edges (shared subtrees)", leafVisitFactor*int64(w.edges)+leafVisitFloor, w.edges)}
	}
	if depth > MaxDepth {
		return &FormatError{Where: shortPath(p.name), Msg: fmt.Sprintf("tree nesting depth exceeds %d", MaxDepth)}
	}
	id := identity(v)
	if id != nil {
		if _, isTensor := v.(*Tensor); !isTensor {
			if w.onPath[id] {
				return &FormatError{Where: shortPath(p.name), Msg: "the object tree contains a cycle"}
			}
			w.onPath[id] = true
			defer delete(w.onPath, id)
		}
	}
	if ok, err := w.composite(v, p, depth); ok {
		return err
	}
	if p.below && isEmptyContainer(v) {
		return w.emit(p, v)
	}
	switch x := v.(type) {
	case *Dict:
		return w.entries(x, p, depth, nil)
	case List:
		return w.items(x, p, depth)
	case Tuple:
		return w.items(x, p, depth)
	case *Object:
		if isScriptObject(x) {
			return w.scriptObject(x, p, depth)
		}
		if isModule(x) {
			return w.module(x, p, depth)
		}
		return w.object(x, p, depth)
	}
	return w.emit(p, v)
}

// isEmptyContainer reports whether v is a dict, list or tuple with nothing in it.
func isEmptyContainer(v any) bool {
	switch x := v.(type) {
	case *Dict:
		return len(x.Entries) == 0
	case List:
		return len(x) == 0
	case Tuple:
		return len(x) == 0
	}
	return false
}

// ClassKey and CallKey name the leaf that says what an *Object that is not a module
// is: NAME.__class__ holds "module.Name" of an instance's class, NAME.__call__ that
// of the class or function whose call an object records (Object.Called).
const (
	ClassKey = "__class__"
	CallKey  = "__call__"
)

// object walks an *Object that is not a module: the leaf of its class (ClassKey or
// CallKey), then its Args, Kwargs, Attrs, Items, List and State.
func (w *leafWalker) object(o *Object, p leafPath, depth int) error {
	key := ClassKey
	if o.Called {
		key = CallKey
	}
	at, err := w.child(p, key)
	if err != nil {
		return err
	}
	if err := w.emit(at, w.className(o)); err != nil {
		return err
	}
	if err := w.items(o.Args, p, depth); err != nil {
		return err
	}
	for _, d := range []*Dict{o.Kwargs, o.Attrs, o.Items} {
		if d != nil {
			if err := w.entries(d, p, depth, nil); err != nil {
				return err
			}
		}
	}
	if err := w.items(o.List, p, depth); err != nil {
		return err
	}
	if o.State != nil {
		return w.walk(o.State, p, depth+1)
	}
	return nil
}

// items walks the elements of a list or tuple.
func (w *leafWalker) items(x []any, p leafPath, depth int) error {
	for i, e := range x {
		at, err := w.item(p, i)
		if err != nil {
			return err
		}
		if err := w.walk(e, at, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// entries walks the values of d, skipping nil values and the string keys
// in skip when skip is not nil (as a module's state_dict() does).
func (w *leafWalker) entries(d *Dict, p leafPath, depth int, skip map[string]bool) error {
	for _, e := range d.Entries {
		if skip != nil {
			if s, ok := e.Key.(string); e.Value == nil || ok && skip[s] {
				continue
			}
		}
		if err := w.walkChild(e.Value, p, e.Key, depth); err != nil {
			return err
		}
	}
	return nil
}

// walkChild walks v, the child at key of the value at p, depth levels deep.
func (w *leafWalker) walkChild(v any, p leafPath, key any, depth int) error {
	at, err := w.child(p, key)
	if err != nil {
		return err
	}
	return w.walk(v, at, depth+1)
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

// moduleInfo is what the walk needs of an nn.Module's state, found once per
// object however many paths reach it.
type moduleInfo struct {
	parameters, buffers, modules *Dict
	nonPersistent                map[string]bool
}

func (w *leafWalker) moduleInfo(o *Object) *moduleInfo {
	if m, ok := w.modules[o]; ok {
		return m
	}
	m := &moduleInfo{nonPersistent: map[string]bool{}}
	dict := func(name string) *Dict {
		v, _ := o.Attr(name)
		d, _ := v.(*Dict)
		return d
	}
	m.parameters, m.buffers, m.modules = dict("_parameters"), dict("_buffers"), dict("_modules")
	if np, ok := o.Attr("_non_persistent_buffers_set"); ok {
		if items, ok := np.(List); ok {
			for _, it := range items {
				if s, ok := it.(string); ok {
					m.nonPersistent[s] = true
				}
			}
		}
	}
	if w.modules == nil {
		w.modules = make(map[*Object]*moduleInfo)
	}
	w.modules[o] = m
	return m
}

// module walks an nn.Module as state_dict() does.
func (w *leafWalker) module(o *Object, p leafPath, depth int) error {
	m := w.moduleInfo(o)
	for _, d := range []*Dict{m.parameters, m.buffers, m.modules} {
		if d == nil {
			continue
		}
		skip := map[string]bool{}
		if d == m.buffers {
			skip = m.nonPersistent
		}
		if err := w.entries(d, p, depth, skip); err != nil {
			return err
		}
	}
	return nil
}
