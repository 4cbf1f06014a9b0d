package pickle

import (
	"runtime"
	"testing"
)

// TestLeavesAllocs: the leaves of a long list take room once: a name each, the slice of
// leaves and the set of names made at their size, where the slice and the set grew as
// the leaves came (several times the room, and minutes for 20 million items), and each
// item's index was boxed and spelled twice on the way; a leaf holds no room for the
// part of a tensor that most leaves are not, and the set of names no string of its own.
func TestLeavesAllocs(t *testing.T) {
	const n = 100_000
	items := make(List, n)
	for i := range items {
		items[i] = int64(i)
	}
	root := &Dict{Entries: []DictEntry{{Key: "x", Value: items}}}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	leaves, err := Leaves(root)
	runtime.ReadMemStats(&after)
	if err != nil || len(leaves) != n || leaves[n-1].Name != "x.99999" {
		t.Fatalf("%d leaves, %v", len(leaves), err)
	}
	allocs := after.Mallocs - before.Mallocs
	bytes := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d leaves: %.2f allocations, %.0f bytes a leaf", n, float64(allocs)/n, float64(bytes)/n)
	if allocs > n+1000 {
		t.Errorf("%d leaves took %d allocations, want a name each and a few more", n, allocs)
	}
	// A leaf takes 40 bytes, its name 8 and its slot in the set of names 8 to 21.
	if bytes > 80*n {
		t.Errorf("%d leaves took %d bytes, %d a leaf, want at most 80", n, bytes, bytes/n)
	}
}
