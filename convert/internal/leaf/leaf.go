package leaf

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ptport/ptport/pickle"
)

// Split separates tensors from the other leaves, keeping the order of each.
func Split(leaves []pickle.Leaf) (tensors, values []pickle.Leaf) {
	for _, l := range leaves {
		if _, ok := l.Value.(*pickle.Tensor); ok {
			tensors = append(tensors, l)
		} else {
			values = append(values, l)
		}
	}
	return tensors, values
}

// CountTensors is the number of tensor leaves.
func CountTensors(leaves []pickle.Leaf) int {
	n := 0
	for _, l := range leaves {
		if _, ok := l.Value.(*pickle.Tensor); ok {
			n++
		}
	}
	return n
}

// Strides are the C-order strides of shape, in elements.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = n
		n *= shape[i]
	}
	return s
}

// Unique returns a *ClashError for the first name that two leaves would share in a
// file: two leaves of one name (SameName), or a leaf whose name holding a dot is also
// the path of a value nested in another leaf (DottedKey: "a.b" beside a leaf "a" holding
// a dict with the key "b"). Written to one file, one would hide the other. A nested
// value whose own keys print alike (1 and "1" in one dict) is an error of
// pickle.Leaves, which names the path and says so, wrapped in a *NameError of the leaf.
func Unique(leaves []pickle.Leaf) error {
	seen := make(map[string]bool, len(leaves))
	for _, l := range leaves {
		if seen[l.Name] {
			return &ClashError{Name: l.Name, Kind: SameName}
		}
		seen[l.Name] = true
	}
	for _, l := range leaves {
		if !container(l.Value) {
			continue
		}
		inner, err := pickle.Leaves(l.Value)
		if err != nil {
			return &NameError{Name: l.Name, Reason: fmt.Sprintf("its value: %v", err), Err: err}
		}
		for _, in := range inner {
			if name := l.Name + "." + in.Name; seen[name] {
				return &ClashError{Name: name, Kind: DottedKey, Holder: l.Name}
			}
		}
	}
	return nil
}

// Distinct is Unique for a reader of the file name: the leaves it read that would share
// a name are a *pickle.FormatError at where, saying which name and how, for a file that
// holds two entries of one name is ambiguous (which did its writer mean?).
func Distinct(name, where string, leaves []pickle.Leaf) error {
	err := Unique(leaves)
	if err == nil {
		return nil
	}
	msg := err.Error()
	var ce *ClashError
	if errors.As(err, &ce) {
		msg = fmt.Sprintf("%q: %s", ce.Name, ce.Reason())
		if ce.Kind == SameName {
			msg = fmt.Sprintf("%q: the file holds %s of this name; ptport does not guess which one is meant", ce.Name, sharing(leaves, ce.Name))
		}
	}
	return &pickle.FormatError{File: name, Where: where, Msg: msg}
}

// sharing says what the first two leaves named name are: "two tensors", "a tensor and
// a value" or "two values".
func sharing(leaves []pickle.Leaf, name string) string {
	tensors, n := 0, 0
	for _, l := range leaves {
		if l.Name != name {
			continue
		}
		if _, ok := l.Value.(*pickle.Tensor); ok {
			tensors++
		}
		if n++; n == 2 {
			break
		}
	}
	return [...]string{"two values", "a tensor and a value", "two tensors"}[tensors]
}

// container reports whether v is a dict, list or tuple holding items, whose leaves
// are named below the leaf that holds it.
func container(v any) bool {
	switch x := v.(type) {
	case pickle.List:
		return len(x) > 0
	case pickle.Tuple:
		return len(x) > 0
	case *pickle.Dict:
		return len(x.Entries) > 0
	}
	return false
}

// Clash says how two leaves came to share a name.
type Clash int

const (
	// SameName is two leaves of one name, as a file holding two entries of one name
	// (two npz members, two JSON entries) would give them.
	SameName Clash = iota + 1
	// DottedKey is a name holding a dot, such as "a.b", that is also the path of a
	// value nested in another leaf, such as a["b"].
	DottedKey
)

// ClashError reports two leaves that share a name, refused before any byte is written:
// a file holds one entry of each name, so one of the two would be lost.
type ClashError struct {
	Name   string
	Kind   Clash
	Holder string // for DottedKey, the leaf whose nested value has the path Name
}

func (e *ClashError) Error() string {
	return fmt.Sprintf("cannot write the leaf %q: %s", e.Name, e.Reason())
}

// Reason says what the clash is, for an error of a reader or a writer.
func (e *ClashError) Reason() string {
	if e.Kind == DottedKey {
		return fmt.Sprintf("two leaves have this name (a name holding a dot is also the path of the value nested in the leaf %q: \"a.b\" beside \"a\" holding \"b\")", e.Holder)
	}
	return "two leaves have this name (the checkpoint holds two entries of it, which no file can keep apart: rename or drop one)"
}

// Nested returns a *NameError for the first leaf whose value nests deeper than a tree
// may, pickle.MaxDepth levels, as the item of a root that the formats other than .pt
// make it: ptport would not read it back.
func Nested(leaves []pickle.Leaf) error {
	for _, l := range leaves {
		if TooDeep(l.Value, pickle.MaxDepth-1) {
			return &NameError{Name: l.Name, Reason: fmt.Sprintf("its value is nested deeper than %d levels, the most that ptport reads back", pickle.MaxDepth)}
		}
	}
	return nil
}

// TooDeep reports whether v holds an item of a list, tuple or dict more than levels
// below it. Its recursion is levels deep at most.
func TooDeep(v any, levels int) bool {
	deeper := func(item any) bool { return levels == 0 || TooDeep(item, levels-1) }
	switch x := v.(type) {
	case pickle.List:
		return slices.ContainsFunc(x, deeper)
	case pickle.Tuple:
		return slices.ContainsFunc(x, deeper)
	case *pickle.Dict:
		return slices.ContainsFunc(x.Entries, func(e pickle.DictEntry) bool { return deeper(e.Value) })
	}
	return false
}

// NameError reports a leaf name a format cannot write as it is.
type NameError struct {
	Name   string
	Reason string
	Err    error // the error behind Reason, if any
}

func (e *NameError) Error() string {
	return fmt.Sprintf("cannot write the leaf %q: %s", e.Name, e.Reason)
}

func (e *NameError) Unwrap() error { return e.Err }

// TooLargeError reports an output that a writer refuses, before writing it, because the
// format's reader in ptport would refuse it: a part of it (What) would take Size bytes,
// more than the Limit that reader enforces. Instead says which formats hold it.
type TooLargeError struct {
	Format  string // the format refused: "safetensors", "npz", "json"
	What    string // the part that would pass the limit
	Size    int64  // its size in bytes, or the least it would take when AtLeast
	AtLeast bool   // Size is a lower bound: the writer stopped once it knew the part too large
	Limit   int64  // the most the format's reader takes
	Instead string // which formats hold it, as a clause: "npz and .pt have no such limit"
}

func (e *TooLargeError) Error() string {
	least := ""
	if e.AtLeast {
		least = "at least "
	}
	return fmt.Sprintf("%s: %s would take %s%d bytes, more than the %d (%s) that ptport reads back; %s",
		e.Format, e.What, least, e.Size, e.Limit, Bytes(e.Limit), e.Instead)
}

// Bytes spells n bytes in the largest binary unit that divides it (64 MiB), or in bytes.
func Bytes(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
