package pickle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"

	gp "github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// maxDepth bounds the nesting of the object tree (Python's own pickler
// cannot write deeper trees with its default recursion limit).
const maxDepth = 1000

// Options control how a checkpoint is read. The zero value (and nil) is
// the strict default.
type Options struct {
	// AllowObjects also reads calls (REDUCE, INST, OBJ) of functions and
	// classes outside torch, numpy and Python's standard library, as inert
	// *Object records of the call. Globals refused in every mode
	// (UnsafeGlobalError.Denied) stay refused.
	AllowObjects bool
}

// pyClass is a global as the unpickler sees it: a class or function this
// package interprets.
type pyClass struct {
	module, name string    // the canonical path, split at its last dot
	spelled      [2]string // module and name as written in the pickle
	kind         gkind
	dtype        DType // storage classes and dtypes
	wo           bool  // torch.load(weights_only=True) accepts it
	r            *reader
}

// objVal is an *Object under construction: BUILD sets its state.
type objVal struct{ o *Object }

func (v *objVal) PySetState(state any) error {
	v.o.State = state
	return nil
}

// tensorVal is a *Tensor under construction: BUILD (attributes of a
// Parameter or tensor subclass) is accepted and ignored.
type tensorVal struct{ t *Tensor }

func (v *tensorVal) PySetState(any) error { return nil }

// pySet is a set or frozenset built by calling builtins.set.
type pySet struct{ items []any }

func (s *pySet) Add(v any) { s.items = append(s.items, v) }

var (
	_ types.Callable        = (*pyClass)(nil)
	_ types.PyNewable       = (*pyClass)(nil)
	_ types.PyStateSettable = (*objVal)(nil)
	_ types.PyStateSettable = (*tensorVal)(nil)
	_ types.SetAdder        = (*pySet)(nil)
)

func (c *pyClass) String() string { return c.module + "." + c.name }

func (c *pyClass) inert(args []any) any {
	return &objVal{&Object{Module: c.module, Name: c.name, Args: args}}
}

// Call applies the global to arguments (REDUCE, INST, OBJ).
func (c *pyClass) Call(args ...any) (any, error) {
	if v, ok, err := c.callTensorKind(args); ok {
		return v, err
	}
	switch c.kind {
	case gUser:
		if !c.r.opts.AllowObjects {
			return nil, c.refuse(ReasonUserCall)
		}
		return c.inert(args), nil
	case gInertClass, gInertCall:
		return c.inert(args), nil
	case gParameter:
		return newParameter(args)
	case gRebuildTensor, gRebuildTensorV2, gRebuildTensorV3:
		return c.r.rebuildTensor(c, args)
	case gRebuildParameter, gRebuildParameterWithState:
		return rebuildParameter(c, args)
	case gRebuildFromTypeV2:
		return rebuildFromType(c, args)
	case gRebuildDeviceFromCPU:
		// (data, dtype, device, requires_grad): data is a CPU tensor.
		if len(args) < 1 {
			return nil, fmt.Errorf("%s: missing arguments", c)
		}
		t, ok := args[0].(*tensorVal)
		if !ok {
			return nil, fmt.Errorf("%s: data is %s, not a tensor", c, typeName(args[0]))
		}
		nt := *t.t
		if len(args) > 3 {
			nt.RequiresGrad, _ = args[3].(bool)
		}
		return &tensorVal{&nt}, nil
	case gRebuildUnsupported:
		if c.r.opts.AllowObjects {
			return c.inert(args), nil
		}
		return nil, fmt.Errorf("%s: this kind of tensor (sparse, quantized, meta, subclass or numpy) is not supported; set Options.AllowObjects to keep it as an inert object", c)
	case gTensorClass:
		if c.r.opts.AllowObjects {
			return c.inert(args), nil
		}
		return nil, fmt.Errorf("constructing %s directly is not supported", c)
	case gSize, gTuple:
		if len(args) == 0 {
			return types.NewTupleFromSlice(nil), nil
		}
		items, ok := iterItems(args[0])
		if len(args) != 1 || !ok {
			return nil, fmt.Errorf("%s: expected one sequence argument", c)
		}
		return types.NewTupleFromSlice(append([]any(nil), items...)), nil
	case gList:
		if len(args) == 0 {
			return types.NewList(), nil
		}
		items, ok := iterItems(args[0])
		if len(args) != 1 || !ok {
			return nil, fmt.Errorf("%s: expected one sequence argument", c)
		}
		return types.NewListFromSlice(append([]any(nil), items...)), nil
	case gDefaultDict:
		// defaultdict(factory[, items]): the items follow as SETITEMS.
		if len(args) > 1 {
			return nil, fmt.Errorf("%s: unsupported arguments", c)
		}
		return types.NewDict(), nil
	case gDict, gCounter, gOrderedDict:
		if len(args) == 0 {
			if c.kind == gOrderedDict {
				return types.NewOrderedDict(), nil
			}
			return types.NewDict(), nil
		}
		switch d := args[0].(type) {
		case *types.Dict, *types.OrderedDict:
			if len(args) == 1 {
				return d, nil
			}
		}
		return nil, fmt.Errorf("%s: unsupported arguments", c)
	case gSet, gFrozenSet:
		s := &pySet{}
		if len(args) == 0 {
			return s, nil
		}
		items, ok := iterItems(args[0])
		if len(args) != 1 || !ok {
			return nil, fmt.Errorf("%s: expected one iterable argument", c)
		}
		s.items = append(s.items, items...)
		return s, nil
	case gDevice:
		return device(args)
	case gLayoutFn:
		if len(args) == 1 {
			if s, ok := args[0].(string); ok {
				return &pyClass{module: "torch", name: strings.TrimPrefix(s, "torch."), kind: gConstant, r: c.r}, nil
			}
		}
		return nil, fmt.Errorf("%s: expected a layout name", c)
	case gCodecsEncode:
		return codecsEncode(args)
	case gBytearray, gBytes:
		return makeBytes(c, args)
	case gComplex:
		return makeComplex(args)
	case gTypedStorage:
		return typedStorage(c, args)
	case gReconstructor:
		// copyreg._reconstructor(cls, base, state): base.__new__(cls)
		if len(args) < 2 {
			return nil, fmt.Errorf("%s: expected (cls, base, state)", c)
		}
		if cls, ok := args[0].(*pyClass); ok && (cls.kind == gInertClass || cls.kind == gUser) {
			return cls.inert(nil), nil
		}
		base, ok := args[1].(types.PyNewable)
		if !ok {
			return nil, fmt.Errorf("%s: base %s cannot create objects", c, typeName(args[1]))
		}
		return base.PyNew(args[0])
	}
	return nil, fmt.Errorf("%s cannot be called", c)
}

// PyNew creates an instance (NEWOBJ: cls.__new__(cls, *args)).
func (c *pyClass) PyNew(args ...any) (any, error) {
	switch c.kind {
	case gUser, gInertClass:
		return c.inert(args), nil
	case gParameter:
		return newParameter(args)
	case gObject:
		// object.__new__(cls)
		if len(args) >= 1 {
			if cls, ok := args[0].(types.PyNewable); ok {
				return cls.PyNew()
			}
		}
		return nil, fmt.Errorf("%s: cannot create an instance of %s", c, typeName(firstArg(args)))
	case gSet, gFrozenSet, gList, gDict, gCounter, gOrderedDict, gTuple, gDefaultDict:
		return c.Call()
	case gTypedStorage:
		return typedStorage(c, args)
	}
	return nil, fmt.Errorf("%s cannot be instantiated", c)
}

// typedStorage turns torch.storage.TypedStorage called with a dtype
// (positionally or as the keyword dtype) into the storage type of that
// dtype, for persistent ids that name their storage type this way.
func typedStorage(c *pyClass, args []any) (any, error) {
	for _, a := range args {
		if d, ok := a.(*types.Dict); ok {
			if v, ok := d.Get("dtype"); ok {
				a = v
			}
		}
		if dc, ok := a.(*pyClass); ok && dc.kind == gDType {
			if dc.dtype == "" {
				return nil, fmt.Errorf("%s: unsupported dtype %s", c, dc)
			}
			return &pyClass{module: c.module, name: c.name, kind: gStorageClass, dtype: dc.dtype, r: c.r}, nil
		}
	}
	return nil, fmt.Errorf("%s without a dtype", c)
}

func firstArg(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}

func iterItems(v any) ([]any, bool) {
	switch x := v.(type) {
	case *types.List:
		return *x, true
	case *types.Tuple:
		return *x, true
	case *pySet:
		return x.items, true
	case *types.Set:
		out := make([]any, 0, len(*x))
		for k := range *x {
			out = append(out, k)
		}
		return out, true
	case *types.FrozenSet:
		out := make([]any, 0, len(*x))
		for k := range *x {
			out = append(out, k)
		}
		return out, true
	}
	return nil, false
}

func device(args []any) (any, error) {
	if len(args) == 0 || len(args) > 2 {
		return nil, fmt.Errorf("torch.device: expected (type[, index])")
	}
	s, ok := asString(args[0])
	if !ok {
		return nil, fmt.Errorf("torch.device: type is %s, not a string", typeName(args[0]))
	}
	if len(args) == 2 && args[1] != nil {
		i, ok := toInt64(args[1])
		if !ok {
			return nil, fmt.Errorf("torch.device: index is %s, not an int", typeName(args[1]))
		}
		s += ":" + strconv.FormatInt(i, 10)
	}
	return s, nil
}

func asString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

func codecsEncode(args []any) (any, error) {
	if len(args) < 1 || len(args) > 3 {
		return nil, errors.New("_codecs.encode: expected (str, encoding)")
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("_codecs.encode: argument is %s, not a string", typeName(args[0]))
	}
	enc := "utf-8"
	if len(args) > 1 {
		if enc, ok = args[1].(string); !ok {
			return nil, errors.New("_codecs.encode: encoding is not a string")
		}
	}
	return encodeString(s, enc)
}

func encodeString(s, enc string) ([]byte, error) {
	switch strings.ToLower(strings.ReplaceAll(enc, "_", "-")) {
	case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1":
		out := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, fmt.Errorf("_codecs.encode: character U+%04X is not latin-1", r)
			}
			out = append(out, byte(r))
		}
		return out, nil
	case "utf-8", "utf8":
		return []byte(s), nil
	case "ascii", "us-ascii":
		for i := 0; i < len(s); i++ {
			if s[i] > 0x7f {
				return nil, errors.New("_codecs.encode: string is not ASCII")
			}
		}
		return []byte(s), nil
	}
	return nil, fmt.Errorf("_codecs.encode: unsupported encoding %q", enc)
}

func makeBytes(c *pyClass, args []any) (any, error) {
	if len(args) == 0 {
		return []byte{}, nil
	}
	switch x := args[0].(type) {
	case []byte:
		return append([]byte{}, x...), nil
	case *types.ByteArray:
		return append([]byte{}, *x...), nil
	case string:
		enc := "utf-8"
		if len(args) > 1 {
			enc, _ = args[1].(string)
		}
		return encodeString(x, enc)
	}
	if items, ok := iterItems(args[0]); ok {
		out := make([]byte, 0, len(items))
		for _, it := range items {
			i, ok := toInt64(it)
			if !ok || i < 0 || i > 255 {
				return nil, fmt.Errorf("%s: item is not a byte", c)
			}
			out = append(out, byte(i))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: unsupported argument %s", c, typeName(args[0]))
}

func makeComplex(args []any) (any, error) {
	var parts [2]float64
	if len(args) > 2 {
		return nil, errors.New("builtins.complex: too many arguments")
	}
	for i, a := range args {
		switch x := a.(type) {
		case float64:
			parts[i] = x
		case bool:
			if x {
				parts[i] = 1
			}
		default:
			n, ok := toInt64(a)
			if !ok {
				return nil, fmt.Errorf("builtins.complex: argument is %s", typeName(a))
			}
			parts[i] = float64(n)
		}
	}
	return complex(parts[0], parts[1]), nil
}

// typeName names a value's Python-ish type for messages.
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case *pyClass:
		return x.String()
	case *objVal:
		return "an instance of " + x.o.Module + "." + x.o.Name
	case *tensorVal:
		return "a tensor"
	case *Storage:
		return "a storage"
	case string:
		return "a string"
	case int, int64:
		return "an int"
	case *types.Tuple:
		return "a tuple"
	case *types.List:
		return "a list"
	case *types.Dict, *types.OrderedDict:
		return "a dict"
	}
	return fmt.Sprintf("%T", v)
}

// countingReader counts the bytes the unpickler has consumed.
type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// unpickle decodes a pickle validated by scanPickle. data holds the
// pickle from its first byte; where names it in messages; base is the
// offset of data in the file or record (for messages).
func (r *reader) unpickle(data []byte, sr *scanResult, where func(off int) string, persistent func(pid any) (any, error)) (result any, err error) {
	body := data[:sr.end]
	if len(sr.frames) > 0 {
		// Frames carry no meaning; dropping them keeps gopickle reading op
		// by op, so offsets in messages are exact.
		stripped := make([]byte, 0, len(body))
		prev := 0
		for _, f := range sr.frames {
			stripped = append(stripped, body[prev:f]...)
			prev = f + 9
		}
		body = append(stripped, body[prev:]...)
	}
	orig := func(q int) int { // stripped offset -> original offset
		k := 0
		for k < len(sr.frames) && sr.frames[k]-9*k <= q {
			k++
		}
		return q + 9*k
	}
	// One unpickler serves the pickles of a file that do not MEMOIZE (a
	// tar checkpoint holds one per storage, and a new unpickler allocates
	// a memo table): its memo keeps earlier pickles' values, which the
	// pre-scan makes sure no pickle refers to. MEMOIZE numbers entries by
	// the memo's size, so those pickles get an unpickler of their own.
	cr, u := r.unpIn, r.unp
	if u == nil || sr.memoize {
		cr = &countingReader{}
		nu := gp.NewUnpickler(cr)
		u = &nu
		if !sr.memoize {
			r.unpIn, r.unp = cr, u
		}
	}
	cr.r, cr.n = bytes.NewReader(body), 0
	u.FindClass = func(module, name string) (any, error) { return r.findClass(module, name) }
	u.PersistentLoad = persistent
	at := func() string { return where(orig(max(cr.n-1, 0))) }
	defer func() {
		if p := recover(); p != nil {
			result, err = nil, &FormatError{File: r.name, Where: at(), Msg: fmt.Sprintf("invalid pickle: %v", p)}
		}
	}()
	v, err := u.Load()
	if err != nil {
		return nil, r.wrap(err, at())
	}
	return v, nil
}

// wrap gives err the file name and place, keeping its type when it is
// already one of this package's errors.
func (r *reader) wrap(err error, where string) error {
	var fe *FormatError
	var ue *UnsafeGlobalError
	switch {
	case errors.As(err, &ue):
		c := *ue
		c.File = r.name
		if c.Where == "" {
			c.Where = where
		}
		return &c
	case errors.As(err, &fe):
		c := *fe
		c.File = r.name
		if c.Where == "" {
			c.Where = where
		}
		return &c
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &FormatError{File: r.name, Where: where, Msg: "invalid pickle: unexpected end of data"}
	}
	return &FormatError{File: r.name, Where: where, Msg: err.Error()}
}

// checkGlobal applies the policy to a global named at offset off.
func (r *reader) checkGlobal(where func(int) string) func(module, name string, off int) error {
	return func(module, name string, off int) error {
		r.globals[module+"."+name] = true
		v := judge(module, name)
		if v.refused != nil {
			e := *v.refused
			e.File, e.Where = r.name, where(off)
			return &e
		}
		return nil
	}
}

// findClass resolves a global for the unpickler. The pre-scan has already
// applied the policy; it is applied again here.
func (r *reader) findClass(module, name string) (any, error) {
	key := module + "\x00" + name
	if c, ok := r.classes[key]; ok {
		return c, nil
	}
	v := judge(module, name)
	if v.refused != nil {
		e := *v.refused
		e.File = r.name
		return nil, &e
	}
	c := &pyClass{spelled: [2]string{module, name}, kind: v.e.kind, wo: v.weightsOnly(), r: r}
	i := strings.LastIndexByte(v.path, '.')
	c.module, c.name = v.path[:i], v.path[i+1:]
	switch c.kind {
	case gDType:
		c.dtype = torchDTypes[c.name]
	case gStorageClass:
		c.dtype = storageDTypes[c.name]
		if c.dtype == "" {
			c.dtype = U8 // torch.storage.UntypedStorage and its older names
		}
	}
	r.classes[key] = c
	return c, nil
}

// refuse returns the error refusing a use of c.
func (c *pyClass) refuse(r Reason) error {
	return &UnsafeGlobalError{File: c.r.name, Module: c.spelled[0], Name: c.spelled[1], Resolved: c.String(), Reason: r}
}

// converter turns the unpickler's values into the package's value types,
// preserving sharing and cycles.
type converter struct {
	memo map[any]any
	// height holds, for each converted container, how deep the tree below
	// it goes: a container reached again through the memo is as deep as
	// when it was first converted, so the depth limit holds for the whole
	// tree, not only for the part walked first.
	height  map[any]int
	deepest int // deepest level reached in the container being converted
}

func (r *reader) convert(v any, where string) (any, error) {
	c := &converter{memo: make(map[any]any), height: make(map[any]int)}
	out, err := c.conv(v, 0)
	if err != nil {
		return nil, &FormatError{File: r.name, Where: where, Msg: err.Error()}
	}
	return out, nil
}

// memoizable reports whether v is a container the converter memoizes.
func memoizable(v any) bool {
	switch v.(type) {
	case *types.List, *types.Tuple, *types.Dict, *types.OrderedDict, *types.Set, *types.FrozenSet, *pySet, *objVal:
		return true
	}
	return false
}

// conv converts v, found depth levels below the root.
func (c *converter) conv(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("object tree nesting depth exceeds %d", maxDepth)
	}
	if !memoizable(v) {
		c.deepest = max(c.deepest, depth)
		return c.convValue(v, depth)
	}
	if out, ok := c.memo[v]; ok {
		// A container still being converted is reached through a cycle,
		// which adds no depth.
		if h, done := c.height[v]; done {
			if depth+h > maxDepth {
				return nil, fmt.Errorf("object tree nesting depth exceeds %d (through shared values)", maxDepth)
			}
			c.deepest = max(c.deepest, depth+h)
		}
		return out, nil
	}
	outer := c.deepest
	c.deepest = depth
	out, err := c.convValue(v, depth)
	if err != nil {
		return nil, err
	}
	c.height[v] = c.deepest - depth
	c.deepest = max(outer, c.deepest)
	return out, nil
}

func (c *converter) convValue(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("object tree nesting depth exceeds %d", maxDepth)
	}
	d := depth + 1
	switch x := v.(type) {
	case nil, bool, string, float64, int64, complex128, []byte, Global, *Storage, *SparseTensor, *NestedTensor:
		return v, nil
	case int:
		return int64(x), nil
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
		return x, nil
	case *types.ByteArray:
		return []byte(*x), nil
	case *tensorVal:
		return x.t, nil
	case *pyClass:
		return Global{Module: x.module, Name: x.name}, nil
	case *types.OrderedDictClass:
		return Global{Module: "collections", Name: "OrderedDict"}, nil
	case *types.ObjectClass:
		return Global{Module: "builtins", Name: "object"}, nil
	case *types.Reconstructor:
		return Global{Module: "copyreg", Name: "_reconstructor"}, nil
	case *types.Array, types.Array:
		return Global{Module: "array", Name: "_array_reconstructor"}, nil
	}
	if out, ok := c.memo[v]; ok {
		return out, nil
	}
	switch x := v.(type) {
	case *types.List:
		if x == nil {
			return nil, nil
		}
		out := make(List, len(*x))
		c.memo[v] = out
		for i, e := range *x {
			ce, err := c.conv(e, d)
			if err != nil {
				return nil, err
			}
			out[i] = ce
		}
		return out, nil
	case *types.Tuple:
		if x == nil {
			return nil, nil
		}
		out := make(Tuple, len(*x))
		c.memo[v] = out
		for i, e := range *x {
			ce, err := c.conv(e, d)
			if err != nil {
				return nil, err
			}
			out[i] = ce
		}
		return out, nil
	case *types.Dict:
		if x == nil {
			return nil, nil
		}
		out := &Dict{Entries: make([]DictEntry, 0, len(*x))}
		c.memo[v] = out
		var seen map[any]int // a key set twice keeps its place and takes the last value, as in Python
		for _, e := range *x {
			k, err := c.conv(e.Key, d)
			if err != nil {
				return nil, err
			}
			val, err := c.conv(e.Value, d)
			if err != nil {
				return nil, err
			}
			if hk, ok := indexKey(k); ok {
				if seen == nil {
					seen = make(map[any]int)
				}
				if i, dup := seen[hk]; dup {
					out.Entries[i].Value = val
					continue
				}
				seen[hk] = len(out.Entries)
			}
			out.Entries = append(out.Entries, DictEntry{Key: k, Value: val})
		}
		if len(out.Entries) >= dictIndexMin {
			out.index = &dictIndex{n: len(out.Entries), pos: seen}
		}
		return out, nil
	case *types.OrderedDict:
		if x == nil {
			return nil, nil
		}
		out := &Dict{Ordered: true, Entries: make([]DictEntry, 0, x.Len())}
		c.memo[v] = out
		var seen map[any]int // keys gopickle's map told apart that Python would not (1 and 1L)
		for el := x.List.Front(); el != nil; el = el.Next() {
			e, ok := el.Value.(*types.OrderedDictEntry)
			if !ok {
				continue
			}
			k, err := c.conv(e.Key, d)
			if err != nil {
				return nil, err
			}
			val, err := c.conv(e.Value, d)
			if err != nil {
				return nil, err
			}
			if hk, ok := indexKey(k); ok {
				if seen == nil {
					seen = make(map[any]int)
				}
				if i, dup := seen[hk]; dup {
					out.Entries[i].Value = val
					continue
				}
				seen[hk] = len(out.Entries)
			}
			out.Entries = append(out.Entries, DictEntry{Key: k, Value: val})
		}
		if len(out.Entries) >= dictIndexMin {
			out.index = &dictIndex{n: len(out.Entries), pos: seen}
		}
		if len(x.PyDict) > 0 {
			names := make([]string, 0, len(x.PyDict))
			for n := range x.PyDict {
				names = append(names, n)
			}
			sort.Strings(names)
			attrs := &Dict{Entries: make([]DictEntry, 0, len(names))}
			for _, n := range names {
				val, err := c.conv(x.PyDict[n], d)
				if err != nil {
					return nil, err
				}
				attrs.Entries = append(attrs.Entries, DictEntry{Key: n, Value: val})
			}
			out.Attrs = attrs
		}
		return out, nil
	case *types.Set:
		items, _ := iterItems(x)
		return c.set(v, items, d)
	case *types.FrozenSet:
		items, _ := iterItems(x)
		return c.set(v, items, d)
	case *pySet:
		return c.set(v, x.items, d)
	case *objVal:
		out := x.o
		c.memo[v] = out
		args := out.Args
		out.Args = nil
		if len(args) > 0 {
			out.Args = make([]any, len(args))
			for i, a := range args {
				ca, err := c.conv(a, d)
				if err != nil {
					return nil, err
				}
				out.Args[i] = ca
			}
		}
		st, err := c.conv(out.State, d)
		if err != nil {
			return nil, err
		}
		out.State = st
		return out, nil
	}
	// array.array values decode to typed slices.
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		out := make(List, rv.Len())
		for i := range out {
			e := rv.Index(i)
			switch {
			case e.CanInt():
				out[i] = e.Int()
			case e.CanUint():
				out[i] = int64(e.Uint())
			case e.CanFloat():
				out[i] = e.Float()
			default:
				return nil, fmt.Errorf("unsupported value of type %T", v)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// set converts a set to a List, sorted so the result does not depend on
// map order: ints and floats by value, then strings, then other values.
func (c *converter) set(key any, items []any, d int) (any, error) {
	out := make(List, len(items))
	for i, it := range items {
		ce, err := c.conv(it, d)
		if err != nil {
			return nil, err
		}
		out[i] = ce
	}
	rank := func(v any) int {
		switch v.(type) {
		case bool, int64, float64:
			return 0
		case string:
			return 1
		}
		return 2
	}
	num := func(v any) float64 {
		switch x := v.(type) {
		case int64:
			return float64(x)
		case float64:
			return x
		case bool:
			if x {
				return 1
			}
		}
		return 0
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i]), rank(out[j])
		if ri != rj {
			return ri < rj
		}
		switch ri {
		case 0:
			return num(out[i]) < num(out[j])
		case 1:
			return out[i].(string) < out[j].(string)
		}
		return false
	})
	c.memo[key] = out
	return out, nil
}
