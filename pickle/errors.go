package pickle

import (
	"fmt"
	"strconv"
)

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

// Reason says why a global was refused.
type Reason int

// The reasons for refusing a global. The first five describe what the
// global reaches (as far as ptport knows the module it lies in); the
// others describe what is wrong with the name or its use.
const (
	ReasonRunsCode       Reason = iota + 1 // it runs code: eval, exec, a loader of modules or functions
	ReasonSystem                           // it runs programs or changes the system (os, subprocess, sys, ...)
	ReasonFiles                            // it reads or writes files
	ReasonNetwork                          // it opens the network
	ReasonDeserializes                     // it loads another pickle or serialized code
	ReasonNotKnownSafe                     // it lies in torch, numpy or the standard library and is not a name known to be safe
	ReasonMalformed                        // the module or name is not a valid dotted Python name
	ReasonDottedUserName                   // a dotted name in a module outside torch, numpy and the standard library
	ReasonUserCall                         // a call of a function or class outside torch, numpy and the standard library
	ReasonStrict                           // torch.load(weights_only=True) would refuse it (Options.Strict)
	ReasonScriptCode                       // a TorchScript class whose __setstate__, code of the archive, torch.load runs
	ReasonUserValue                        // a function or class outside torch, numpy and the standard library passed as a value, not as the class of an instance
	ReasonAliasesStdlib                    // it lies in a package that re-exports the standard library under other names (six, future, backports, ...)
	ReasonInstanceOnly                     // a class pickles build as instances, called (its constructor would run on the file's arguments)
	ReasonValueArgs                        // a value class called with arguments that are not plain values
	ReasonCaseAlias                        // a module named as torch, numpy or a standard library module but in other case (OS, Torch)
	ReasonShipsWithTorch                   // a call of code of a package that pip installs with torch (sympy, jinja2, fsspec, ...), a NEWOBJ of one of its classes with arguments, or its passing where code would call it
)

var reasonText = map[Reason]string{
	ReasonRunsCode:       "runs code",
	ReasonSystem:         "runs programs or changes the system",
	ReasonFiles:          "reads or writes files",
	ReasonNetwork:        "opens the network",
	ReasonDeserializes:   "loads another pickle or serialized code",
	ReasonNotKnownSafe:   "is not a name known to be safe",
	ReasonMalformed:      "is not a valid dotted Python name",
	ReasonDottedUserName: "is a dotted name in code outside torch, numpy and the standard library, whose attribute walk may pass through any module that code imports",
	ReasonUserCall:       "calls code outside torch, numpy and the standard library",
	ReasonStrict:         "is refused by torch.load(weights_only=True)",
	ReasonScriptCode:     "defines __setstate__, TorchScript code of the archive that torch.load runs (through torch.jit.load) for each object of the class",
	ReasonUserValue:      "is a function or class of code outside torch, numpy and the standard library passed as a value, which code that torch.load runs may call",
	ReasonAliasesStdlib:  "lies in a package that re-exports Python's standard library under other names (six.moves.builtins is builtins)",
	ReasonInstanceOnly:   "is a class that pickles build as instances, never by calling it; a call runs its constructor on the file's arguments (LambdaLR calls its lr_lambda)",
	ReasonValueArgs:      "is called with arguments that are not plain values (None, numbers, strings, bytes, tuples of them), whose code its constructor would run",
	ReasonCaseAlias:      "lies in a module named as one of torch, numpy or the standard library in other case, which Python imports as that module on a case-insensitive file system with PYTHONCASEOK set",
	ReasonShipsWithTorch: "lies in a package that pip installs with torch, present wherever torch.load runs; ptport reads instances of its classes built without arguments, but never calls its functions or classes, builds them from arguments (their __new__ runs on them) or passes them where code would call them",
}

// String returns the reason as a phrase ("runs code").
func (r Reason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// UnsafeGlobalError reports a global (a class or function named by the
// pickle) that is refused. A global is refused in every mode (Denied) when
// it is malformed, when it lies in torch, numpy or Python's standard
// library and is not on this package's list of names known to be safe, or
// when it is a dotted name in other code; a call of a function or class of
// other code is refused unless Options.AllowObjects is set; with
// Options.Strict, whatever torch.load(weights_only=True) refuses is refused.
type UnsafeGlobalError struct {
	File  string
	Where string // pickle record and offset of the opcode naming or using the global

	// Module and Name are the global as the pickle spells it.
	Module, Name string
	// Resolved is the dotted path the global reaches, after Python's own
	// mapping of Python 2 names and torch's of renamed modules
	// (copy_reg._reconstructor reaches copyreg._reconstructor). It is
	// empty when the name is malformed.
	Resolved string
	// Via is the module through which Resolved reaches what Reason
	// describes, when that is not Resolved's own top-level module: for
	// torch.os.system, "torch.os" (the os module torch imports).
	Via    string
	Reason Reason
	// Denied is true when no Options accept the global.
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
	spelled := "module " + quoteName(e.Module) + ", name " + quoteName(e.Name)
	switch e.Reason {
	case ReasonMalformed:
		return s + fmt.Sprintf("refusing global %s: it %s", spelled, e.Reason)
	case ReasonUserCall:
		return s + fmt.Sprintf("refusing to call %s: torch.load would run that code; ptport reads instances that pickles build without calls, but not calls", e.Resolved)
	case ReasonStrict:
		return s + "torch.load(weights_only=True) refuses global " + e.Resolved
	case ReasonInstanceOnly, ReasonValueArgs:
		return s + fmt.Sprintf("refusing to call %s: it %s", e.Resolved, e.Reason)
	case ReasonUserValue:
		return s + fmt.Sprintf("refusing %s as a value: it %s; ptport reads such a global only as the class of an instance that a pickle builds", e.Resolved, e.Reason)
	case ReasonShipsWithTorch:
		pkg := rootOf(e.Resolved)
		does, _ := torchRequirement(pkg)
		return s + fmt.Sprintf("refusing %s: it lies in %s, a package that pip installs with torch, so present wherever torch.load runs, and %s %s; ptport reads instances of its classes built without arguments, but never calls its functions or classes, builds them from arguments (their __new__ runs on them) or passes them where code would call them", e.Resolved, pkg, pkg, does)
	case ReasonScriptCode:
		return s + fmt.Sprintf("refusing TorchScript class %s: it %s; ptport does not run TorchScript code", e.Resolved, e.Reason)
	}
	what := e.Resolved
	if what != e.Module+"."+e.Name {
		what += " (written as " + spelled + ")"
	}
	reason := e.Reason.String()
	switch {
	case e.Via != "":
		reason = "it reaches " + e.Via + ", which " + reason
	case e.Reason == ReasonNotKnownSafe:
		reason = "it " + reason + " in " + namespaceOf(e.Resolved)
	default:
		reason = "it " + reason
	}
	return s + fmt.Sprintf("refusing global %s: %s", what, reason)
}

// AllowObjectsReads reports whether reading with Options.AllowObjects
// would accept the use of the global that e refuses: a call of user code,
// or user code passed as a value.
func (e *UnsafeGlobalError) AllowObjectsReads() bool {
	return !e.Denied && (e.Reason == ReasonUserCall || e.Reason == ReasonUserValue)
}

// namespaceOf names the governed namespace of a resolved path in messages.
func namespaceOf(path string) string {
	switch root := rootOf(path); root {
	case "torch", "numpy":
		return root
	}
	return "Python's standard library"
}

// quoteName returns a name from a file as it can be printed: unchanged
// when it is a valid dotted Python name, else quoted with Go escapes.
func quoteName(s string) string {
	if validDotted(s) {
		return s
	}
	return strconv.Quote(s)
}

// WeightsOnlyError reports a rule of torch.load(weights_only=True) (torch
// 2.6 and later) that a file breaks: an opcode its unpickler does not run,
// a BUILD, SETITEMS or APPENDS on a type it does not allow, a persistent id
// that is not a storage, a kind of file it does not load. It is the error
// of Open with Options.Strict, and File.WeightsOnlyRefusal otherwise. A
// global it refuses is an *UnsafeGlobalError with Reason ReasonStrict.
type WeightsOnlyError struct {
	File  string
	Where string
	Rule  string // what the file does that torch.load(weights_only=True) refuses
}

func (e *WeightsOnlyError) Error() string {
	s := "torch.load(weights_only=True) refuses " + e.Rule
	if e.Where != "" {
		s = e.Where + ": " + s
	}
	if e.File != "" {
		s = e.File + ": " + s
	}
	return s
}
