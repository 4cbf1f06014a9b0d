package pickle

import "fmt"

// FormatError reports a malformed, truncated, unsupported or oversized
// input. Where names the place in the file: a zip record, a pickle offset,
// a storage key or a tree path.
type FormatError struct {
	File  string // file name as given to Open; empty for NewReader
	Where string
	Msg   string
}

func (e *FormatError) Error() string {
	s := e.Msg
	if e.Where != "" {
		s = e.Where + ": " + s
	}
	if e.File != "" {
		s = e.File + ": " + s
	}
	return s
}

// UnsafeGlobalError reports a global (a class or function named by the
// pickle) that is not allowed: either it would run code under torch.load,
// or it is unknown and Options.AllowObjects was not set.
type UnsafeGlobalError struct {
	File   string
	Module string
	Name   string
	Where  string // pickle record and offset of the opcode naming the global
	// Denied is true for globals refused even with Options.AllowObjects.
	Denied bool
}

func (e *UnsafeGlobalError) Error() string {
	s := ""
	if e.File != "" {
		s = e.File + ": "
	}
	if e.Where != "" {
		s += e.Where + ": "
	}
	if e.Denied {
		return s + fmt.Sprintf("refusing global %s.%s: it can run code when the file is loaded with torch.load", e.Module, e.Name)
	}
	return s + fmt.Sprintf("global %s.%s is not allowed: it is not among the classes checkpoints use", e.Module, e.Name)
}
