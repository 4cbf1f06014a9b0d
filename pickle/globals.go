package pickle

import (
	"strings"
	"unicode"
)

// The globals policy.
//
// A pickle names globals (GLOBAL, STACK_GLOBAL, INST: a module and a
// name). judge resolves one as Python's unpickler would and classifies
// what it reaches; the pre-scan and the unpickler both ask it, and nothing
// else decides whether a global is allowed.
//
// Resolution: the module must be one or more dot-separated identifiers and
// so must the name (anything else is malformed: __import__ would fail, and
// ptport refuses it); Python 2 names are mapped as Python's unpickler maps
// them (_compat_pickle's NAME_MAPPING and IMPORT_MAPPING, in protocols 0
// to 2: the pre-scan maps them in every protocol, the unpickler where
// Python would) and torch.tensor to torch._tensor as torch.load does; the
// global reaches the attribute path module + "." + name, a dotted name
// being an attribute walk in every protocol. That path is what is judged.
//
// Classification: a path whose top-level module is torch, numpy or a
// module of Python's standard library (CPython 3.11 to 3.14 and Python
// 2.7, a generated list) is governed: it is allowed only when it is on the
// allowlist (allowlist.go), and refused in every mode otherwise, because
// ptport cannot show it harmless and many such names are not (torch.save,
// torch.os.system through the os module torch imports, codecs.open,
// numpy.load, posix.system, builtins.eval, ...). Every other path is user
// code: its classes may be instantiated the way pickles build instances
// (inert *Object values), its functions and classes may be called only
// with Options.AllowObjects (as inert call records), and a dotted name in
// it is refused in every mode, since the walk may pass through any module
// that code imports. A few third-party packages whose purpose is
// execution, I/O or deserialization are refused in every mode as well,
// as defense in depth; completeness does not rest on that list. The
// packages pip installs with torch (sympy, jinja2, fsspec, ...), present
// wherever torch.load runs, are user code whose functions and classes are
// called in no mode (torchRequirements).

// purpose is what a module is for, as far as refusals word it.
type purpose uint8

const (
	purposeOther purpose = iota
	purposeData
	purposeCode
	purposeSystem
	purposeFiles
	purposeNetwork
	purposeDeserialization
	purposeAlias // re-exports the standard library under other names
)

var purposeReason = map[purpose]Reason{
	purposeCode:            ReasonRunsCode,
	purposeSystem:          ReasonSystem,
	purposeFiles:           ReasonFiles,
	purposeNetwork:         ReasonNetwork,
	purposeDeserialization: ReasonDeserializes,
	purposeAlias:           ReasonAliasesStdlib,
}

// deniedThirdParty are packages outside the standard library whose purpose
// is execution, I/O, networking or deserialization: refused in every mode.
var deniedThirdParty = map[string]purpose{
	"dill": purposeDeserialization, "cloudpickle": purposeDeserialization,
	"joblib": purposeDeserialization, "yaml": purposeDeserialization,
	"ruamel": purposeDeserialization, "jsonpickle": purposeDeserialization,
	"msgpack": purposeDeserialization, "h5py": purposeFiles,
	"requests": purposeNetwork, "urllib3": purposeNetwork, "httpx": purposeNetwork,
	"aiohttp": purposeNetwork, "httplib2": purposeNetwork, "boto3": purposeNetwork,
	"botocore": purposeNetwork, "paramiko": purposeNetwork, "fabric": purposeNetwork,
	"invoke": purposeSystem, "pexpect": purposeSystem, "sh": purposeSystem,
	"plumbum": purposeSystem, "psutil": purposeSystem, "IPython": purposeCode,
	"ipykernel": purposeCode, "numexpr": purposeCode, "cffi": purposeCode,
	"setuptools": purposeCode, "pip": purposeCode, "pkg_resources": purposeCode,
	"_pytest": purposeCode, "pytest": purposeCode,
	// Compatibility layers and backports: the standard library under other
	// names (six.moves.builtins is builtins, six.moves.getoutput is
	// subprocess.getoutput, typing_extensions.get_type_hints evaluates
	// strings), which is governed under its own.
	"six": purposeAlias, "future": purposeAlias, "past": purposeAlias, "libfuturize": purposeAlias,
	"libpasteurize": purposeAlias, "backports": purposeAlias, "typing_extensions": purposeAlias,
	"importlib_metadata": purposeAlias, "importlib_resources": purposeAlias, "mock": purposeAlias,
	"pathlib2": purposeAlias, "scandir": purposeAlias, "subprocess32": purposeAlias,
	"pickle5": purposeAlias, "contextlib2": purposeAlias, "funcsigs": purposeAlias, "zipp": purposeAlias,
}

// vendorDirs are the folders packages keep copies of other packages in
// (sklearn.externals.six, pip._vendor.requests): a denied package there is
// denied as well.
var vendorDirs = map[string]bool{
	"externals": true, "extern": true, "_vendor": true, "vendor": true, "vendored": true,
	"_vendored": true, "packages": true, "third_party": true, "thirdparty": true, "_compat": true,
}

// vendoredPurpose returns the purpose of a denied package that the module
// path m holds below its top level: a copy of six by any name (six,
// _six), or a denied package in a vendoring folder.
func vendoredPurpose(m string) (purpose, bool) {
	comps := strings.Split(m, ".")
	for i := 1; i < len(comps); i++ {
		if comps[i] == "six" || comps[i] == "_six" {
			return purposeAlias, true
		}
		if p, ok := deniedThirdParty[comps[i]]; ok && vendorDirs[comps[i-1]] {
			return p, true
		}
	}
	return 0, false
}

// entryPoints are the places in torch and numpy known to do I/O, run code
// or load serialized data, by path prefix; they only word refusals (none
// of them is on the allowlist).
var entryPoints = map[string]purpose{
	"torch.save":                       purposeFiles,
	"torch.load":                       purposeDeserialization,
	"torch.serialization":              purposeDeserialization,
	"torch.storage._load_from_bytes":   purposeDeserialization,
	"torch.from_file":                  purposeFiles,
	"torch.hub":                        purposeNetwork,
	"torch.utils.model_zoo":            purposeNetwork,
	"torch.utils.cpp_extension":        purposeCode,
	"torch.utils.data":                 purposeCode,
	"torch.jit":                        purposeDeserialization,
	"torch.package":                    purposeDeserialization,
	"torch._utils._import_dotted_name": purposeCode,
	"torch.compile":                    purposeCode,
	"torch.compiler":                   purposeCode,
	"torch._dynamo":                    purposeCode,
	"torch._inductor":                  purposeCode,
	"torch.fx":                         purposeCode,
	"torch.ops":                        purposeCode,
	"torch._ops":                       purposeCode,
	"torch.library":                    purposeCode,
	"torch.classes":                    purposeCode,
	"torch._C":                         purposeCode,
	"torch.multiprocessing":            purposeCode,
	"torch.distributed":                purposeNetwork,
	"torch.testing":                    purposeCode,
	"numpy.save":                       purposeFiles,
	"numpy.savez":                      purposeFiles,
	"numpy.savez_compressed":           purposeFiles,
	"numpy.savetxt":                    purposeFiles,
	"numpy.load":                       purposeDeserialization,
	"numpy.loadtxt":                    purposeFiles,
	"numpy.genfromtxt":                 purposeFiles,
	"numpy.fromfile":                   purposeFiles,
	"numpy.memmap":                     purposeFiles,
	"numpy.lib.npyio":                  purposeDeserialization,
	"numpy.lib.format":                 purposeDeserialization,
	"numpy.ctypeslib":                  purposeCode,
	"numpy.f2py":                       purposeCode,
	"numpy.distutils":                  purposeCode,
	"numpy.testing":                    purposeCode,
}

// builtinPurposes words the refusal of builtins.
var builtinPurposes = map[string]purpose{
	"eval": purposeCode, "exec": purposeCode, "compile": purposeCode, "execfile": purposeCode,
	"__import__": purposeCode, "getattr": purposeCode, "setattr": purposeCode,
	"delattr": purposeCode, "globals": purposeCode, "locals": purposeCode, "vars": purposeCode,
	"apply": purposeCode, "breakpoint": purposeCode, "reload": purposeCode, "input": purposeCode,
	"raw_input": purposeCode, "help": purposeCode, "exit": purposeSystem, "quit": purposeSystem,
	"open": purposeFiles, "file": purposeFiles, "print": purposeFiles,
}

// torchModuleRenames are the module renames torch.load applies
// (load_module_mapping in torch/serialization.py).
var torchModuleRenames = map[string]string{"torch.tensor": "torch._tensor"}

// verdict is the policy's judgement of one global.
type verdict struct {
	module, name string // as the pickle spells them
	path         string // canonical path reached, after name mapping
	governed     bool   // in torch, numpy or the standard library
	e            entry  // the allowlist entry, when governed and allowed
	// refused is non-nil for a global refused in every mode.
	refused *UnsafeGlobalError
}

// torchRequirements are the packages that pip installs with torch, and so
// are present wherever torch.load runs: the install_requires of
// pytorch/pytorch's setup.py (filelock, typing-extensions, setuptools,
// sympy, networkx, jinja2, fsspec), what those require in turn (sympy's
// mpmath, jinja2's MarkupSafe), and what the Linux wheels add
// (PYTORCH_EXTRA_INSTALL_REQUIREMENTS: triton and the nvidia-* CUDA
// packages). A file may count on any of them, as it cannot on other user
// code, and none of their code is known to be harmless on a file's
// arguments: ptport reads instances of their classes that a pickle builds
// without arguments (NEWOBJ of no arguments, copyreg._reconstructor on
// object), as other user code's, but a call of their functions or classes,
// a NEWOBJ with arguments (which runs the class's __new__ on them) and
// their passing where code would call them are refused in every mode.
// typing-extensions and setuptools are refused as a whole already
// (deniedThirdParty). Each maps to what its code does, for messages.
var torchRequirements = map[string]string{
	"sympy":      "evaluates strings (sympy.sympify, and the constructors of its classes, which sympify their arguments)",
	"mpmath":     "evaluates strings and runs code of its arguments",
	"jinja2":     "compiles and runs templates (jinja2.Template) and reads files (jinja2.FileSystemLoader)",
	"markupsafe": "runs methods of its arguments (markupsafe.escape calls __html__)",
	"triton":     "compiles and runs code (triton.jit, its compiler and runtime)",
	"networkx":   "reads and writes files (networkx.read_*, networkx.write_*)",
	"filelock":   "creates files (filelock.FileLock)",
	"fsspec":     "opens files and the network (fsspec.open, fsspec.filesystem)",
	"nvidia":     "loads native libraries",
}

// weightsOnly reports whether torch.load(weights_only=True) accepts the
// global: its entry says so, under the path weights_only looks it up by.
func (v *verdict) weightsOnly() bool {
	return v.refused == nil && v.governed && v.e.wo && woPath(v.module, v.name) == v.path
}

// torchImportMapping and torchNameMapping are torch's own mapping of
// Python 2 names (IMPORT_MAPPING and NAME_MAPPING of torch/_utils.py), which
// torch.load(weights_only=True) applies to every GLOBAL, whatever the
// protocol, instead of Python's.
var (
	torchImportMapping = map[string]string{
		"__builtin__": "builtins", "copy_reg": "copyreg", "Queue": "queue", "repr": "reprlib",
		"_abcoll": "collections.abc", "UserDict": "collections", "UserList": "collections",
		"UserString": "collections", "whichdb": "dbm", "StringIO": "io", "cStringIO": "io",
	}
	torchNameMapping = map[[2]string][2]string{
		{"__builtin__", "xrange"}: {"builtins", "range"}, {"__builtin__", "reduce"}: {"functools", "reduce"},
		{"__builtin__", "intern"}: {"sys", "intern"}, {"__builtin__", "unichr"}: {"builtins", "chr"},
		{"__builtin__", "unicode"}: {"builtins", "str"}, {"__builtin__", "long"}: {"builtins", "int"},
		{"itertools", "izip"}: {"builtins", "zip"}, {"itertools", "imap"}: {"builtins", "map"},
		{"itertools", "ifilter"}: {"builtins", "filter"}, {"itertools", "ifilterfalse"}: {"itertools", "filterfalse"},
		{"itertools", "izip_longest"}:    {"itertools", "zip_longest"},
		{"UserDict", "IterableUserDict"}: {"collections", "UserDict"}, {"UserList", "UserList"}: {"collections", "UserList"},
		{"UserString", "UserString"}: {"collections", "UserString"}, {"__builtin__", "basestring"}: {"builtins", "str"},
		{"exceptions", "StandardError"}: {"builtins", "Exception"}, {"UserDict", "UserDict"}: {"collections", "UserDict"},
	}
)

// woPath is the path torch.load(weights_only=True) looks a GLOBAL up by:
// module.name as spelled, after torch's mapping of Python 2 names; no other
// renaming (torch.tensor is not torch._tensor there).
func woPath(module, name string) string {
	if mn, ok := torchNameMapping[[2]string{module, name}]; ok {
		module, name = mn[0], mn[1]
	} else if m, ok := torchImportMapping[module]; ok {
		module = m
	}
	return module + "." + name
}

// judge resolves and classifies the global module.name as spelled in a
// pickle, mapping Python 2 names. It is the pre-scan's judgement, which
// does not follow the protocol: the unpickler asks judgeAt.
func judge(module, name string) verdict { return judgeAt(module, name, true) }

// judgeAt resolves and classifies the global module.name as spelled in a
// pickle; py2 says whether Python's unpickler maps Python 2 names (it
// does in protocols 0 to 2, the protocol being that of the last PROTO
// opcode read, 0 before any).
func judgeAt(module, name string, py2 bool) verdict {
	v := verdict{module: module, name: name}
	refuse := func(r Reason, via string) verdict {
		v.refused = &UnsafeGlobalError{Module: module, Name: name, Resolved: v.path, Via: via, Reason: r, Denied: true}
		return v
	}
	if !validDotted(module) || !validDotted(name) {
		return refuse(ReasonMalformed, "")
	}
	m, n := mapName(module, name, py2)
	v.path = m + "." + n
	root := rootOf(m)
	if root == "torch" || root == "numpy" || isStdlib(root) {
		v.governed = true
		if e, ok := lookupAllowed(v.path); ok {
			v.e = e
			return v
		}
		r, via := governedReason(v.path)
		return refuse(r, via)
	}
	if governedFold[strings.ToLower(root)] {
		return refuse(ReasonCaseAlias, "")
	}
	if p, ok := deniedThirdParty[root]; ok {
		return refuse(purposeReason[p], "")
	}
	if p, ok := vendoredPurpose(m); ok {
		return refuse(purposeReason[p], "")
	}
	if strings.Contains(n, ".") {
		return refuse(ReasonDottedUserName, "")
	}
	v.e = entry{path: v.path, kind: gUser}
	if _, ok := torchRequirement(root); ok {
		v.e.kind = gShipped
	}
	return v
}

// torchRequirement returns what the package root, when torch requires it, does
// (torchRequirements). The name is folded as governedFold folds names: where
// import SymPy loads sympy, SymPy is sympy.
func torchRequirement(root string) (string, bool) {
	does, ok := torchRequirements[strings.ToLower(root)]
	return does, ok
}

// governedFold holds the governed top-level names in lower case: on a
// case-insensitive file system, with PYTHONCASEOK set (Windows, macOS),
// import OS loads os.py as a module named OS.
var governedFold = func() map[string]bool {
	m := map[string]bool{"torch": true, "numpy": true}
	for n := range stdlibModules {
		m[strings.ToLower(n)] = true
	}
	return m
}()

// isStdlib reports whether root is a top-level module of Python's
// standard library, or a name CPython keeps for its own test and example
// modules (_testcapi, _xxsubinterpreters, xxlimited, ...), whatever
// version added them.
func isStdlib(root string) bool {
	_, ok := stdlibModules[root]
	return ok || strings.HasPrefix(root, "_test") || strings.HasPrefix(root, "_xx") || strings.HasPrefix(root, "xxlimited")
}

// mapName applies Python's mapping of Python 2 names (_compat_pickle),
// when py2, and torch's module renames. (Without the mapping a Python 2
// name is judged as spelled: a module of Python 2's library, which Python
// 3 would import only if some other code had taken its name.)
func mapName(module, name string, py2 bool) (string, string) {
	if mn, ok := compatNames[[2]string{module, name}]; ok && py2 {
		module, name = mn[0], mn[1]
	} else if m, ok := compatModules[module]; ok && py2 {
		module = m
	}
	if m, ok := torchModuleRenames[module]; ok {
		module = m
	}
	return module, name
}

// governedReason words the refusal of a governed path that is not on the
// allowlist: what the path reaches, and through which module.
func governedReason(path string) (Reason, string) {
	// The longest known torch or numpy entry point the path lies under.
	for p := path; p != ""; p, _ = cutLastDot(p) {
		if pu, ok := entryPoints[p]; ok {
			return purposeReason[pu], ""
		}
	}
	comps := strings.Split(path, ".")
	if comps[0] == "builtins" && len(comps) == 2 {
		if pu, ok := builtinPurposes[comps[1]]; ok {
			return purposeReason[pu], ""
		}
		return ReasonNotKnownSafe, ""
	}
	if r, ok := purposeReason[stdlibModules[comps[0]]]; ok {
		return r, ""
	}
	// A walk through a module the governed one imports (torch.os,
	// torch.serialization.pickle): the first component that names a
	// standard library module of a dangerous purpose.
	for i := 1; i < len(comps)-1; i++ {
		if r, ok := purposeReason[stdlibModules[comps[i]]]; ok {
			return r, strings.Join(comps[:i+1], ".")
		}
	}
	return ReasonNotKnownSafe, ""
}

// validDotted reports whether s is one or more dot-separated Python
// identifiers.
func validDotted(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if !isIdentifier(part) {
			return false
		}
	}
	return true
}

// isIdentifier reports whether s is a Python identifier: a letter or
// underscore, then letters, digits and underscores (Unicode letters and
// digits included).
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)):
		default:
			return false
		}
	}
	return true
}

func rootOf(path string) string {
	if i := strings.IndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return path
}

func cutPrefix(s, prefix string) (string, bool) { return strings.CutPrefix(s, prefix) }

// cutDot splits s at its only dot.
func cutDot(s string) (string, string, bool) {
	a, b, ok := strings.Cut(s, ".")
	return a, b, ok && !strings.Contains(b, ".")
}

// cutLastDot returns s without its last component.
func cutLastDot(s string) (string, bool) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return "", false
	}
	return s[:i], true
}
