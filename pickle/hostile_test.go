package pickle

import (
	"bytes"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dataPkl wraps a pickle as the data.pkl of a zip checkpoint with one
// float storage "0" of 6 elements.
func dataPkl(t testing.TB, p []byte) []byte {
	return zipFile(t, "archive/", record{name: "data.pkl", data: p}, record{name: "data/0", data: seq(6, 4)})
}

func TestUnsafeGlobals(t *testing.T) {
	call := func(mod, name string) []byte {
		return newPK(2).global(mod, name).op(opMARK).str("echo pwned").op(opTUPLE, opREDUCE).stop()
	}
	stackCall := func(mod, name string) []byte {
		return newPK(4).str(mod).str(name).op(opSTACKGLOBAL).op(opMARK).str("id").op(opTUPLE, opREDUCE).stop()
	}
	denied := []struct {
		name    string
		pkl     []byte
		mod, fn string
	}{
		{"os.system", call("os", "system"), "os", "system"},
		{"posix.system", call("posix", "system"), "posix", "system"},
		{"nt.system", call("nt", "system"), "nt", "system"},
		{"subprocess via STACK_GLOBAL", stackCall("subprocess", "check_output"), "subprocess", "check_output"},
		{"builtins.eval", call("builtins", "eval"), "builtins", "eval"},
		{"py2 __builtin__.eval", call("__builtin__", "eval"), "__builtin__", "eval"},
		{"exec", call("builtins", "exec"), "builtins", "exec"},
		{"compile", call("builtins", "compile"), "builtins", "compile"},
		{"getattr", call("builtins", "getattr"), "builtins", "getattr"},
		{"setattr", call("builtins", "setattr"), "builtins", "setattr"},
		{"__import__", stackCall("builtins", "__import__"), "builtins", "__import__"},
		{"open", call("builtins", "open"), "builtins", "open"},
		{"apply", call("__builtin__", "apply"), "__builtin__", "apply"},
		{"importlib", call("importlib", "import_module"), "importlib", "import_module"},
		{"runpy", call("runpy", "_run_code"), "runpy", "_run_code"},
		{"socket", call("socket", "create_connection"), "socket", "create_connection"},
		{"shutil", call("shutil", "rmtree"), "shutil", "rmtree"},
		{"pickle.loads", call("pickle", "loads"), "pickle", "loads"},
		{"_pickle.loads", call("_pickle", "loads"), "_pickle", "loads"},
		{"marshal", call("marshal", "loads"), "marshal", "loads"},
		{"torch.load", call("torch", "load"), "torch", "load"},
		{"torch.storage._load_from_bytes", call("torch.storage", "_load_from_bytes"), "torch.storage", "_load_from_bytes"},
		{"torch.hub", call("torch.hub", "load"), "torch.hub", "load"},
		{"torch.jit", call("torch.jit", "load"), "torch.jit", "load"},
		{"torch.jit submodule", call("torch.jit._serialization", "load"), "torch.jit._serialization", "load"},
		{"code", call("code", "InteractiveInterpreter"), "code", "InteractiveInterpreter"},
		{"pty", call("pty", "spawn"), "pty", "spawn"},
		{"ctypes", call("ctypes", "CDLL"), "ctypes", "CDLL"},
		{"webbrowser", call("webbrowser", "open"), "webbrowser", "open"},
		{"functools.partial", call("functools", "partial"), "functools", "partial"},
		{"operator.attrgetter", call("operator", "attrgetter"), "operator", "attrgetter"},
		{"operator.methodcaller", call("_operator", "methodcaller"), "_operator", "methodcaller"},
		{"numpy.load", call("numpy", "load"), "numpy", "load"},
		{"sys.modules", call("sys", "exit"), "sys", "exit"},
		{"os.path submodule", call("os.path", "join"), "os.path", "join"},
		{"INST opcode", newPK(0).op(opMARK).str("ls").op(opINST).raw([]byte("os\nsystem\n")).stop(), "os", "system"},
		{"STACK_GLOBAL from memo", newPK(4).str("os").op(opMEMOIZE).str("system").op(opMEMOIZE, opPOP, opPOP).
			op(opBINGET, 0, opBINGET, 1, opSTACKGLOBAL).stop(), "os", "system"},
		{"hostile class through copy_reg._reconstructor", newPK(2).global("copy_reg", "_reconstructor").
			op(opMARK).global("os", "system").global("__builtin__", "object").op(opNONE, opTUPLE, opREDUCE).stop(), "os", "system"},
		{"hostile storage class", newPK(2).op(opMARK).str("storage").global("subprocess", "Popen").str("0").str("cpu").int(1).
			op(opTUPLE, opBINPERSID).stop(), "subprocess", "Popen"},
	}
	for _, tc := range denied {
		for _, allow := range []bool{false, true} {
			_, err := load(t, dataPkl(t, tc.pkl), &Options{AllowObjects: allow})
			var ue *UnsafeGlobalError
			if !errors.As(err, &ue) {
				t.Errorf("%s (AllowObjects %v): error %v (%T), want *UnsafeGlobalError", tc.name, allow, err, err)
				continue
			}
			if ue.Module != tc.mod || ue.Name != tc.fn || !ue.Denied {
				t.Errorf("%s: refused %s.%s (denied %v), want %s.%s denied", tc.name, ue.Module, ue.Name, ue.Denied, tc.mod, tc.fn)
			}
			if !strings.Contains(err.Error(), ue.Resolved) || !strings.Contains(ue.Where, "offset") {
				t.Errorf("%s: message %q does not name the global and its offset", tc.name, err)
			}
		}
	}

	// Unknown globals: refused by default, inert objects with AllowObjects.
	unknown := newPK(2).op(opEMPTYDICT, opMARK).
		str("obj").global("__main__", "Config").op(opMARK).int(3).op(opTUPLE, opREDUCE).
		op(opEMPTYDICT).str("lr").float(0.5).op(opSETITEM, opBUILD).
		str("fn").global("mylib.act", "swish").
		op(opSETITEMS).stop()
	_, err := load(t, dataPkl(t, unknown), nil)
	var ue *UnsafeGlobalError
	if !errors.As(err, &ue) || ue.Denied || ue.Module != "__main__" || ue.Name != "Config" {
		t.Fatalf("unknown class without AllowObjects: %v", err)
	}
	f, err := load(t, dataPkl(t, unknown), &Options{AllowObjects: true})
	if err != nil {
		t.Fatal(err)
	}
	root := f.Root.(*Dict)
	obj, _ := root.Get("obj")
	o, ok := obj.(*Object)
	if !ok || o.Module != "__main__" || o.Name != "Config" || len(o.Args) != 1 {
		t.Fatalf("obj = %#v", obj)
	}
	if lr, ok := o.Attr("lr"); !ok || lr != 0.5 {
		t.Errorf("obj.lr = %v", lr)
	}
	if fn, _ := root.Get("fn"); fn != (Global{Module: "mylib.act", Name: "swish"}) {
		t.Errorf("fn = %#v", fn)
	}
	if got := strings.Join(f.Globals, " "); got != "__main__.Config mylib.act.swish" {
		t.Errorf("Globals = %q", got)
	}
}

// wideOverflow is the error of a size or stride beyond 2^31: want where int has 64 bits,
// the range error of intTuple where it has 32.
func wideOverflow(want string) string {
	if strconv.IntSize == 32 {
		return "out of the range of a 32-bit int"
	}
	return want
}

func TestHostilePickles(t *testing.T) {
	nested := func(n int) []byte {
		p := newPK(2).op(opNONE)
		for i := 0; i < n; i++ {
			p.op(opTUPLE1)
		}
		return p.stop()
	}
	flood := func(op byte, n int) []byte {
		p := newPK(2)
		p.b = append(p.b, bytes.Repeat([]byte{op}, n)...)
		return p.op(opNONE).stop()
	}
	tests := []struct {
		name string
		pkl  []byte
		want string
	}{
		{"empty pickle", nil, "missing pickle"},
		{"no STOP", newPK(2).op(opNONE).b, "truncated"},
		{"STOP on empty stack", newPK(2).stop(), "stack underflow"},
		{"APPEND on empty stack", []byte("a."), "stack underflow"},
		{"POP_MARK without MARK", newPK(2).op(opNONE, opPOPMARK).stop(), "no MARK"},
		{"unknown opcode 0xff", newPK(2).op(0xff).stop(), "unknown opcode 0xff"},
		{"unsupported protocol", []byte{opPROTO, 9, opNONE, opSTOP}, "protocol 9"},
		{"BINBYTES8 of 2^60 bytes", newPK(4).op(opBINBYTES8, 0, 0, 0, 0, 0, 0, 0, 0x10).stop(), "BINBYTES8"},
		{"BINBYTES8 of 2^64-1 bytes", newPK(4).op(opBINBYTES8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff).stop(), "larger than the file"},
		{"BINUNICODE of 4 GiB", newPK(3).op(opBINUNICODE, 0xff, 0xff, 0xff, 0xff).stop(), "BINUNICODE needs 4294967295 bytes"},
		{"BINSTRING negative", newPK(2).op(opBINSTRING, 0xff, 0xff, 0xff, 0xff).stop(), "negative length"},
		{"LONG4 of 2 GiB", newPK(2).op(opLONG4, 0xff, 0xff, 0xff, 0x7f).stop(), "LONG4: an int of 2147483647 bytes exceeds the limit of 2048 bytes"},
		{"LONG4 of 1 MiB", append(newPK(2).op(opLONG4, 0, 0, 0x10, 0).b, append(bytes.Repeat([]byte{1}, 1<<20), opSTOP)...), "an int of 1048576 bytes exceeds"},
		{"LONG of 4301 digits", append(newPK(0).op(opLONG).b, "-"+strings.Repeat("7", 4301)+"L\n."...), "an int of 4301 digits exceeds the limit of 4300"},
		{"GLOBAL of 5000 bytes", newPK(2).global("m", strings.Repeat("x", 5000)).stop(), "a global named by 5001 bytes exceeds the limit of 4096"},
		{"STACK_GLOBAL of 1 MiB", stackGlobals(1, 1<<20), "a global named by 1048577 bytes"},
		{"INT of 5000 digits", append(newPK(0).op(opINT).b, strings.Repeat("7", 5000)+"\n."...), "an int of 5000 digits"},
		{"LONG1 of zero bytes", newPK(2).op(opLONG1, 0).stop(), "LONG1"},
		{"FRAME of 2^62 bytes", newPK(4).op(opFRAME, 0, 0, 0, 0, 0, 0, 0, 0x40).op(opNONE).stop(), "FRAME"},
		{"BYTEARRAY8 huge", newPK(5).op(opBYTEARRAY8, 0, 0, 0, 0, 1, 0, 0, 0).stop(), "BYTEARRAY8"},
		{"missing memo", newPK(2).op(opBINGET, 7).stop(), "memo value 7 not found"},
		{"odd DICT", newPK(2).op(opMARK, opNONE, opDICT).stop(), "odd number"},
		{"odd SETITEMS", newPK(2).op(opEMPTYDICT, opMARK, opNONE, opSETITEMS).stop(), "odd number"},
		{"GLOBAL without newline", append(newPK(2).op(opGLOBAL).b, "torch"...), "newline"},
		{"STACK_GLOBAL of non-strings", newPK(4).op(opNONE, opNONE, opSTACKGLOBAL).stop(), "must be strings"},
		{"extension registry", newPK(2).op(opEXT1, 1).stop(), "extension"},
		{"out-of-band buffer", newPK(5).op(opNEXTBUFFER).stop(), "out-of-band"},
		{"MARK flood", flood(opMARK, 100000), "nested MARKs"},
		{"EMPTY_DICT flood", flood(opEMPTYDICT, 1<<21), "memory"},
		{"deep nesting", nested(100000), "depth"},
		{"unhashable OrderedDict key", newPK(2).orderedDict().op(opMARK, opEMPTYLIST).int(1).op(opSETITEMS).stop(), "unhashable dict key or set item: a list"},
		{"unhashable set item", newPK(4).op(opEMPTYSET, opMARK, opEMPTYDICT).op(opADDITEMS).stop(), "unhashable dict key or set item: a dict"},
		{"unhashable tuple key", newPK(2).op(opEMPTYDICT).op(opEMPTYLIST).op(opTUPLE1).int(1).op(opSETITEM).stop(), "unhashable dict key or set item: a list"},
		{"APPEND to a dict", newPK(2).op(opEMPTYDICT, opNONE, opAPPEND).stop(), "APPEND"},
		{"REDUCE of a non-callable", newPK(2).int(1).op(opEMPTYTUPLE, opREDUCE).stop(), "REDUCE"},
		{"NEWOBJ with non-tuple args", newPK(2).global("torch.nn.modules.rnn", "RNN").op(opNONE, opNEWOBJ).stop(), "NEWOBJ"},
		{"BUILD on an int", newPK(2).int(1).op(opEMPTYDICT, opBUILD).stop(), "BUILD"},
		{"persistent id of an int", newPK(2).int(1).op(opBINPERSID).stop(), "persistent id"},
		{"persistent id of another kind", newPK(2).op(opMARK).str("module").op(opTUPLE, opBINPERSID).stop(), "persistent id"},
		{"storage class is a string", newPK(2).op(opMARK).str("storage").str("FloatStorage").str("0").str("cpu").int(6).op(opTUPLE, opBINPERSID).stop(), "storage type"},
		{"negative numel", newPK(2).storage("FloatStorage", "0", "cpu", -1).stop(), "element count"},
		{"huge numel", newPK(2).storage("FloatStorage", "0", "cpu", 1<<60).stop(), "exceeds"},
		{"missing storage record", newPK(2).storage("FloatStorage", "9", "cpu", 1).stop(), "data/9"},
		{"negative stride", newPK(2).tensorV2("FloatStorage", "0", 6, 5, []int64{2}, []int64{-1}).stop(), "negative stride"},
		{"negative size", newPK(2).tensorV2("FloatStorage", "0", 6, 0, []int64{-2}, []int64{1}).stop(), "negative size -2 in [-2]"},
		{"negative offset", newPK(2).tensorV2("FloatStorage", "0", 6, -1, []int64{1}, []int64{1}).stop(), "storage offset"},
		{"size overflow", newPK(2).tensorV2("FloatStorage", "0", 6, 0, []int64{1 << 30, 1 << 30, 1 << 30}, []int64{0, 0, 0}).stop(), "the product of its sizes other than 0 is more than"},
		{"size beyond int", newPK(2).tensorV2("FloatStorage", "0", 6, 0, []int64{1 << 40, 1 << 40}, []int64{0, 0}).stop(), wideOverflow("the product of its sizes other than 0 is more than")},
		{"stride overflow", newPK(2).tensorV2("FloatStorage", "0", 6, 0, []int64{5}, []int64{1 << 61}).stop(), wideOverflow("reaches element 9223372036854775808, which exceeds storage")},
		{"offset beyond int", newPK(2).tensorV2("FloatStorage", "0", 6, 1<<32, []int64{1}, []int64{1}).stop(), wideOverflow("exceeds storage")},
		{"sizes and strides differ", newPK(2).tensorV2("FloatStorage", "0", 6, 0, []int64{3, 2}, []int64{1}).stop(), "2 sizes but 1 strides"},
		{"shape of strings", newPK(2).global("torch._utils", "_rebuild_tensor").op(opMARK).storage("FloatStorage", "0", "cpu", 6).
			int(0).op(opMARK).str("x").op(opTUPLE).ints([]int64{1}).op(opTUPLE, opREDUCE).stop(), "size"},
		{"rebuild with too few args", newPK(2).global("torch._utils", "_rebuild_tensor_v2").op(opMARK).int(0).op(opTUPLE, opREDUCE).stop(), "expected 6 to 7"},
		{"v3 with an unsupported dtype", newPK(2).global("torch._utils", "_rebuild_tensor_v3").op(opMARK).storage("FloatStorage", "0", "cpu", 6).
			int(0).ints([]int64{1}).ints([]int64{1}).boolean(false).orderedDict().global("torch", "uint4").op(opTUPLE, opREDUCE).stop(), "unsupported dtype"},
		{"sparse tensor without data", newPK(2).global("torch._utils", "_rebuild_sparse_tensor").op(opMARK).op(opTUPLE, opREDUCE).stop(), "expected (layout, data)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var data []byte
			if tc.pkl != nil {
				data = dataPkl(t, tc.pkl)
			} else {
				data = zipFile(t, "archive/", record{name: "data.pkl"})
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			f, err := load(t, data, nil)
			if err == nil {
				_, err = Leaves(f.Root)
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %.300v (%T), want a *FormatError", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %.300q does not mention %q", err, tc.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20+64*uint64(len(data)) {
				t.Errorf("allocated %d bytes for a %d-byte file", alloc, len(data))
			}
			if elapsed > 5*time.Second {
				t.Errorf("took %v", elapsed)
			}
		})
	}
}

// TestReuseCharges checks that strings used many times through the memo
// are charged at each use that copies or hashes them.
func TestReuseCharges(t *testing.T) {
	for name, pkl := range map[string][]byte{
		"one STACK_GLOBAL name used a million times": stackGlobals(1<<20, 4000),
		"one long dict key set in 65536 dicts":       keyReuse(1<<16, 1<<16),
		"one long set item added to 65536 sets":      itemReuse(1<<16, 1<<16),
	} {
		start := time.Now()
		_, err := load(t, dataPkl(t, pkl), &Options{AllowObjects: true})
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "memory or hashing") {
			t.Errorf("%s: error %.200v, want a *FormatError about the decoding budget", name, err)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s: took %v", name, d)
		}
	}
}

// stackGlobals names the global (m, a name of nameLen bytes) n times through the memo,
// with AllowObjects' inert values in mind: each STACK_GLOBAL copies the name.
func stackGlobals(n, nameLen int) []byte {
	p := newPK(4).str("m").op(opMEMOIZE).str(strings.Repeat("x", nameLen)).op(opMEMOIZE, opPOP, opPOP, opEMPTYLIST, opMARK)
	for i := 0; i < n; i++ {
		p.op(opBINGET, 0, opBINGET, 1, opSTACKGLOBAL)
		if i%1000 == 999 {
			p.op(opAPPENDS, opMARK)
		}
	}
	return p.op(opAPPENDS).stop()
}

// keyReuse sets one key of keyLen bytes in each of n dicts, through the memo.
func keyReuse(keyLen, n int) []byte {
	p := newPK(2).str(strings.Repeat("k", keyLen)).op(opBINPUT, 0, opPOP, opEMPTYLIST, opMARK)
	for i := 0; i < n; i++ {
		p.op(opEMPTYDICT, opBINGET, 0, opNONE, opSETITEM)
		if i%1000 == 999 {
			p.op(opAPPENDS, opMARK)
		}
	}
	return p.op(opAPPENDS).stop()
}

// itemReuse adds one string of itemLen bytes to each of n sets.
func itemReuse(itemLen, n int) []byte {
	p := newPK(4).str(strings.Repeat("k", itemLen)).op(opBINPUT, 0, opPOP, opEMPTYLIST, opMARK)
	for i := 0; i < n; i++ {
		p.op(opEMPTYSET, opMARK, opBINGET, 0, opADDITEMS)
		if i%1000 == 999 {
			p.op(opAPPENDS, opMARK)
		}
	}
	return p.op(opAPPENDS).stop()
}

func TestTruncations(t *testing.T) {
	// Every prefix of valid checkpoints fails cleanly.
	p := newPK(4).op(opEMPTYDICT, opMARK).
		str("a").tensorV2("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1}).
		str("b").float(1.5).str("c").op(opMARK).int(1).int(1 << 40).op(opLIST).
		op(opSETITEMS).stop()
	files := map[string][]byte{
		"zip":    dataPkl(t, p),
		"legacy": legacyFile(newPK(2).tensorV2("FloatStorage", "k", 6, 0, []int64{6}, []int64{1}).stop(), []string{"k"}, [][]byte{seq(6, 4)}, []int{4}),
		"tar":    tarCheckpoint(t, seq(6, 4)),
	}
	// The legacy file's persistent id needs the 6-field form.
	files["legacy"] = legacyFile(newPK(2).global("torch._utils", "_rebuild_tensor").op(opMARK).
		op(opMARK).str("storage").global("torch", "FloatStorage").str("k").str("cpu").int(6).op(opNONE, opTUPLE, opBINPERSID).
		int(0).ints([]int64{6}).ints([]int64{1}).op(opTUPLE, opREDUCE).stop(), []string{"k"}, [][]byte{seq(6, 4)}, []int{4})
	for name, full := range files {
		if _, err := load(t, full, nil); err != nil {
			t.Fatalf("%s: the full file does not load: %v", name, err)
		}
		step := 1
		if len(full) > 4000 {
			step = 7
		}
		for n := 0; n < len(full); n += step {
			f, err := load(t, full[:n], nil)
			if err == nil {
				// A cut inside trailing padding can leave a valid file.
				_, err = Leaves(f.Root)
			}
			if err != nil {
				var fe *FormatError
				if !errors.As(err, &fe) {
					t.Errorf("%s cut at %d: error %v (%T), want a *FormatError", name, n, err, err)
				}
			}
		}
	}
}

func TestCyclesAndSharing(t *testing.T) {
	// L = []; L.append(L)
	cycle := newPK(2).op(opEMPTYLIST, opBINPUT, 0, opBINGET, 0, opAPPEND).stop()
	// d = {}; d['self'] = d
	dictCycle := newPK(2).op(opEMPTYDICT, opBINPUT, 0).str("self").op(opBINGET, 0, opSETITEM).stop()
	// L0 = [1]; Lk = [Lk-1, Lk-1] for 60 levels: 2^60 paths.
	laughs := newPK(2).op(opMARK).int(1).op(opLIST, opBINPUT, 0)
	for i := 1; i <= 60; i++ {
		laughs.op(opMARK, opBINGET, byte(i-1), opBINGET, byte(i-1), opLIST, opBINPUT, byte(i))
	}
	tests := []struct {
		name string
		pkl  []byte
		want string
	}{
		{"list containing itself", cycle, "cycle"},
		{"dict containing itself", dictCycle, "cycle"},
		{"billion laughs", laughs.stop(), "too many paths"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := load(t, dataPkl(t, tc.pkl), nil)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = Leaves(f.Root)
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Leaves error %v, want a *FormatError mentioning %q", err, tc.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Leaves took %v", d)
			}
		})
	}
	// Shared (acyclic) references are fine: each path is a leaf.
	shared := newPK(2).op(opMARK).op(opMARK).int(5).op(opLIST, opBINPUT, 0, opBINGET, 0, opLIST).stop()
	f, err := load(t, dataPkl(t, shared), nil)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := Leaves(f.Root)
	if err != nil || len(leaves) != 2 || leaves[0].Name != "0.0" || leaves[1].Name != "1.0" {
		t.Errorf("Leaves = %v, %v", leaves, err)
	}
}
