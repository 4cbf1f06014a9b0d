package pickle

import (
	"fmt"
	"sync/atomic"
)

// expandFactor and expandFloor bound the bytes that reading the tensors of a
// file may materialise in all, over every read: by default max(expandFactor
// × the file's size, expandFloor) (Options.ExpandLimit sets another limit).
// Each read counts, so that neither expanded views (larger than their
// storage, with zero strides: torch's expand) nor many views of one storage
// make a small file produce much more than it holds. A tensor on a storage
// made by NewStorage or NewStorageAt may materialise at most
// max(expandFactor × its storage's bytes, expandFloor) a read.
const (
	expandFactor = 64
	expandFloor  = 16 << 20
)

// expandBudget is what the reads of one file's tensors may still
// materialise; the file's storages share it.
type expandBudget struct {
	file   string
	size   int64 // of the file
	limit  int64 // < 0: none
	spent  atomic.Int64
	custom bool // set by Options.ExpandLimit
}

func newExpandBudget(file string, size int64, opts Options) *expandBudget {
	b := &expandBudget{file: file, size: size, limit: max(expandFactor*size, expandFloor)}
	if opts.ExpandLimit != 0 {
		b.limit, b.custom = opts.ExpandLimit, true
	}
	return b
}

// expand charges the materialising of a view of need bytes from storage s
// of nb bytes, before the view is read.
func (s *Storage) expand(need, nb int64) error {
	b := s.expansion
	if b == nil {
		if limit := max(expandFactor*nb, expandFloor); need > nb && need > limit {
			return fmt.Errorf("pickle: tensor of %d bytes expands a storage of %d bytes; refusing to materialise more than %d bytes", need, nb, limit)
		}
		return nil
	}
	if b.limit < 0 {
		return nil
	}
	if spent := b.spent.Add(need); spent > b.limit {
		b.spent.Add(-need)
		how := fmt.Sprintf("max(%d × the file's %d bytes, %d)", expandFactor, b.size, expandFloor)
		if b.custom {
			how = "as set"
		}
		what := "a view"
		if need > nb {
			what = "an expanded view"
		}
		where := fmt.Sprintf("storage %q", s.key)
		if s.key == "" {
			where = "the data of a numpy array"
		}
		return &LimitError{File: b.file, Where: where, Limit: LimitExpansion, Need: need, Max: b.limit,
			Msg: fmt.Sprintf("reading %s of %d bytes (its storage holds %d) would take the bytes read from the file's tensors to %d, more than their limit of %d bytes (%s): expanded views, or views of one storage read many times",
				what, need, nb, spent, b.limit, how)}
	}
	return nil
}

// LimitError reports a read refused because it would pass one of the
// limits a caller can set in Options (see Limit).
type LimitError struct {
	File  string
	Where string
	Limit string // LimitExpansion
	Need  int64  // bytes the read would take
	Max   int64  // the limit in force
	Msg   string
}

// The limits of a LimitError.
const (
	// LimitExpansion is the bytes reading a file's tensors may materialise
	// in all (Options.ExpandLimit).
	LimitExpansion = "expansion"
)

func (e *LimitError) Error() string {
	return (&FormatError{File: e.File, Where: e.Where, Msg: e.Msg}).Error()
}
