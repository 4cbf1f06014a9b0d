package pickle

import (
	"math/big"
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

// Object is an inert instance of a class: an nn.Module, or with
// Options.AllowObjects an instance of an unknown class. Nothing of the
// class is run; the object only records what the pickle said.
type Object struct {
	Module, Name string // class, e.g. "torch.nn.modules.rnn", "RNN"
	Args         []any  // NEWOBJ/REDUCE arguments
	State        any    // BUILD state, usually *Dict of attributes (a module's __dict__)
}

// Attr returns the attribute name from the object's state when the state
// is a *Dict, or a (dict, slots) Tuple.
func (o *Object) Attr(name string) (any, bool) {
	if o == nil {
		return nil, false
	}
	switch s := o.State.(type) {
	case *Dict:
		return s.Get(name)
	case Tuple:
		for _, part := range s {
			if d, ok := part.(*Dict); ok {
				if v, ok := d.Get(name); ok {
					return v, true
				}
			}
		}
	}
	return nil, false
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
