package leaf

import (
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

// Unique returns a *NameError for the first name that two leaves share: written to one
// file, one would hide the other.
func Unique(leaves []pickle.Leaf) error {
	seen := make(map[string]bool, len(leaves))
	for _, l := range leaves {
		if seen[l.Name] {
			return &NameError{Name: l.Name, Reason: "two leaves have this name (keys such as \"a.b\" and a[\"b\"] name the same path)"}
		}
		seen[l.Name] = true
	}
	return nil
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
}

func (e *NameError) Error() string {
	return fmt.Sprintf("cannot write the leaf %q: %s", e.Name, e.Reason)
}

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
