package pickle

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"sort"

	"github.com/nlpodyssey/gopickle/types"
)

// The machine's values under construction: dicts, sets and instances.
// They become the package's values (Dict, List, Object, ...) when the
// pickle is converted.

// pyDict is a dict, collections.OrderedDict, Counter or defaultdict: keys
// in insertion order, a key set again keeping its place, as in Python.
type pyDict struct {
	kind  gkind // gDict, gOrderedDict, gCounter or gDefaultDict
	keys  []any
	vals  []any
	index map[hkey]int
	attrs *pyDict // attributes BUILD set (an OrderedDict's _metadata)
}

func newPyDict(kind gkind) *pyDict { return &pyDict{kind: kind, index: make(map[hkey]int)} }

func (d *pyDict) set(h *hasher, k, v any) error {
	hk, err := h.key(k, 0)
	if err != nil {
		return err
	}
	if i, ok := d.index[hk]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[hk] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func (d *pyDict) get(h *hasher, k any) (any, bool) {
	hk, err := h.key(k, 0)
	if err != nil {
		return nil, false
	}
	i, ok := d.index[hk]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// pySet is a set or frozenset: distinct items in insertion order.
type pySet struct {
	frozen bool
	items  []any
	index  map[hkey]bool
}

func (s *pySet) add(h *hasher, v any) error {
	hk, err := h.key(v, 0)
	if err != nil {
		return err
	}
	if s.index == nil {
		s.index = make(map[hkey]bool)
	}
	if !s.index[hk] {
		s.index[hk] = true
		s.items = append(s.items, v)
	}
	return nil
}

// objVal is an *Object under construction.
type objVal struct {
	o     *Object
	user  bool // an instance of a class of user code
	value bool // the record of a call of a value class (gValueClass)
	args  []any
	kw    *pyDict
	attrs *pyDict
	items *pyDict
	list  []any
	state any
}

// hkey is a Python hash key: values equal in Python have equal keys.
type hkey struct {
	t byte
	i int64
	s string
}

// hasher computes the dict keys of values, as Python hashes them: numbers
// by value (1, 1.0 and True are one key), strings and bytes by content,
// tuples and frozensets by their items, tensors, storages and objects by
// identity; lists, dicts, sets and bytearrays are unhashable. Tuple keys
// are digested once each, so a key built from shared sub-tuples costs
// what its distinct tuples cost.
type hasher struct {
	ids    map[any]int64
	tuples map[*types.Tuple]hkey
	sets   map[*pySet]hkey
	nan    int64
}

func (r *reader) hasher() *hasher {
	if r.hash == nil {
		r.hash = &hasher{ids: make(map[any]int64), tuples: make(map[*types.Tuple]hkey), sets: make(map[*pySet]hkey)}
	}
	return r.hash
}

func (h *hasher) id(p any) int64 {
	if i, ok := h.ids[p]; ok {
		return i
	}
	i := int64(len(h.ids) + 1)
	h.ids[p] = i
	return i
}

func floatKey(f float64) hkey {
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return hkey{t: 'i', i: int64(f)}
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], math.Float64bits(f))
	return hkey{t: 'f', s: string(b[:])}
}

func (h *hasher) key(v any, depth int) (hkey, error) {
	if depth > MaxDepth {
		return hkey{}, fmt.Errorf("dict key nested deeper than %d levels", MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		return hkey{t: 'N'}, nil
	case bool:
		if x {
			return hkey{t: 'i', i: 1}, nil
		}
		return hkey{t: 'i'}, nil
	case int64:
		return hkey{t: 'i', i: x}, nil
	case *big.Int:
		if x.IsInt64() {
			return hkey{t: 'i', i: x.Int64()}, nil
		}
		return hkey{t: 'I', s: x.String()}, nil
	case float64:
		if math.IsNaN(x) {
			h.nan++ // NaN equals nothing: each is its own key
			return hkey{t: 'n', i: h.nan}, nil
		}
		return floatKey(x), nil
	case complex128:
		if imag(x) == 0 {
			return h.key(real(x), depth)
		}
		return hkey{t: 'c', s: fmt.Sprint(x)}, nil
	case string:
		return hkey{t: 's', s: x}, nil
	case []byte:
		return hkey{t: 'b', s: string(x)}, nil
	case Scalar:
		return h.key(x.Value(), depth)
	case *pyClass:
		return hkey{t: 'g', s: x.String()}, nil
	case *npDType:
		return hkey{t: 'd', s: x.str()}, nil
	case *types.Tuple:
		if k, ok := h.tuples[x]; ok {
			return k, nil
		}
		d := sha256.New()
		for _, e := range *x {
			k, err := h.key(e, depth+1)
			if err != nil {
				return hkey{}, err
			}
			writeKey(d, k)
		}
		k := hkey{t: 't', s: string(d.Sum(nil))}
		h.tuples[x] = k
		return k, nil
	case *pySet:
		if !x.frozen {
			break
		}
		if k, ok := h.sets[x]; ok {
			return k, nil
		}
		keys := make([]string, len(x.items))
		for i, e := range x.items {
			k, err := h.key(e, depth+1)
			if err != nil {
				return hkey{}, err
			}
			d := sha256.New()
			writeKey(d, k)
			keys[i] = string(d.Sum(nil))
		}
		sort.Strings(keys)
		d := sha256.New()
		for _, k := range keys {
			d.Write([]byte(k))
		}
		k := hkey{t: 'F', s: string(d.Sum(nil))}
		h.sets[x] = k
		return k, nil
	case *tensorVal, *objVal, *Storage:
		return hkey{t: 'p', i: h.id(x)}, nil
	}
	return hkey{}, fmt.Errorf("unhashable dict key or set item: %s", typeName(v))
}

func writeKey(d interface{ Write([]byte) (int, error) }, k hkey) {
	var b [17]byte
	b[0] = k.t
	binary.LittleEndian.PutUint64(b[1:], uint64(k.i))
	binary.LittleEndian.PutUint64(b[9:], uint64(len(k.s)))
	d.Write(b[:])
	d.Write([]byte(k.s))
}

// ---- the machine's operations on instances ----

// global resolves a global named by GLOBAL, STACK_GLOBAL or INST.
func (m *machine) global(module, name string) (*pyClass, error) {
	c, err := m.r.findClass(module, name, m.proto < 3)
	if err != nil {
		return nil, err
	}
	if err := m.woGlobal(c); err != nil {
		return nil, err
	}
	return c, nil
}

// woGlobal applies weights_only's rule on globals to c.
func (m *machine) woGlobal(c *pyClass) error {
	if c.wo || (!m.r.opts.Strict && m.r.woErr != nil) {
		return nil
	}
	e := c.refuse(ReasonStrict)
	e.Where = m.where(m.op)
	if m.r.opts.Strict {
		return e
	}
	m.r.woErr = e
	return nil
}

// Globals of user code as values.
//
// What torch.load hands, while it unpickles, to code of torch, numpy or the
// standard library is governed: the state BUILD gives an instance of an
// allowed class, a dict or a tensor (its __setstate__, or its methods, may
// call any attribute: ModuleDict.__setitem__ calls self.add_module,
// Optimizer.__setstate__ self._hook_for_profile), the items SETITEMS and
// APPENDS give an instance of an allowed class (its __setitem__, extend,
// append), the arguments of an allowed function or class (LambdaLR calls
// lr_lambda, a defaultdict its factory, a tensor its backward hooks), the
// persistent ids torch's loader reads, and everything these hold, the
// attributes of instances of user classes included (allowed code may call
// an attribute by its name). In the default mode no global of user code
// may be among them: such a global is only ever the class of an instance
// (see classArg) or a callee, whose call is refused. Nor may one be the
// attribute through which Python's unpickler itself calls an instance:
// __setstate__ (BUILD), append and extend (APPEND, APPENDS), add (ADDITEMS).
// A value once governed stays so: what is added to it later is checked as
// well. Options.AllowObjects, which reads calls of user code, lifts this,
// except for code that pip installs with torch (torchRequirements), which
// no mode lets code call.

// govern checks values that code of torch, numpy or the standard library
// receives, and everything they hold.
func (m *machine) govern(vs ...any) error {
	stack := append([]any(nil), vs...)
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch x := v.(type) {
		case *pyClass:
			if m.refusedValue(x) {
				return m.userValue(x)
			}
			continue
		case *types.Tuple, *types.List, *pyDict, *pySet, *objVal, *npArray:
			if x == nil || m.governed[v] {
				continue
			}
		default:
			continue
		}
		m.governed[v] = true
		switch x := v.(type) {
		case *types.Tuple:
			stack = append(stack, *x...)
		case *types.List:
			stack = append(stack, *x...)
		case *pyDict:
			stack = append(stack, x.keys...)
			stack = append(stack, x.vals...)
			if x.attrs != nil {
				stack = append(stack, x.attrs)
			}
		case *pySet:
			stack = append(stack, x.items...)
		case *objVal:
			stack = append(stack, x.args...)
			stack = append(stack, x.list...)
			for _, d := range []*pyDict{x.kw, x.attrs, x.items} {
				if d != nil {
					stack = append(stack, d)
				}
			}
			stack = append(stack, x.state)
		case *npArray:
			stack = append(stack, x.v)
		}
	}
	return nil
}

// governedTarget reports whether what BUILD, SETITEMS or APPENDS does to
// target runs code of torch, numpy or the standard library on the values
// it is given, or target is governed already.
func (m *machine) governedTarget(target any, build bool) bool {
	if m.governed[target] {
		return true
	}
	switch t := target.(type) {
	case *objVal:
		return !t.user
	case *pyDict, *tensorVal, *npArray, *npDType:
		// dict, list and set store items without looking at them; BUILD on a
		// dict sets attributes that methods may call.
		return build
	}
	return false
}

// refusedValue reports whether c is refused as a value that code receives,
// which may call it: user code unless Options.AllowObjects, and code that
// pip installs with torch in every mode.
func (m *machine) refusedValue(c *pyClass) bool {
	return c.kind == gUser && !m.r.opts.AllowObjects || c.kind == gShipped
}

func (m *machine) userValue(c *pyClass) error {
	e := c.refuse(ReasonUserValue)
	if c.kind == gShipped {
		e = c.refuseShipped()
	}
	e.Where = m.where(m.op)
	return e
}

// classArg reports whether argument i of a call of c is the class of an
// instance it builds, which may be a global of user code.
func classArg(c *pyClass, i int) bool {
	switch c.kind {
	case gReconstructor:
		return i <= 1 // cls, base (a base of user code is a call of it)
	case gNewObjFn, gNewObjExFn, gRebuildWrapper:
		return i == 0
	case gRebuildFromTypeV2:
		return i <= 1 // func (whose call is refused), new_type
	}
	return false
}

// governCall checks the arguments of a call of c.
func (m *machine) governCall(c *pyClass, args []any) error {
	if c.user() {
		return nil
	}
	if (c.kind == gNewObjFn || c.kind == gNewObjExFn) && len(args) > 0 {
		if cls, ok := args[0].(*pyClass); ok && cls.user() {
			return nil // cls.__new__(cls, *args): user code receives them
		}
	}
	for i, a := range args {
		if _, isClass := a.(*pyClass); isClass && classArg(c, i) {
			continue
		}
		if err := m.govern(a); err != nil {
			return err
		}
	}
	return nil
}

// protocolAttrs are the attributes through which Python's unpickler calls
// an instance.
var protocolAttrs = map[string]bool{"__setstate__": true, "append": true, "extend": true, "add": true}

// call applies fn to args (REDUCE, INST, OBJ) and pushes the result.
func (m *machine) call(fn any, args []any) error {
	c, ok := fn.(*pyClass)
	if !ok {
		return m.errf("%s of %s, which cannot be called", opName(m.data[m.op]), typeName(fn))
	}
	if c.kind == gInertClass {
		_, err := c.Call(args...) // refused, before its arguments are looked at
		return err
	}
	if err := m.governCall(c, args); err != nil {
		return err
	}
	if err := m.weightsOnly(c.wo, func() string { return "a call of " + c.String() }); err != nil {
		return err
	}
	v, err := c.Call(args...)
	if err != nil {
		return err
	}
	m.push(v)
	return nil
}

// newObj implements NEWOBJ and NEWOBJ_EX: cls.__new__(cls, *args, **kwargs).
func (m *machine) newObj(c *pyClass, args []any, kwargs any) (any, error) {
	if !c.user() {
		if err := m.govern(kwargs, types.NewTupleFromSlice(args)); err != nil {
			return nil, err
		}
	}
	if err := m.weightsOnly(c.wo, func() string { return "NEWOBJ of " + c.String() }); err != nil {
		return nil, err
	}
	if kwargs != nil {
		kw, ok := kwargs.(*pyDict)
		if !ok {
			return nil, m.errf("NEWOBJ_EX keyword arguments are %s, not a dict", typeName(kwargs))
		}
		if len(kw.keys) > 0 {
			if c.kind == gTypedStorage {
				return typedStorage(c, append(args, kw))
			}
			v, ok, err := c.keywordInstance(args, kw)
			switch {
			case err != nil:
				return nil, err
			case !ok:
				return nil, m.errf("%s does not take keyword arguments", c)
			}
			return v, nil
		}
	}
	return c.PyNew(args...)
}

// setItemsOn applies SETITEM(S): d[k] = v for each pair.
func (m *machine) setItemsOn(target any, items []any) error {
	if m.governedTarget(target, false) {
		if err := m.govern(items...); err != nil {
			return err
		}
	}
	switch t := target.(type) {
	case *pyDict:
		ok := t.kind == gDict || t.kind == gOrderedDict || t.kind == gCounter
		if err := m.weightsOnly(ok, func() string { return "SETITEMS on a defaultdict" }); err != nil {
			return err
		}
		return m.setItems(t, items)
	case *objVal:
		if err := m.weightsOnly(false, func() string { return "SETITEMS on an instance of " + t.o.Module + "." + t.o.Name }); err != nil {
			return err
		}
		if t.items == nil {
			t.items = newPyDict(gDict)
		}
		return m.setItems(t.items, items)
	}
	if err := m.weightsOnly(false, func() string { return "SETITEMS on " + typeName(target) }); err != nil {
		return err
	}
	return m.errf("SETITEMS on %s, which has no items", typeName(target))
}

func (m *machine) setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return m.errf("invalid pickle: odd number of dict items")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(m.hash, items[i], items[i+1]); err != nil {
			return m.errf("%v", err)
		}
	}
	return nil
}

func (m *machine) addItems(s *pySet, items []any) error {
	for _, it := range items {
		if err := s.add(m.hash, it); err != nil {
			return m.errf("%v", err)
		}
	}
	return nil
}

// appendItems applies APPEND(S).
func (m *machine) appendItems(target any, items []any) error {
	if m.governedTarget(target, false) {
		if err := m.govern(items...); err != nil {
			return err
		}
	}
	switch t := target.(type) {
	case *types.List:
		*t = append(*t, items...)
		return nil
	case *objVal:
		if err := m.weightsOnly(false, func() string { return "APPENDS on an instance of " + t.o.Module + "." + t.o.Name }); err != nil {
			return err
		}
		t.list = append(t.list, items...)
		return nil
	}
	if err := m.weightsOnly(false, func() string { return "APPENDS on " + typeName(target) }); err != nil {
		return err
	}
	return m.errf("APPENDS on %s, which is not a list", typeName(target))
}

// build applies BUILD: inst.__setstate__(state), or the update of its
// attributes Python does without one.
func (m *machine) build(inst, state any) error {
	if m.governedTarget(inst, true) {
		if err := m.govern(state); err != nil {
			return err
		}
	}
	switch t := inst.(type) {
	case *tensorVal:
		// torch.load(weights_only=True) calls set_(*state) on a tensor, and
		// Tensor.__setstate__(state) on a Parameter.
		if items, _ := iterItems(state); !t.param && len(items) != 4 {
			if err := m.weightsOnly(false, func() string { return "BUILD on a tensor with a state that set_ does not take" }); err != nil {
				return err
			}
		}
		if err := t.setState(state); err != nil {
			return m.errf("%v", err)
		}
		return nil
	case *pyDict:
		ok := t.kind == gOrderedDict || t.kind == gCounter
		if err := m.weightsOnly(ok, func() string { return "BUILD on a dict" }); err != nil {
			return err
		}
		if t.kind == gDict || t.kind == gDefaultDict {
			return m.errf("BUILD on a dict, which has no attributes")
		}
		attrs, ok := stateDict(state)
		if !ok {
			return m.errf("BUILD state of an OrderedDict is %s, not a dict of attributes", typeName(state))
		}
		return m.setAttrs(&t.attrs, attrs)
	case *objVal:
		if err := m.weightsOnly(false, func() string { return "BUILD on an instance of " + t.o.Module + "." + t.o.Name }); err != nil {
			return err
		}
		if attrs, ok := stateDict(state); ok && t.state == nil {
			if err := m.protocolAttrs(t, state, attrs); err != nil {
				return err
			}
			return m.setAttrs(&t.attrs, attrs)
		}
		if t.attrs != nil || t.state != nil {
			return m.errf("a second BUILD of an instance of %s.%s with a state that is not a dict of attributes", t.o.Module, t.o.Name)
		}
		t.state = state
		return nil
	case *npDType:
		if err := m.weightsOnly(false, func() string { return "BUILD on a numpy dtype" }); err != nil {
			return err
		}
		return t.setState(state)
	case *npArray:
		if err := m.weightsOnly(false, func() string { return "BUILD on a numpy array" }); err != nil {
			return err
		}
		return t.setState(m.r, state)
	}
	if err := m.weightsOnly(false, func() string { return "BUILD on " + typeName(inst) }); err != nil {
		return err
	}
	return m.errf("BUILD on %s, which takes no state", typeName(inst))
}

// protocolAttrs refuses, in the attributes BUILD sets on t, a global of
// user code that Python's unpickler would call (see govern), and a slots
// state that sets __class__ or __dict__, which turns the instance into
// another (setattr(inst, "__class__", cls)).
func (m *machine) protocolAttrs(t *objVal, state any, attrs []*pyDict) error {
	if tu, ok := state.(*types.Tuple); ok && len(*tu) == 2 {
		if slots, ok := (*tu)[1].(*pyDict); ok {
			for _, k := range slots.keys {
				if k == "__class__" || k == "__dict__" {
					return m.errf("BUILD on an instance of %s.%s sets %s through its slots state, which makes it another object than the pickle built", t.o.Module, t.o.Name, k)
				}
			}
		}
	}
	for _, d := range attrs {
		for i, k := range d.keys {
			if ks, _ := k.(string); protocolAttrs[ks] {
				if c, ok := d.vals[i].(*pyClass); ok && m.refusedValue(c) {
					return m.userValue(c)
				}
			}
		}
	}
	return nil
}

// setAttrs sets the attributes of the dicts from on *dst, as
// instance.__dict__.update does.
func (m *machine) setAttrs(dst **pyDict, from []*pyDict) error {
	if *dst == nil {
		*dst = newPyDict(gDict)
	}
	for _, d := range from {
		for i, k := range d.keys {
			if err := (*dst).set(m.hash, k, d.vals[i]); err != nil {
				return m.errf("%v", err)
			}
		}
	}
	return nil
}

// stateDict returns the attribute dicts of a BUILD state that Python's
// default __setstate__ applies: a dict with string keys, or a (dict or
// None, dict) pair of the instance dict and the slots.
func stateDict(state any) ([]*pyDict, bool) {
	strKeys := func(d *pyDict) bool {
		for _, k := range d.keys {
			if _, ok := k.(string); !ok {
				return false
			}
		}
		return true
	}
	switch s := state.(type) {
	case *pyDict:
		if s.kind == gDict && strKeys(s) {
			return []*pyDict{s}, true
		}
	case *types.Tuple:
		if len(*s) != 2 {
			return nil, false
		}
		var out []*pyDict
		for _, part := range *s {
			switch d := part.(type) {
			case nil:
			case *pyDict:
				if d.kind != gDict || !strKeys(d) {
					return nil, false
				}
				out = append(out, d)
			default:
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}

// policyState is what a reader keeps of the globals policy.
type policyState struct {
	uses  map[string]GlobalInfo // by "module.name" as spelled
	woErr error                 // the first rule of weights_only broken
	hash  *hasher
}

// report fills in what File says of the policy.
func (r *reader) report(f *File) {
	for _, g := range f.Globals {
		f.GlobalInfo = append(f.GlobalInfo, r.uses[g])
	}
	f.WeightsOnlyRefusal = r.woErr
}

// woContainer applies weights_only's refusal of a kind of file (tar
// checkpoints, TorchScript archives), named by what.
func (r *reader) woContainer(what string) error {
	e := &WeightsOnlyError{File: r.name, Rule: what}
	if r.opts.Strict {
		return e
	}
	if r.woErr == nil {
		r.woErr = e
	}
	return nil
}
