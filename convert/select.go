package convert

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/ptport/ptport/convert/internal/fileerr"
	"github.com/ptport/ptport/pickle"
)

// Selection takes part of a checkpoint under new names, as a user takes the model out of
// a training checkpoint so that load_state_dict(strict=True) accepts it: the subtree of
// the weights (Paths), without the prefixes a wrapper added (StripPrefixes), less what
// is not wanted (Exclude). The steps apply in that order. The zero Selection takes
// everything as it is.
type Selection struct {
	// Paths are dotted paths of subtrees to take, such as "model_state_dict" or
	// "state_dict". A leaf at or below one of them is kept, named relative to it; a
	// leaf that is itself the path keeps its name. None takes every leaf.
	Paths []string
	// StripPrefixes are removed, in order, from the names that start with them, as
	// torch's consume_prefix_in_state_dict_if_present does: "module." for
	// DataParallel, "model." for a LightningModule. A prefix is whole components of a
	// dotted name: "module" strips as "module." does, never "module" of "modules.0" or
	// a name left starting with a dot.
	StripPrefixes []string
	// Exclude are path.Match patterns ("optimizer.*", "*.num_batches_tracked") of
	// names, as they are after the other steps, to leave out.
	Exclude []string
	// RequireMatch makes a prefix that starts no name, and a pattern that matches none,
	// an error, as a path that holds nothing always is. One checkpoint's conversion
	// wants to hear of a mistyped one; a batch of models of which only some carry a
	// wrapper's prefix does not.
	RequireMatch bool
}

// IsZero reports whether s takes everything as it is.
func (s Selection) IsZero() bool {
	return len(s.Paths) == 0 && len(s.StripPrefixes) == 0 && len(s.Exclude) == 0
}

// SelectionError reports a selection that does not fit a checkpoint.
type SelectionError struct {
	File string
	Msg  string
}

func (e *SelectionError) Error() string { return fileerr.Prefix(e.File) + e.Msg }

// Validate reports what makes s unusable for any checkpoint: an empty path, an empty
// prefix to strip, a malformed pattern. Select checks it first; a caller selecting from
// many checkpoints can check it once, before reading any.
func (s Selection) Validate() error {
	for _, p := range s.Paths {
		if p == "" {
			return errors.New("an empty path to select")
		}
	}
	for _, p := range s.StripPrefixes {
		if strings.TrimSuffix(p, ".") == "" {
			return errors.New("an empty prefix to strip")
		}
	}
	for _, p := range s.Exclude {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("exclude pattern %q: %v", p, err)
		}
	}
	return nil
}

// Select returns the part of c that s takes: its leaves, renamed, in c's order, and as
// its Root an ordered dict of them by their new names, as a state_dict is (so a .pt
// output of a selection loads as one). Tensors keep their storages: tensors that shared
// one still do. The result reads from c's file; it must not outlive c, and closing it
// does nothing. It is an error for a path to hold no leaf, for a pattern to be
// malformed, for two leaves to end up under one name, and for nothing to be left.
func (c *Checkpoint) Select(s Selection) (*Checkpoint, error) {
	bad := func(format string, args ...any) error {
		return &SelectionError{File: c.Path, Msg: fmt.Sprintf(format, args...)}
	}
	if err := s.Validate(); err != nil {
		return nil, bad("%s", err)
	}
	strip := make([]string, len(s.StripPrefixes))
	for i, p := range s.StripPrefixes {
		strip[i] = strings.TrimSuffix(p, ".") + "."
	}
	matched := make([]bool, len(s.Paths))
	stripped := make([]bool, len(strip))
	excludedBy := make([]bool, len(s.Exclude))
	var selected []pickle.Leaf // by the names the paths give them, for errors
	var out []pickle.Leaf
	from := map[string]string{} // new name -> old name
	for _, l := range c.Leaves {
		name, ok := l.Name, len(s.Paths) == 0
		for i, p := range s.Paths {
			if rest, found := strings.CutPrefix(l.Name, p); found && (rest == "" || rest[0] == '.') {
				matched[i] = true
				if !ok {
					ok = true
					name = strings.TrimPrefix(rest, ".")
					if rest == "" {
						name = l.Name
					}
				}
			}
		}
		if !ok {
			continue
		}
		if s.RequireMatch {
			selected = append(selected, pickle.Leaf{Name: name})
		}
		for i, p := range strip {
			if rest, found := strings.CutPrefix(name, p); found && rest != "" {
				name = rest
				stripped[i] = true
			}
		}
		if excluded(s.Exclude, name, excludedBy) {
			continue
		}
		if prev, dup := from[name]; dup {
			return nil, bad("%q and %q would both be named %q", prev, l.Name, name)
		}
		from[name] = l.Name
		out = append(out, pickle.Leaf{Name: name, Value: l.Value})
	}
	for i, p := range s.Paths {
		if !matched[i] {
			return nil, bad("nothing at or below %q; the checkpoint's top-level entries are %s", p, topLevel(c.Leaves))
		}
	}
	if s.RequireMatch {
		for i, p := range strip {
			if !stripped[i] {
				return nil, bad("no name starts with the prefix %q to strip; the names start with %s", p, topLevel(selected))
			}
		}
		for i, p := range s.Exclude {
			if !excludedBy[i] {
				return nil, bad("no name matches the pattern %q to exclude", p)
			}
		}
	}
	if len(out) == 0 {
		return nil, bad("the selection leaves nothing to write")
	}
	sel := FromLeaves(c.Path, out)
	sel.Format, sel.Globals = c.Format, c.Globals
	return sel, nil
}

// excluded reports whether any of patterns matches name, and marks in by those that do.
func excluded(patterns []string, name string, by []bool) bool {
	hit := false
	for i, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			by[i], hit = true, true
		}
	}
	return hit
}

// topLevel lists the distinct first components of the leaves' names, quoted, at most a
// dozen of them.
func topLevel(leaves []pickle.Leaf) string {
	seen := map[string]bool{}
	var names []string
	for _, l := range leaves {
		first, _, _ := strings.Cut(l.Name, ".")
		if !seen[first] {
			seen[first] = true
			names = append(names, quote(first))
		}
	}
	sort.Strings(names)
	if len(names) > 12 {
		names = append(names[:12], fmt.Sprintf("and %d more", len(names)-12))
	}
	return strings.Join(names, ", ")
}
