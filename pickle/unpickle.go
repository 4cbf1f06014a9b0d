package pickle

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/nlpodyssey/gopickle/types"
)

// MaxDepth is how deeply a tree of values may nest, in every format ptport reads and
// writes: the root is at depth 0, its items at depth 1, and a tree that holds a value
// (a container or not, a dict key too) deeper than MaxDepth is an error of Open,
// Leaves and Write alike, as it is of the readers of ptport's other formats. A value
// shared through the memo counts from each place that refers to it: its depth there
// and its own height below. torch.save pickles at most about 490 levels of values it
// meets once each (its pickler recurses about twice a level, up to Python's recursion
// limit, 1000 by default); through values it has pickled before, it writes deeper
// trees, which are refused.
const MaxDepth = 1000

// Options control how a checkpoint is read. The zero value (and nil) is
// the default: torch's and numpy's values, the standard library's data
// classes and instances of any other class, as inert values; no calls of
// functions or classes outside torch, numpy and the standard library.
type Options struct {
	// AllowObjects also reads calls (REDUCE, INST, OBJ) of functions and
	// classes outside torch, numpy and Python's standard library, as inert
	// *Object records of the call. Globals refused in every mode
	// (UnsafeGlobalError.Denied) stay refused.
	AllowObjects bool
	// Strict reads exactly what torch.load(weights_only=True) loads, and
	// refuses everything else: the allowed globals (looked up as the pickle
	// spells them, after torch's own Python 2 mapping), opcodes and rules of
	// BUILD, APPENDS, SETITEMS, NEWOBJ and persistent ids of
	// torch/_weights_only_unpickler.py as pytorch/pytorch has it at commit
	// 00f730b66e58769f9698d9236f58cd46c3794115 (torch 2.10 and later), and
	// its refusal of tar checkpoints and TorchScript archives
	// (torch/serialization.py). Earlier releases from torch 2.6 differ:
	// they allow _rebuild_nested_tensor and SETITEMS on any value (Strict
	// refuses both), and torch 2.6 allows neither builtins.complex nor the
	// dtypes uint1 to uint7 and int1 to int7 (Strict reads them). Where
	// weights_only itself would
	// build undefined data (torch.Tensor(n), an UntypedStorage(n)) or call
	// set_ with a state Tensor.__setstate__ refuses, Strict refuses too.
	// Strict and AllowObjects are exclusive.
	Strict bool
	// ExpandLimit bounds the bytes that reading the file's tensors may
	// materialise in all, over every read (Tensor's reading methods, and
	// Write copying its storages): a read past it is a *LimitError. It keeps
	// expanded views (larger than their storage, with zero strides, as
	// torch's expand makes them) and many views of one storage from making a
	// small file produce much more than it holds. 0 means max(64 × the
	// file's size, 16 MiB); a negative value means no limit.
	ExpandLimit int64
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

// tensorVal is a *Tensor under construction: BUILD (attributes of a
// Parameter or tensor subclass) is accepted and ignored.
type tensorVal struct {
	t     *Tensor
	param bool // a Parameter, whose BUILD is Tensor.__setstate__ also for torch.load(weights_only=True)
}

func (c *pyClass) String() string { return c.module + "." + c.name }

// user reports whether c is user code: gUser, or gShipped.
func (c *pyClass) user() bool { return c.kind == gUser || c.kind == gShipped }

// instance returns an instance of c built without a call: cls.__new__(cls,
// *args), then BUILD, SETITEMS and APPENDS.
func (c *pyClass) instance(args []any) *objVal {
	return &objVal{o: &Object{Module: c.module, Name: c.name}, user: c.user(), args: args}
}

// keywordInstance returns cls.__new__(cls, *args, **kw) for keyword arguments kw, as
// NEWOBJ_EX and copyreg.__newobj_ex__ both build it: an instance of a user or inert
// class, holding kw. A class of a package that pip installs with torch is refused in
// every mode; any other class takes no keyword arguments (ok false, err nil).
func (c *pyClass) keywordInstance(args []any, kw *pyDict) (v *objVal, ok bool, err error) {
	switch {
	case c.kind == gShipped:
		return nil, false, c.refuseShipped()
	case c.kind != gUser && c.kind != gInertClass:
		return nil, false, nil
	}
	v = c.instance(args)
	v.kw = kw
	return v, true, nil
}

// record returns an inert record of a call of c.
func (c *pyClass) record(args []any) *objVal {
	v := c.instance(args)
	v.o.Called = true
	v.value = c.kind == gValueClass
	return v
}

// plainArgs refuses arguments of a value class or function that are not
// plain values: None, bools, numbers, strings, bytes, tuples of them and
// the values of value classes (datetime.timezone(timedelta(...))). Python
// would run code of anything else it is given (os.fspath calls __fspath__,
// int conversions __index__). A datetime or time may take any instance as
// its tzinfo, which it only checks the type of.
func (c *pyClass) plainArgs(args []any) error {
	tzinfo := c.module == "datetime" && (c.name == "datetime" || c.name == "time")
	for i, a := range args {
		if o, ok := a.(*objVal); ok && tzinfo && i == 1 && !o.o.Called {
			continue
		}
		if !plainValue(a, 0) {
			e := c.refuse(ReasonValueArgs)
			e.Denied = true
			return e
		}
	}
	return nil
}

func plainValue(v any, depth int) bool {
	switch x := v.(type) {
	case nil, bool, int64, *big.Int, float64, complex128, string, []byte, *types.ByteArray:
		return true
	case *objVal:
		return x.value
	case *types.Tuple:
		if depth > 8 {
			return false
		}
		for _, e := range *x {
			if !plainValue(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// Call applies the global to arguments (REDUCE, INST, OBJ).
func (c *pyClass) Call(args ...any) (any, error) {
	if v, ok, err := c.callTensorKind(args); ok {
		return v, err
	}
	switch c.kind {
	case gShipped:
		return nil, c.refuseShipped()
	case gUser:
		if !c.r.opts.AllowObjects {
			return nil, c.refuse(ReasonUserCall)
		}
		return c.record(args), nil
	case gInertClass:
		// NEWOBJ builds these; a call would run the constructor on the
		// file's arguments (LambdaLR calls lr_lambda, ModuleDict iterates
		// its argument).
		e := c.refuse(ReasonInstanceOnly)
		e.Denied = true
		return nil, e
	case gValueClass, gInertCall:
		if err := c.plainArgs(args); err != nil {
			return nil, err
		}
		return c.record(args), nil
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
		return &tensorVal{t: &nt}, nil
	case gRebuildUnsupported:
		if c.r.opts.AllowObjects {
			return c.record(args), nil
		}
		return nil, fmt.Errorf("%s: this kind of tensor (sparse, quantized, meta, subclass or numpy) is not supported", c)
	case gTensorClass:
		if c.r.opts.AllowObjects {
			return c.record(args), nil
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
		return newPyDict(gDefaultDict), nil
	case gDict, gCounter, gOrderedDict:
		d := newPyDict(c.kind)
		if len(args) == 0 {
			return d, nil
		}
		if len(args) > 1 {
			return nil, fmt.Errorf("%s: unsupported arguments", c)
		}
		if err := c.fill(d, args[0]); err != nil {
			return nil, err
		}
		return d, nil
	case gSet, gFrozenSet:
		s := &pySet{frozen: c.kind == gFrozenSet}
		if len(args) == 0 {
			return s, nil
		}
		items, ok := iterItems(args[0])
		if len(args) != 1 || !ok {
			return nil, fmt.Errorf("%s: expected one iterable argument", c)
		}
		for _, it := range items {
			if err := s.add(c.r.hasher(), it); err != nil {
				return nil, fmt.Errorf("%s: %v", c, err)
			}
		}
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
		return c.reconstructor(args)
	case gNewObjFn, gNewObjExFn:
		// copyreg.__newobj__(cls, *args), copyreg.__newobj_ex__(cls, args, kwargs)
		if len(args) < 1 {
			return nil, fmt.Errorf("%s: missing class", c)
		}
		cls, ok := args[0].(*pyClass)
		if !ok {
			return nil, fmt.Errorf("%s of %s, not a class", c, typeName(args[0]))
		}
		rest := args[1:]
		if c.kind == gNewObjExFn {
			if len(rest) != 2 {
				return nil, fmt.Errorf("%s: expected (cls, args, kwargs)", c)
			}
			t, ok := rest[0].(*types.Tuple)
			if !ok {
				return nil, fmt.Errorf("%s: args are %s, not a tuple", c, typeName(rest[0]))
			}
			if kw, ok := rest[1].(*pyDict); !ok || len(kw.keys) > 0 {
				v, ok, err := cls.keywordInstance(*t, kw)
				switch {
				case err != nil:
					return nil, err
				case !ok:
					return nil, fmt.Errorf("%s: %s does not take keyword arguments", c, cls)
				}
				return v, nil
			}
			rest = *t
		}
		return cls.PyNew(rest...)
	case gNumpyDType:
		return newNpDType(args)
	case gNumpyDTypeClass:
		spec := npDTypeClasses[c.name]
		if spec == "" || len(args) > 0 {
			return nil, fmt.Errorf("%s: unsupported numpy dtype class", c)
		}
		return newNpDType([]any{spec})
	case gNumpyScalar:
		return npScalar(args)
	case gNumpyReconstruct:
		return npReconstruct(args)
	case gNumpyFromBuffer:
		var exp *expandBudget
		if c.r != nil {
			exp = c.r.expansion
		}
		return npFromBuffer(exp, args)
	case gInt, gFloat, gStr, gBool:
		return convertBuiltin(c, args)
	}
	return nil, fmt.Errorf("%s cannot be called", c)
}

// fill adds to d the items of a dict or of an iterable of pairs (the
// argument of dict(), OrderedDict() and Counter(); Python 2 pickles an
// OrderedDict as OrderedDict([[key, value], ...])).
func (c *pyClass) fill(d *pyDict, arg any) error {
	h := c.r.hasher()
	if src, ok := arg.(*pyDict); ok {
		for i, k := range src.keys {
			if err := d.set(h, k, src.vals[i]); err != nil {
				return fmt.Errorf("%s: %v", c, err)
			}
		}
		return nil
	}
	items, ok := iterItems(arg)
	if !ok {
		return fmt.Errorf("%s: argument is %s, not a dict or a sequence of pairs", c, typeName(arg))
	}
	for _, it := range items {
		kv, ok := iterItems(it)
		if !ok || len(kv) != 2 {
			return fmt.Errorf("%s: item is %s, not a (key, value) pair", c, typeName(it))
		}
		if err := d.set(h, kv[0], kv[1]); err != nil {
			return fmt.Errorf("%s: %v", c, err)
		}
	}
	return nil
}

// reconstructor implements copyreg._reconstructor(cls, base, state): an
// instance of cls, a subclass of base, holding state as base holds its
// value (the items of a dict or list subclass).
func (c *pyClass) reconstructor(args []any) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("%s: expected (cls, base, state)", c)
	}
	cls, ok := args[0].(*pyClass)
	if !ok {
		return nil, fmt.Errorf("%s: class is %s", c, typeName(args[0]))
	}
	base, ok := args[1].(*pyClass)
	if !ok {
		return nil, fmt.Errorf("%s: base is %s", c, typeName(args[1]))
	}
	state := args[2]
	switch cls.kind {
	case gUser, gShipped, gInertClass:
	default:
		if cls == base && state == nil {
			return cls.PyNew()
		}
		return nil, fmt.Errorf("%s of %s is not supported", c, cls)
	}
	v := cls.instance(nil)
	switch base.kind {
	case gObject:
		if state != nil {
			return nil, fmt.Errorf("%s: base object with a state", c)
		}
	case gDict, gOrderedDict, gCounter, gDefaultDict:
		v.items = newPyDict(gDict)
		if state != nil {
			if err := c.fill(v.items, state); err != nil {
				return nil, err
			}
		}
	case gList, gTuple, gSet, gFrozenSet:
		if state != nil {
			items, ok := iterItems(state)
			if !ok {
				return nil, fmt.Errorf("%s: state is %s, not a sequence", c, typeName(state))
			}
			v.list = append([]any(nil), items...)
		}
	case gInt, gFloat, gStr, gBool, gBytes, gComplex:
		v.state = state
	case gShipped:
		return nil, base.refuseShipped()
	case gUser:
		// base.__new__(cls, state) and base.__init__(obj, state): a call.
		if !c.r.opts.AllowObjects {
			return nil, base.refuse(ReasonUserCall)
		}
		v.o.Called = true
		v.args = []any{state}
	default:
		return nil, fmt.Errorf("%s: unsupported base %s", c, base)
	}
	return v, nil
}

// PyNew creates an instance (NEWOBJ: cls.__new__(cls, *args)).
func (c *pyClass) PyNew(args ...any) (any, error) {
	switch c.kind {
	case gUser, gShipped, gInertClass:
		if c.kind == gShipped && len(args) > 0 {
			return nil, c.refuseShipped()
		}
		return c.instance(args), nil
	case gValueClass:
		// cls.__new__(cls, *args) runs on its arguments as a call does.
		if err := c.plainArgs(args); err != nil {
			return nil, err
		}
		return c.instance(args), nil
	case gParameter:
		return newParameter(args)
	case gDict, gOrderedDict, gCounter, gDefaultDict:
		return newPyDict(c.kind), nil
	case gList:
		return types.NewList(), nil
	case gSet:
		return &pySet{}, nil
	case gTuple, gFrozenSet, gBytes, gComplex, gInt, gFloat, gStr, gBool:
		return c.Call(args...)
	case gTypedStorage:
		return typedStorage(c, args)
	case gTensorClass:
		return emptyTensor(c, args)
	case gSize, gDevice:
		return c.Call(args...) // their __new__ is the constructor
	case gBytearray:
		return makeBytes(c, nil) // bytearray.__new__ ignores its arguments; __init__ fills it
	}
	return nil, fmt.Errorf("%s cannot be instantiated", c)
}

// convertBuiltin implements int(x), float(x), str(x) and bool(x) on the
// values a pickle holds.
func convertBuiltin(c *pyClass, args []any) (any, error) {
	if len(args) == 0 {
		switch c.kind {
		case gInt:
			return int64(0), nil
		case gFloat:
			return 0.0, nil
		case gStr:
			return "", nil
		}
		return false, nil
	}
	if len(args) != 1 {
		return nil, fmt.Errorf("%s: unsupported arguments", c)
	}
	x := args[0]
	if s, ok := x.(Scalar); ok {
		x = s.Value()
	}
	switch c.kind {
	case gInt:
		switch v := x.(type) {
		case int64, *big.Int:
			return v, nil
		case bool:
			if v {
				return int64(1), nil
			}
			return int64(0), nil
		case uint64:
			return new(big.Int).SetUint64(v), nil
		case string:
			return strconvInt(c, v)
		}
	case gFloat:
		switch v := x.(type) {
		case float64:
			return v, nil
		case int64:
			return float64(v), nil
		case uint64:
			return float64(v), nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil || errors.Is(err, strconv.ErrRange) {
				return f, nil
			}
		}
	case gStr:
		if s, ok := x.(string); ok {
			return s, nil
		}
	case gBool:
		switch v := x.(type) {
		case bool:
			return v, nil
		case int64:
			return v != 0, nil
		}
	}
	return nil, fmt.Errorf("%s of %s is not supported", c, typeName(args[0]))
}

func strconvInt(c *pyClass, s string) (any, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "_", ""))
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	if b, ok := new(big.Int).SetString(s, 10); ok {
		return b, nil
	}
	return nil, fmt.Errorf("%s: invalid literal %q", c, s)
}

// typedStorage turns torch.storage.TypedStorage called with a dtype
// (positionally or as the keyword dtype) into the storage type of that
// dtype, for persistent ids that name their storage type this way.
func typedStorage(c *pyClass, args []any) (any, error) {
	for _, a := range args {
		if d, ok := a.(*pyDict); ok {
			if v, ok := d.get(c.r.hasher(), "dtype"); ok {
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

func iterItems(v any) ([]any, bool) {
	switch x := v.(type) {
	case *types.List:
		return *x, true
	case *types.Tuple:
		return *x, true
	case *pySet:
		return x.items, true
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
	case *npDType:
		return "a " + x.String()
	case *npArray:
		return "a numpy array"
	case Scalar:
		return "a numpy scalar"
	case *pySet:
		if x.frozen {
			return "a frozenset"
		}
		return "a set"
	case *types.ByteArray:
		return "a bytearray"
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
	case *pyDict:
		return "a dict"
	}
	return fmt.Sprintf("%T", v)
}

// wrap gives err the file name and place, keeping its type when it is
// already one of this package's errors.
func (r *reader) wrap(err error, where string) error {
	var fe *FormatError
	var ue *UnsafeGlobalError
	var we *WeightsOnlyError
	switch {
	case errors.As(err, &we):
		c := *we
		c.File = r.name
		if c.Where == "" {
			c.Where = where
		}
		return &c
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

// checkGlobal applies the policy to a global named at offset off: it is
// the pre-scan's check.
func (r *reader) checkGlobal(where func(int) string) func(module, name string, off int) error {
	return func(module, name string, off int) error {
		r.globals[module+"."+name] = true
		v := judge(module, name)
		r.noteGlobal(module, name, &v)
		if v.refused != nil {
			e := *v.refused
			e.File, e.Where = r.name, where(off)
			return &e
		}
		return nil
	}
}

// noteGlobal records a global for File.GlobalInfo.
func (r *reader) noteGlobal(module, name string, v *verdict) {
	key := module + "." + name
	if r.uses == nil {
		r.uses = make(map[string]GlobalInfo)
	}
	if _, ok := r.uses[key]; ok {
		return
	}
	r.uses[key] = GlobalInfo{Name: key, Resolved: v.path, UserCode: v.refused == nil && !v.governed, WeightsOnly: v.weightsOnly()}
}

// findClass resolves a global for the unpickler. The pre-scan has already
// applied the policy; it is applied again here.
func (r *reader) findClass(module, name string, py2 bool) (*pyClass, error) {
	key := module + "\x00" + name
	if py2 {
		key += "\x00py2"
	}
	if c, ok := r.classes[key]; ok {
		return c, nil
	}
	v := judgeAt(module, name, py2)
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
func (c *pyClass) refuse(r Reason) *UnsafeGlobalError {
	return &UnsafeGlobalError{File: c.r.name, Module: c.spelled[0], Name: c.spelled[1], Resolved: c.String(), Reason: r}
}

// refuseShipped returns the error refusing a call of c, user code that
// pip installs with torch: denied in every mode.
func (c *pyClass) refuseShipped() *UnsafeGlobalError {
	e := c.refuse(ReasonShipsWithTorch)
	e.Denied = true
	return e
}

// converter turns the machine's values into the package's value types,
// preserving sharing and cycles.
type converter struct {
	memo map[any]any
	// height holds, for each converted container, how deep the tree below
	// it goes: a container reached again through the memo is as deep as
	// when it was first converted, so the depth limit holds for the whole
	// tree, not only for the part walked first.
	height  map[any]int
	deepest int     // deepest level reached in the container being converted
	poll    *poller // counts the values converted
}

func (r *reader) convert(v any, where string) (any, error) {
	c := &converter{memo: make(map[any]any), height: make(map[any]int), poll: &r.poll}
	out, err := c.conv(v, 0)
	if err != nil {
		return nil, &FormatError{File: r.name, Where: where, Msg: err.Error()}
	}
	return out, nil
}

// memoizable reports whether v is a container the converter memoizes.
func memoizable(v any) bool {
	switch v.(type) {
	case *types.List, *types.Tuple, *pyDict, *pySet, *objVal:
		return true
	}
	return false
}

// emptyTuple is the value of every empty tuple.
var emptyTuple any = Tuple{}

// conv converts v, found depth levels below the root.
func (c *converter) conv(v any, depth int) (any, error) {
	if err := c.poll.step(); err != nil {
		return nil, err
	}
	if depth > MaxDepth {
		return nil, fmt.Errorf("object tree nesting depth exceeds %d", MaxDepth)
	}
	if t, ok := v.(*types.Tuple); ok && t != nil && len(*t) == 0 {
		// Empty tuples have no identity (see identity) and no items: all are one,
		// where a file of EMPTY_TUPLE opcodes would otherwise take a tuple and two
		// memo entries per byte.
		c.deepest = max(c.deepest, depth)
		return emptyTuple, nil
	}
	if !memoizable(v) {
		c.deepest = max(c.deepest, depth)
		return c.convValue(v, depth)
	}
	if out, ok := c.memo[v]; ok {
		// A container still being converted is reached through a cycle,
		// which adds no depth.
		if h, done := c.height[v]; done {
			if depth+h > MaxDepth {
				return nil, fmt.Errorf("object tree nesting depth exceeds %d (through shared values)", MaxDepth)
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
	if depth > MaxDepth {
		return nil, fmt.Errorf("object tree nesting depth exceeds %d", MaxDepth)
	}
	d := depth + 1
	switch x := v.(type) {
	case nil, bool, string, float64, int64, complex128, []byte, Global, *Storage, Scalar, *SparseTensor, *NestedTensor:
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
	case *npDType:
		return Global{Module: "numpy", Name: "dtype('" + x.str() + "')"}, nil
	case *npArray:
		if x.v == nil {
			return nil, errors.New("a numpy array without its data (no BUILD)")
		}
		return c.conv(x.v, depth)
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
	case *pyDict:
		out := &Dict{Ordered: x.kind == gOrderedDict}
		c.memo[v] = out
		if err := c.dict(out, x, d); err != nil {
			return nil, err
		}
		if x.attrs != nil && len(x.attrs.keys) > 0 {
			out.Attrs = &Dict{}
			if err := c.dict(out.Attrs, x.attrs, d); err != nil {
				return nil, err
			}
			sort.SliceStable(out.Attrs.Entries, func(i, j int) bool {
				return out.Attrs.Entries[i].Key.(string) < out.Attrs.Entries[j].Key.(string)
			})
		}
		return out, nil
	case *pySet:
		return c.set(v, x.items, d)
	case *objVal:
		out := x.o
		c.memo[v] = out
		var err error
		if len(x.args) > 0 {
			out.Args = make([]any, len(x.args))
			for i, a := range x.args {
				if out.Args[i], err = c.conv(a, d); err != nil {
					return nil, err
				}
			}
		}
		for _, p := range []struct {
			src *pyDict
			dst **Dict
		}{{x.kw, &out.Kwargs}, {x.attrs, &out.Attrs}, {x.items, &out.Items}} {
			if p.src == nil {
				continue
			}
			*p.dst = &Dict{}
			if err := c.dict(*p.dst, p.src, d); err != nil {
				return nil, err
			}
		}
		if x.list != nil {
			out.List = make(List, len(x.list))
			for i, e := range x.list {
				if out.List[i], err = c.conv(e, d); err != nil {
					return nil, err
				}
			}
		}
		if out.State, err = c.conv(x.state, d); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value %s", typeName(v))
}

func (c *converter) dict(out *Dict, x *pyDict, d int) error {
	out.Entries = make([]DictEntry, len(x.keys))
	for i, k := range x.keys {
		ck, err := c.conv(k, d)
		if err != nil {
			return err
		}
		cv, err := c.conv(x.vals[i], d)
		if err != nil {
			return err
		}
		out.Entries[i] = DictEntry{Key: ck, Value: cv}
	}
	if len(out.Entries) >= dictIndexMin {
		pos := make(map[any]int, len(out.Entries))
		for i, e := range out.Entries {
			if k, ok := indexKey(e.Key); ok {
				if _, dup := pos[k]; !dup {
					pos[k] = i
				}
			}
		}
		out.index = &dictIndex{n: len(out.Entries), pos: pos}
	}
	return nil
}

// set converts a set to a List, sorted so the result does not depend on
// the order the pickle gave: ints and floats by value, then strings, then
// other values in their order.
func (c *converter) set(key any, items []any, d int) (any, error) {
	out := make(List, len(items))
	c.memo[key] = out
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
	return out, nil
}
