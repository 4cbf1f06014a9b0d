package pickle

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// Dict is a Python dict or collections.OrderedDict, in insertion order.
type Dict struct {
	Entries []DictEntry
	Ordered bool // collections.OrderedDict
	// Attrs holds attributes set on an OrderedDict by the pickle (the
	// _metadata of a state_dict), sorted by name. They are not entries and
	// not leaves. Nil when there are none.
	Attrs *Dict

	// index locates entries by key; the reader builds it for the Dicts of
	// a file, so that lookups cost the same however many entries a dict
	// has.
	index *dictIndex
}

// dictIndex maps the indexKey of each entry's key of a simple type to the
// position of the first entry with that key, for a Dict of n entries.
type dictIndex struct {
	n   int
	pos map[any]int
}

// dictIndexMin is the number of entries from which a Dict read from a file
// is indexed.
const dictIndexMin = 8

// bigKey and bytesKey are the indexKeys of *big.Int and []byte keys.
type (
	bigKey struct {
		neg bool
		abs string
	}
	bytesKey string
)

// indexKey returns a comparable value equal for exactly the keys keyEqual
// says are equal, for keys of simple types (integers, strings, bytes,
// floats, bools, None).
func indexKey(k any) (any, bool) {
	if i, ok := toInt64(k); ok {
		return i, true
	}
	switch x := k.(type) {
	case string, bool, float64, nil:
		return k, true
	case *big.Int:
		if x != nil {
			return bigKey{x.Sign() < 0, string(x.Bytes())}, true
		}
	case []byte:
		return bytesKey(x), true
	}
	return nil, false
}

// DictEntry is one key/value pair of a Dict.
type DictEntry struct{ Key, Value any }

// Get returns the value of the first entry whose key equals key. Integer
// keys compare by value whatever their Go integer type.
//
// A Dict read from a file carries an index of its keys, which Get uses
// while the number of entries is unchanged: code that replaces the keys of
// such a Dict's Entries in place should build a new Dict instead.
func (d *Dict) Get(key any) (any, bool) {
	if d == nil {
		return nil, false
	}
	if ix := d.index; ix != nil && ix.n == len(d.Entries) {
		if k, ok := indexKey(key); ok {
			i, found := ix.pos[k]
			if !found {
				return nil, false
			}
			if e := d.Entries[i]; keyEqual(e.Key, key) {
				return e.Value, true
			}
		}
	}
	for _, e := range d.Entries {
		if keyEqual(e.Key, key) {
			return e.Value, true
		}
	}
	return nil, false
}

// Len returns the number of entries.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.Entries)
}

// List is a Python list (and a set, in a deterministic order).
type List []any

// Tuple is a Python tuple (and a torch.Size).
type Tuple []any

// Object is an inert instance of a class: an nn.Module, an instance of a
// class of user code or of a data class of the standard library
// (argparse.Namespace, ...), or, with Options.AllowObjects, the record of
// a call of user code. Nothing of the class is run; the object only
// records what the pickle said: the arguments of cls.__new__ (or of the
// call), then what BUILD, SETITEMS and APPENDS gave it.
type Object struct {
	Module, Name string // class, e.g. "torch.nn.modules.rnn", "LSTM"
	// Called is true for the record of a call (REDUCE, INST, OBJ) rather
	// than an instance built with cls.__new__.
	Called bool
	Args   []any // arguments of cls.__new__ or of the call
	Kwargs *Dict // keyword arguments (NEWOBJ_EX); nil when none
	// Attrs are the attributes BUILD set from a dict state (and slots),
	// in order (a module's __dict__); nil when none.
	Attrs *Dict
	// State is a BUILD state that is not a dict of attributes, kept as
	// given (the class's __setstate__ would interpret it); nil when none.
	State any
	Items *Dict // items of a dict subclass (SETITEMS); nil when none
	List  List  // items of a list subclass (APPENDS)
}

// Attr returns the attribute name from the object's Attrs.
func (o *Object) Attr(name string) (any, bool) {
	if o == nil {
		return nil, false
	}
	return o.Attrs.Get(name)
}

// Global is a class or function referenced as a value, such as the dtype
// torch.float32 or, with Options.AllowObjects, an unknown function.
type Global struct{ Module, Name string }

// String returns "module.name".
func (g Global) String() string { return g.Module + "." + g.Name }

func keyEqual(a, b any) bool {
	if ai, ok := toInt64(a); ok {
		bi, ok := toInt64(b)
		return ok && ai == bi
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	case Tuple:
		y, ok := b.(Tuple)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !keyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case Global:
		y, ok := b.(Global)
		return ok && x == y
	case *Dict, *Tensor, *Storage, *Object:
		return a == b // pointer identity
	}
	return false
}

// toInt64 converts any Go integer (and a *big.Int that fits) to int64.
func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case *big.Int:
		if x != nil && x.IsInt64() {
			return x.Int64(), true
		}
	}
	return 0, false
}

// Scalar is a numpy scalar (numpy.float64(0.5), numpy.float32(2.5),
// numpy.int64(3), numpy.bool_(True), ...): one value that keeps its dtype.
// Write writes it back as the same numpy scalar.
type Scalar struct {
	DType DType
	Data  []byte // the value, little-endian: DType.Size() bytes
}

// Value returns the scalar as a Go value: float64 for floating-point
// dtypes (F16 and BF16 decoded exactly), int64 for signed integers, uint64
// for unsigned ones, bool, and complex128 for complex dtypes. It returns
// nil when Data does not hold one value of DType.
func (s Scalar) Value() any {
	if len(s.Data) != s.DType.Size() || len(s.Data) == 0 {
		return nil
	}
	b := s.Data
	le := binary.LittleEndian
	switch s.DType {
	case F64:
		return math.Float64frombits(le.Uint64(b))
	case F32:
		return float64(math.Float32frombits(le.Uint32(b)))
	case F16:
		return float64(Float16To32(le.Uint16(b)))
	case BF16:
		return float64(bf16to32(le.Uint16(b)))
	case I64:
		return int64(le.Uint64(b))
	case I32:
		return int64(int32(le.Uint32(b)))
	case I16:
		return int64(int16(le.Uint16(b)))
	case I8:
		return int64(int8(b[0]))
	case U8:
		return uint64(b[0])
	case U16:
		return uint64(le.Uint16(b))
	case U32:
		return uint64(le.Uint32(b))
	case U64:
		return le.Uint64(b)
	case BOOL:
		return b[0] != 0
	case C64:
		return complex(float64(math.Float32frombits(le.Uint32(b))), float64(math.Float32frombits(le.Uint32(b[4:]))))
	case C128:
		return complex(math.Float64frombits(le.Uint64(b)), math.Float64frombits(le.Uint64(b[8:])))
	}
	return nil
}

// String formats the value as numpy prints it: the shortest decimal that
// reads back as the same value of the scalar's own precision.
func (s Scalar) String() string {
	switch v := s.Value().(type) {
	case float64:
		bits := 64
		if s.DType == F32 || s.DType == F16 || s.DType == BF16 {
			bits = 32
		}
		return strconv.FormatFloat(v, 'g', -1, bits)
	case nil:
		return "<invalid " + string(s.DType) + " scalar>"
	case bool:
		if v {
			return "True"
		}
		return "False"
	default:
		return fmt.Sprint(v)
	}
}

// GlobalInfo describes a global a checkpoint's pickles name.
type GlobalInfo struct {
	Name     string // "module.name" as the file spells it
	Resolved string // the dotted path it reaches, after Python 2 name mapping
	// UserCode is true for a global outside torch, numpy and the standard
	// library (an instance of code ptport never runs, or with
	// Options.AllowObjects a call of it); false for one on the allowlist.
	UserCode bool
	// WeightsOnly is true when torch.load(weights_only=True) (torch 2.6
	// and later) accepts the global.
	WeightsOnly bool
}

// entries returns d's entries; none for a nil Dict.
func (d *Dict) entries() []DictEntry {
	if d == nil {
		return nil
	}
	return d.Entries
}
