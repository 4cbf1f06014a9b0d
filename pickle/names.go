package pickle

import "hash/maphash"

// maxLeaves bounds the leaves of a tree: a nameSet numbers them in 32 bits.
const maxLeaves = 1<<32 - 2

// A nameSet is the set of the names of the leaves yielded so far, each with the shape
// of its path (see leafPath): a table of open addressing whose slots hold a leaf's
// index and 32 bits of its shape, 8 bytes a slot, and never a string of its own (the
// names are the leaves'), where a map of the names would take about 40 bytes a leaf.
type nameSet struct {
	seed  maphash.Seed
	slots []uint64 // 0: empty; else the leaf's index + 1, then its shape << 32
	n     int
}

// init makes room for n names.
func (s *nameSet) init(n int) {
	s.seed = maphash.MakeSeed()
	s.slots = make([]uint64, tableSize(n))
	s.n = 0
}

// tableSize is the number of slots (a power of 2) that holds n names at most 3/4 full.
func tableSize(n int) int {
	size := 16
	for size/4*3 < n {
		size *= 2
	}
	return size
}

// find looks name up among the names of leaves: found says whether a leaf has it, and
// then shape is the shape of that leaf's path; otherwise slot is where to add it.
func (s *nameSet) find(name string, leaves []Leaf) (slot int, shape uint32, found bool) {
	mask := uint64(len(s.slots) - 1)
	i := maphash.String(s.seed, name) & mask
	for {
		e := s.slots[i]
		if e == 0 {
			return int(i), 0, false
		}
		if leaves[uint32(e)-1].Name == name {
			return int(i), uint32(e >> 32), true
		}
		i = (i + 1) & mask
	}
}

// add records that leaves[index], not in s and whose slot find returned, has a path of
// shape, growing the table when it is 3/4 full.
func (s *nameSet) add(slot, index int, shape uint32, leaves []Leaf) {
	s.slots[slot] = uint64(index+1) | uint64(shape)<<32
	s.n++
	if s.n <= len(s.slots)/4*3 {
		return
	}
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	mask := uint64(len(s.slots) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := maphash.String(s.seed, leaves[uint32(e)-1].Name) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = e
	}
}
