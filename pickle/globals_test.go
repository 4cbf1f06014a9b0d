package pickle

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestJudge(t *testing.T) {
	tests := []struct {
		module, name string
		resolved     string
		kind         gkind  // for allowed globals
		wo           bool   // torch.load(weights_only=True) accepts it
		reason       Reason // for refused ones (all Denied)
		via          string
	}{
		// Allowed, by canonical path, for any split at a dot.
		{"torch._utils", "_rebuild_tensor_v2", "torch._utils._rebuild_tensor_v2", gRebuildTensorV2, true, 0, ""},
		{"torch", "_utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v2", gRebuildTensorV2, true, 0, ""},
		// weights_only looks globals up as spelled: torch.tensor is not torch._tensor there.
		{"torch.tensor", "_rebuild_from_type_v2", "torch._tensor._rebuild_from_type_v2", gRebuildFromTypeV2, false, 0, ""},
		{"torch.storage", "UntypedStorage", "torch.storage.UntypedStorage", gStorageClass, true, 0, ""},
		{"torch", "UntypedStorage", "torch.UntypedStorage", gStorageClass, false, 0, ""},
		{"torch", "float", "torch.float", gDType, false, 0, ""},
		{"torch", "float32", "torch.float32", gDType, true, 0, ""},
		{"torch._utils", "_rebuild_nested_tensor", "torch._utils._rebuild_nested_tensor", gRebuildNested, false, 0, ""},
		{"torch.cuda", "QInt8Storage", "torch.cuda.QInt8Storage", gStorageClass, false, 0, ""},
		{"collections", "OrderedDict", "collections.OrderedDict", gOrderedDict, true, 0, ""},
		// torch._tensor_classes: CPU and CUDA, dense and sparse (no sparse
		// BoolTensor), of torch's declared scalar types (no complex ones).
		{"torch", "FloatTensor", "torch.FloatTensor", gTensorClass, true, 0, ""},
		{"torch.cuda", "BoolTensor", "torch.cuda.BoolTensor", gTensorClass, true, 0, ""},
		{"torch.sparse", "FloatTensor", "torch.sparse.FloatTensor", gTensorClass, true, 0, ""},
		{"torch.cuda.sparse", "HalfTensor", "torch.cuda.sparse.HalfTensor", gTensorClass, true, 0, ""},
		{"torch.sparse", "BoolTensor", "torch.sparse.BoolTensor", 0, false, ReasonNotKnownSafe, ""},
		{"torch", "ComplexFloatTensor", "torch.ComplexFloatTensor", 0, false, ReasonNotKnownSafe, ""},
		{"torch.cuda", "Tensor", "torch.cuda.Tensor", 0, false, ReasonNotKnownSafe, ""},
		{"__builtin__", "set", "builtins.set", gSet, true, 0, ""},
		{"copy_reg", "_reconstructor", "copyreg._reconstructor", gReconstructor, false, 0, ""},
		{"torch", "FloatStorage", "torch.FloatStorage", gStorageClass, true, 0, ""},
		{"torch.cuda", "HalfStorage", "torch.cuda.HalfStorage", gStorageClass, true, 0, ""},
		{"torch", "float8_e4m3fn", "torch.float8_e4m3fn", gDType, true, 0, ""},
		{"torch.nn.modules.rnn", "LSTM", "torch.nn.modules.rnn.LSTM", gInertClass, false, 0, ""},
		{"torch.nn.modules", "rnn.LSTM", "torch.nn.modules.rnn.LSTM", gInertClass, false, 0, ""},
		{"torch.nn.modules.container", "Container", "torch.nn.modules.container.Container", gInertClass, false, 0, ""},
		{"torch.nn.parallel.data_parallel", "DataParallel", "torch.nn.parallel.data_parallel.DataParallel", gInertClass, false, 0, ""},
		{"torch.optim.adam", "Adam", "torch.optim.adam.Adam", gInertClass, false, 0, ""},
		{"torch.optim.lr_scheduler", "StepLR", "torch.optim.lr_scheduler.StepLR", gInertClass, false, 0, ""},
		{"torch.nn.backends.thnn", "_get_thnn_function_backend", "torch.nn.backends.thnn._get_thnn_function_backend", gInertCall, false, 0, ""},
		{"argparse", "Namespace", "argparse.Namespace", gInertClass, false, 0, ""},
		{"pathlib", "PosixPath", "pathlib.PosixPath", gValueClass, false, 0, ""},
		{"UserDict", "UserDict", "collections.UserDict", gInertClass, false, 0, ""},
		// User code: instances allowed (calls are judged where they happen).
		{"__main__", "Net", "__main__.Net", gUser, false, 0, ""},
		{"lightning.fabric.utilities.data", "AttributeDict", "lightning.fabric.utilities.data.AttributeDict", gUser, false, 0, ""},
		{"__torch__.torch.nn.modules.linear", "Linear", "__torch__.torch.nn.modules.linear.Linear", gUser, false, 0, ""},
		{"mmengine.logging.history_buffer", "HistoryBuffer", "mmengine.logging.history_buffer.HistoryBuffer", gUser, false, 0, ""},
		{"lightning.fabric.utilities.types", "Steppable", "lightning.fabric.utilities.types.Steppable", gUser, false, 0, ""},
		// User code that pip installs with torch, in any case of its name.
		{"sympy", "sympify", "sympy.sympify", gShipped, false, 0, ""},
		{"SymPy.core.symbol", "Symbol", "SymPy.core.symbol.Symbol", gShipped, false, 0, ""},
		{"nvidia.cudnn", "x", "nvidia.cudnn.x", gShipped, false, 0, ""},

		// Dotted names walk attributes: judged by what they reach.
		{"torch", "os.system", "torch.os.system", 0, false, ReasonSystem, "torch.os"},
		{"torch.nn.modules.module", "torch.os.system", "torch.nn.modules.module.torch.os.system", 0, false, ReasonSystem, "torch.nn.modules.module.torch.os"},
		{"torch.serialization", "pickle.loads", "torch.serialization.pickle.loads", 0, false, ReasonDeserializes, ""},
		{"torch._utils", "pickle.loads", "torch._utils.pickle.loads", 0, false, ReasonDeserializes, "torch._utils.pickle"},
		{"numpy", "lib.npyio.load", "numpy.lib.npyio.load", 0, false, ReasonDeserializes, ""},
		{"torch.nn.modules.rnn", "F", "torch.nn.modules.rnn.F", 0, false, ReasonNotKnownSafe, ""},
		{"torch.nn.modules.module", "torch", "torch.nn.modules.module.torch", 0, false, ReasonNotKnownSafe, ""},
		{"torch.nn.modules", "LSTM", "torch.nn.modules.LSTM", 0, false, ReasonNotKnownSafe, ""},
		{"model", "os.system", "model.os.system", 0, false, ReasonDottedUserName, ""},
		{"mylib", "np.load", "mylib.np.load", 0, false, ReasonDottedUserName, ""},
		// Malformed names.
		{"torch.nn.modules..os", "system", "", 0, false, ReasonMalformed, ""},
		{"torch.nn.modules.", "Linear", "", 0, false, ReasonMalformed, ""},
		{"", "system", "", 0, false, ReasonMalformed, ""},
		{"os", "", "", 0, false, ReasonMalformed, ""},
		{"__main__", "Net\nos", "", 0, false, ReasonMalformed, ""},
		{"__main__", "<locals>.f", "", 0, false, ReasonMalformed, ""},
		{"os ", "system", "", 0, false, ReasonMalformed, ""},
		// Governed names off the allowlist: every one refused, worded by purpose.
		{"torch", "save", "torch.save", 0, false, ReasonFiles, ""},
		{"torch", "load", "torch.load", 0, false, ReasonDeserializes, ""},
		{"torch.utils.model_zoo", "load_url", "torch.utils.model_zoo.load_url", 0, false, ReasonNetwork, ""},
		{"torch.hub", "load", "torch.hub.load", 0, false, ReasonNetwork, ""},
		{"torch.storage", "_load_from_bytes", "torch.storage._load_from_bytes", 0, false, ReasonDeserializes, ""},
		{"codecs", "open", "codecs.open", 0, false, ReasonFiles, ""},
		{"zipfile", "ZipFile", "zipfile.ZipFile", 0, false, ReasonFiles, ""},
		{"numpy", "save", "numpy.save", 0, false, ReasonFiles, ""},
		{"numpy", "load", "numpy.load", 0, false, ReasonDeserializes, ""},
		{"posix", "system", "posix.system", 0, false, ReasonSystem, ""},
		{"os", "system", "os.system", 0, false, ReasonSystem, ""},
		{"builtins", "eval", "builtins.eval", 0, false, ReasonRunsCode, ""},
		{"builtins", "getattr", "builtins.getattr", 0, false, ReasonRunsCode, ""},
		{"builtins", "open", "builtins.open", 0, false, ReasonFiles, ""},
		{"builtins", "Exception", "builtins.Exception", 0, false, ReasonNotKnownSafe, ""},
		{"collections", "deque", "collections.deque", 0, false, ReasonNotKnownSafe, ""},
		{"functools", "partial", "functools.partial", 0, false, ReasonRunsCode, ""},
		{"_operator", "attrgetter", "_operator.attrgetter", 0, false, ReasonRunsCode, ""},
		{"importlib", "import_module", "importlib.import_module", 0, false, ReasonRunsCode, ""},
		{"telnetlib", "Telnet", "telnetlib.Telnet", 0, false, ReasonNetwork, ""},
		{"annotationlib", "get_annotations", "annotationlib.get_annotations", 0, false, ReasonNotKnownSafe, ""},
		// Governed names in other case (a case-insensitive file system).
		{"OS", "system", "OS.system", 0, false, ReasonCaseAlias, ""},
		{"Torch", "save", "Torch.save", 0, false, ReasonCaseAlias, ""},
		{"NumPy.lib.npyio", "load", "NumPy.lib.npyio.load", 0, false, ReasonCaseAlias, ""},
		// CPython's test modules, absent from sys.stdlib_module_names.
		{"_testcapi", "run_in_subinterp", "_testcapi.run_in_subinterp", 0, false, ReasonRunsCode, ""},
		{"_xxsubinterpreters", "run_string", "_xxsubinterpreters.run_string", 0, false, ReasonRunsCode, ""},
		{"_testcapi_future", "x", "_testcapi_future.x", 0, false, ReasonNotKnownSafe, ""},
		{"__hello__", "main", "__hello__.main", 0, false, ReasonRunsCode, ""},
		{"compression.zstd", "open", "compression.zstd.open", 0, false, ReasonFiles, ""},
		// Python 2 names: judged by what Python's unpickler maps them to.
		{"__builtin__", "eval", "builtins.eval", 0, false, ReasonRunsCode, ""},
		{"__builtin__", "apply", "builtins.apply", 0, false, ReasonRunsCode, ""},
		{"__builtin__", "reduce", "functools.reduce", 0, false, ReasonRunsCode, ""},
		{"__builtin__", "intern", "sys.intern", 0, false, ReasonSystem, ""},
		{"cPickle", "loads", "pickle.loads", 0, false, ReasonDeserializes, ""},
		{"commands", "getoutput", "subprocess.getoutput", 0, false, ReasonSystem, ""},
		{"SimpleHTTPServer", "test", "http.server.test", 0, false, ReasonNetwork, ""},
		{"urllib2", "urlopen", "urllib.request.urlopen", 0, false, ReasonNetwork, ""},
		{"UserDict", "DictMixin", "collections.DictMixin", 0, false, ReasonNotKnownSafe, ""},
		{"exceptions", "Exception", "builtins.Exception", 0, false, ReasonNotKnownSafe, ""},
		{"popen2", "popen3", "popen2.popen3", 0, false, ReasonSystem, ""},
		{"thread", "start_new_thread", "_thread.start_new_thread", 0, false, ReasonRunsCode, ""},
		// Defense in depth: third-party packages for execution, I/O, deserialization.
		{"dill", "loads", "dill.loads", 0, false, ReasonDeserializes, ""},
		{"requests", "get", "requests.get", 0, false, ReasonNetwork, ""},
		// The standard library under other names, and vendored copies.
		{"six.moves.builtins", "exec", "six.moves.builtins.exec", 0, false, ReasonAliasesStdlib, ""},
		{"six.moves", "getoutput", "six.moves.getoutput", 0, false, ReasonAliasesStdlib, ""},
		{"future.moves.subprocess", "check_output", "future.moves.subprocess.check_output", 0, false, ReasonAliasesStdlib, ""},
		{"past.builtins", "execfile", "past.builtins.execfile", 0, false, ReasonAliasesStdlib, ""},
		{"typing_extensions", "get_type_hints", "typing_extensions.get_type_hints", 0, false, ReasonAliasesStdlib, ""},
		{"backports.tempfile", "TemporaryDirectory", "backports.tempfile.TemporaryDirectory", 0, false, ReasonAliasesStdlib, ""},
		{"sklearn.externals.six.moves.builtins", "eval", "sklearn.externals.six.moves.builtins.eval", 0, false, ReasonAliasesStdlib, ""},
		{"mylib._six", "exec_", "mylib._six.exec_", 0, false, ReasonAliasesStdlib, ""},
		{"sklearn.externals.joblib.numpy_pickle", "load", "sklearn.externals.joblib.numpy_pickle.load", 0, false, ReasonDeserializes, ""},
		{"mylib._vendor.requests.api", "get", "mylib._vendor.requests.api.get", 0, false, ReasonNetwork, ""},
	}
	for _, tc := range tests {
		v := judge(tc.module, tc.name)
		what := tc.module + " " + tc.name
		if v.path != tc.resolved && tc.reason != ReasonMalformed {
			t.Errorf("%q: resolved %q, want %q", what, v.path, tc.resolved)
		}
		if tc.reason == 0 {
			if v.refused != nil {
				t.Errorf("%q: refused: %v", what, v.refused)
				continue
			}
			if v.e.kind != tc.kind || v.weightsOnly() != tc.wo {
				t.Errorf("%q: kind %d weights_only %v, want %d %v", what, v.e.kind, v.weightsOnly(), tc.kind, tc.wo)
			}
			continue
		}
		e := v.refused
		if e == nil {
			t.Errorf("%q: allowed (kind %d), want refused: %s", what, v.e.kind, tc.reason)
			continue
		}
		if !e.Denied || e.Reason != tc.reason || e.Via != tc.via || e.Resolved != v.path {
			t.Errorf("%q: denied %v, reason %q via %q resolved %q; want reason %q via %q", what, e.Denied, e.Reason, e.Via, e.Resolved, tc.reason, tc.via)
		}
		msg := e.Error()
		if tc.resolved != "" && !strings.Contains(msg, tc.resolved) {
			t.Errorf("%q: message %q does not name %s", what, msg, tc.resolved)
		}
		if tc.via != "" && !strings.Contains(msg, tc.via) {
			t.Errorf("%q: message %q does not name the path through %s", what, msg, tc.via)
		}
		if strings.ContainsAny(msg, "\n\r\x1b") {
			t.Errorf("%q: message %q holds control characters", what, msg)
		}
	}
}

// TestGovernedComplete checks that the policy is complete by construction:
// every module of the standard library, torch and numpy is governed, and
// no governed global is allowed unless it is on the allowlist.
func TestGovernedComplete(t *testing.T) {
	for m := range stdlibModules {
		for _, n := range []string{"system", "loads", "x", "Popen", "open"} {
			v := judge(m, n)
			if !v.governed && v.refused == nil {
				t.Errorf("%s.%s is not governed", m, n)
			}
			if v.refused == nil {
				if _, ok := lookupAllowed(v.path); !ok {
					t.Errorf("%s.%s allowed off the allowlist", m, n)
				}
			}
		}
	}
	for path, e := range allowed {
		v := judge(path[:strings.LastIndexByte(path, '.')], path[strings.LastIndexByte(path, '.')+1:])
		if v.refused != nil || v.e.kind != e.kind {
			t.Errorf("allowlist entry %s: judged %+v", path, v)
		}
		if !validDotted(path) {
			t.Errorf("allowlist entry %q is not a dotted name", path)
		}
		if r := rootOf(path); r != "torch" && r != "numpy" && !isStdlib(r) {
			t.Errorf("allowlist entry %s lies outside the governed namespaces", path)
		}
	}
}

func TestUnsafeGlobalErrorMessage(t *testing.T) {
	e := judge("torch", "os.system").refused
	e.File, e.Where = "m.pt", "archive/data.pkl offset 12"
	want := "m.pt: archive/data.pkl offset 12: refusing global torch.os.system: it reaches torch.os, which runs programs or changes the system"
	if e.Error() != want {
		t.Errorf("message\n %q\nwant\n %q", e.Error(), want)
	}
	e = judge("__main__", "a\x1b[2Kb").refused
	if !strings.Contains(e.Error(), `"a\x1b[2Kb"`) {
		t.Errorf("malformed name not quoted: %q", e.Error())
	}
}

// TestStrictContainers checks that Options.Strict refuses the kinds of
// files torch.load(weights_only=True) refuses whole (tar checkpoints,
// TorchScript archives), and that the other modes read them and say so.
func TestStrictContainers(t *testing.T) {
	for _, name := range []string{"tar.pt", "torch2/script_linear.pt"} {
		path := filepath.Join("..", "testdata", "pickle", name)
		_, err := Open(path, &Options{Strict: true})
		var we *WeightsOnlyError
		if !errors.As(err, &we) || !strings.Contains(err.Error(), filepath.Base(name)) {
			t.Errorf("%s in strict mode: %v, want a *WeightsOnlyError naming the file", name, err)
		}
		f, err := Open(path, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !errors.As(f.WeightsOnlyRefusal, &we) {
			t.Errorf("%s: WeightsOnlyRefusal = %v", name, f.WeightsOnlyRefusal)
		}
		f.Close()
	}
	if _, err := Open(filepath.Join("..", "testdata", "pickle", "state_dict.pt"), &Options{Strict: true, AllowObjects: true}); err == nil {
		t.Error("Strict and AllowObjects together are accepted")
	}
}

// TestTorchRequirements checks that the code of packages pip installs with
// torch is never called, built from arguments or passed where Python's
// unpickler calls it, in any mode, while their instances built without
// arguments read as inert objects by default.
func TestTorchRequirements(t *testing.T) {
	refused := []struct {
		name, resolved, says string
		data                 []byte
	}{
		{"call", "sympy.sympify", "sympy evaluates strings",
			newPK(2).global("sympy", "sympify").op(opMARK).str("1").op(opTUPLE, opREDUCE).stop()},
		{"call, spelled in another case", "SymPy.sympify", "SymPy evaluates strings",
			newPK(2).global("SymPy", "sympify").op(opMARK).str("1").op(opTUPLE, opREDUCE).stop()},
		{"call of a class", "jinja2.Template", "jinja2 compiles and runs templates",
			newPK(2).global("jinja2", "Template").op(opMARK).str("{{ 1 }}").op(opTUPLE, opREDUCE).stop()},
		{"NEWOBJ with arguments", "networkx.classes.graph.Graph", "networkx reads and writes files",
			newPK(2).global("networkx.classes.graph", "Graph").op(opMARK).str("g").op(opTUPLE, opNEWOBJ).stop()},
		{"__newobj_ex__ with keyword arguments", "networkx.classes.graph.Graph", "networkx reads and writes files",
			newPK(2).global("copyreg", "__newobj_ex__").op(opMARK).global("networkx.classes.graph", "Graph").
				op(opEMPTYTUPLE, opEMPTYDICT).str("a").str("b").op(opSETITEM, opTUPLE, opREDUCE).stop()},
		{"NEWOBJ_EX with keyword arguments", "networkx.classes.graph.Graph", "networkx reads and writes files",
			newPK(4).global("networkx.classes.graph", "Graph").op(opEMPTYTUPLE, opEMPTYDICT).str("a").str("b").
				op(opSETITEM, opNEWOBJEX).stop()},
		{"append attribute", "fsspec.open", "fsspec opens files and the network",
			newPK(2).global("mylib", "Thing").op(opEMPTYTUPLE, opNEWOBJ, opEMPTYDICT).str("append").
				global("fsspec", "open").op(opSETITEM, opBUILD).str("x").op(opAPPEND).stop()},
	}
	for _, tc := range refused {
		for _, opts := range []*Options{nil, {AllowObjects: true}} {
			_, err := load(t, zipFile(t, "archive/", record{name: "data.pkl", data: tc.data}), opts)
			var ue *UnsafeGlobalError
			if !errors.As(err, &ue) {
				t.Errorf("%s (AllowObjects %v): %v, want an *UnsafeGlobalError", tc.name, opts != nil, err)
				continue
			}
			if !ue.Denied || ue.AllowObjectsReads() || ue.Reason != ReasonShipsWithTorch || ue.Resolved != tc.resolved {
				t.Errorf("%s (AllowObjects %v): Denied %v, AllowObjectsReads %v, reason %q, resolved %q",
					tc.name, opts != nil, ue.Denied, ue.AllowObjectsReads(), ue.Reason, ue.Resolved)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.resolved) || !strings.Contains(msg, "pip installs with torch") ||
				!strings.Contains(msg, tc.says) {
				t.Errorf("%s: message %q does not name the package and what it does", tc.name, msg)
			}
		}
	}
	// An instance built without arguments, with its attributes, is data.
	data := newPK(2).global("networkx.classes.graph", "Graph").op(opEMPTYTUPLE, opNEWOBJ, opEMPTYDICT).
		str("name").str("g").op(opSETITEM, opBUILD).stop()
	f, err := load(t, zipFile(t, "archive/", record{name: "data.pkl", data: data}), nil)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := f.Root.(*Object)
	if !ok || o.Module != "networkx.classes.graph" || o.Name != "Graph" || o.Called || o.Attrs == nil || o.Attrs.Len() != 1 {
		t.Errorf("root %#v, want an inert networkx.classes.graph.Graph with one attribute", f.Root)
	}
}
