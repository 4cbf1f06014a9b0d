package pickle

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// seedCheckpoints returns small checkpoints of every format and shape of
// content, built in Go.
func seedCheckpoints(t testing.TB) map[string][]byte {
	p := newPK(2).op(opEMPTYDICT, opMARK).
		str("w").tensorV2("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1}).
		str("t").tensorV2("FloatStorage", "0", 6, 1, []int64{2, 2}, []int64{1, 3}).
		str("h").tensorV2("HalfStorage", "1", 4, 0, []int64{4}, []int64{1}).
		str("n").int(3).str("f").float(0.25).str("s").str("x").str("l").op(opMARK).op(opNONE).boolean(true).op(opLIST).
		op(opSETITEMS).stop()
	recs := []record{{name: "data.pkl", data: p}, {name: "data/0", data: seq(6, 4)}, {name: "data/1", data: seq(4, 2)}}
	p4 := newPK(4).str("collections").str("OrderedDict").op(opSTACKGLOBAL, opMEMOIZE, opEMPTYTUPLE, opREDUCE, opMEMOIZE).
		op(opMARK).str("a").tensorV2("DoubleStorage", "0", 3, 0, []int64{3}, []int64{1}).op(opSETITEMS).stop()
	legacyObj := newPK(2).global("torch._utils", "_rebuild_tensor_v2").op(opMARK).
		op(opMARK).str("storage").global("torch", "FloatStorage").str("k").str("cpu").int(6).
		op(opMARK).str("v").int(1).int(4).op(opTUPLE).op(opTUPLE, opBINPERSID).
		int(0).ints([]int64{2, 2}).ints([]int64{1, 2}).boolean(false).orderedDict().op(opTUPLE, opREDUCE).stop()
	mod := module(newPK(2), "torch.nn.modules.rnn", "RNN", func(p *pk) {
		moduleState(p, func(p *pk) { param(p.str("weight_ih_l0"), 6) }, none, none)
	})
	seeds := map[string][]byte{
		"zip":       zipFile(t, "archive/", recs...),
		"zip-big":   zipFile(t, "m/", append(recs, record{name: "byteorder", data: []byte("big")})...),
		"zip-flate": zipFile(t, "", record{name: "data.pkl", data: p, deflate: true}, record{name: "data/0", data: seq(6, 4), deflate: true}, record{name: "data/1", data: seq(4, 2)}),
		"zip-p4":    zipFile(t, "archive/", record{name: "data.pkl", data: p4}, record{name: "data/0", data: seq(3, 8)}),
		"module":    zipFile(t, "archive/", record{name: "data.pkl", data: mod.stop()}, record{name: "data/0", data: seq(6, 4)}),
		"legacy":    legacyFile(legacyObj, []string{"k"}, [][]byte{seq(6, 4)}, []int{4}),
		"tar":       tarCheckpoint(t, seq(6, 4)),
		"evil":      zipFile(t, "archive/", record{name: "data.pkl", data: newPK(2).global("os", "system").op(opMARK).str("id").op(opTUPLE, opREDUCE).stop()}),
	}
	for name, b := range hostileCheckpoints(t) {
		seeds["hostile-"+name] = b
	}
	return seeds
}

// exercise reads everything a checkpoint holds, as a user would.
// hasFloats reports whether Float64s must succeed on a readable tensor: not on complex,
// F4, bits or quantized ones.
func hasFloats(t *Tensor) bool {
	switch t.DType {
	case F4, Bits8, Bits16, Bits1x8, Bits2x4, Bits4x2:
		return false
	}
	return !t.DType.IsComplex() && t.Quantization == nil
}

func exercise(t *testing.T, f *File, err error) {
	if err != nil {
		var fe *FormatError
		var ue *UnsafeGlobalError
		var we *WeightsOnlyError
		if !errors.As(err, &fe) && !errors.As(err, &ue) && !errors.As(err, &we) {
			t.Fatalf("error %v (%T) is neither a FormatError, an UnsafeGlobalError nor a WeightsOnlyError", err, err)
		}
		return
	}
	leaves, err := Leaves(f.Root)
	if err != nil {
		return
	}
	for _, l := range leaves {
		tt, ok := l.Value.(*Tensor)
		if !ok || tt.NumBytes() > 4<<20 {
			// Large views are the unit tests' business; here they would
			// only slow the fuzzer down.
			continue
		}
		b, err := tt.Bytes()
		if err != nil {
			continue
		}
		if int64(len(b)) != tt.NumBytes() {
			t.Fatalf("%s: Bytes gave %d bytes, NumBytes says %d", l.Name, len(b), tt.NumBytes())
		}
		var w bytes.Buffer
		var le *LimitError
		if n, err := tt.WriteTo(&w); errors.As(err, &le) {
			continue // the file's expansion budget is spent
		} else if err != nil || n != int64(len(b)) || !bytes.Equal(w.Bytes(), b) {
			t.Fatalf("%s: WriteTo differs from Bytes (%v)", l.Name, err)
		}
		if _, err := tt.Float64s(); err != nil && hasFloats(tt) && !errors.As(err, &le) {
			t.Fatalf("%s: Float64s: %v", l.Name, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	for _, b := range seedCheckpoints(f) {
		f.Add(b)
	}
	// The committed fixtures are seeds too.
	names, _ := filepath.Glob(filepath.Join("..", "testdata", "pickle", "*.pt"))
	for _, dir := range []string{"torch2", "content", "globals"} {
		more, _ := filepath.Glob(filepath.Join("..", "testdata", "pickle", dir, "*.pt"))
		names = append(names, more...)
	}
	// A value in each byte, in the shapes that take the most room per byte.
	for _, b := range valueFloods(4 << 10) {
		f.Add(dataPkl(f, b))
	}
	hostile, _ := filepath.Glob(filepath.Join("..", "testdata", "hostile", "*.pt"))
	for _, n := range append(names, hostile...) {
		if b, err := os.ReadFile(n); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []Options{{}, {AllowObjects: true}, {Strict: true}} {
			withinBudget(t, data, func() {
				file, err := NewReader(bytes.NewReader(data), int64(len(data)), &opts)
				exercise(t, file, err)
			})
		}
	})
}

// withinBudget runs fn, which reads data, and fails t when it allocates more than
// 128 MiB + 512 × len(data) (the pickle budget of 32 MiB + 160 × the file's size,
// reads of the file's tensors within max(64 × its size, 16 MiB), what exercise reads
// several times) or takes longer than 20 s: more is a hang.
func withinBudget(t *testing.T, data []byte, fn func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	fn()
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	if alloc, most := after.TotalAlloc-before.TotalAlloc, 128<<20+512*uint64(len(data)); alloc > most {
		t.Fatalf("allocated %d bytes for %d bytes of input, more than %d", alloc, len(data), most)
	}
	if d > 20*time.Second {
		t.Fatalf("took %v", d)
	}
}

// fuzzStorages is the zip checkpoint whose storage records FuzzUnpickle's
// pickles can refer to: "0" (24 bytes), "1" (8 bytes), "2" (0 bytes).
func fuzzReader(t testing.TB, opts Options) *reader {
	z := zipFile(t, "archive/", record{name: "data.pkl", data: newPK(2).op(opNONE).stop()},
		record{name: "data/0", data: seq(6, 4)}, record{name: "data/1", data: seq(4, 2)}, record{name: "data/2"})
	r := &reader{
		ra: bytes.NewReader(z), size: int64(len(z)), opts: opts,
		globals: map[string]bool{}, classes: map[string]*pyClass{}, storages: map[string]*Storage{},
		viewByKey: map[string]*Storage{}, tarObjs: map[string]any{},
	}
	if _, err := r.readZip(); err != nil {
		t.Fatal(err)
	}
	r.storages = map[string]*Storage{}
	return r
}

func FuzzUnpickle(f *testing.F) {
	for _, b := range seedPickles(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, allow := range []bool{false, true} {
			r := fuzzReader(t, Options{AllowObjects: allow})
			withinBudget(t, data, func() {
				var file *File
				v, _, err := r.readPickle(memSource(data), 0, int64(len(data)), "fuzz", r.zipPersistent("data/"))
				if err == nil {
					v, err = r.convert(v, "fuzz")
				}
				if err == nil {
					file = &File{Root: v}
				}
				exercise(t, file, err)
			})
		}
	})
}

// seedPickles returns pickles exercising every opcode family and rebuild
// function.
func seedPickles(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for name, b := range seedCheckpoints(t) {
		if name == "legacy" || name == "tar" || name == "zip-flate" || strings.HasPrefix(name, "hostile-") {
			continue
		}
		i := bytes.Index(b, []byte{opPROTO})
		j := bytes.LastIndexByte(b[:bytes.Index(b, []byte("PK\x01\x02"))], opSTOP)
		if i >= 0 && j > i {
			out[name] = b[i : j+1]
		}
	}
	for name, b := range hostilePickles() {
		out["hostile "+name] = b
	}
	out["protocol 0"] = []byte("(dp0\nS'a'\np1\n(lp2\nI1\naF2.5\naL12345678901234567890L\nasV\\u00e9\np3\nI01\ns.")
	out["protocol 1"] = []byte("}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01M\x00\x01J\xff\xff\xff\xffeU\x01bq\x03N\x88\x89\x87q\x04u.")
	out["frames"] = append([]byte{opPROTO, 4, opFRAME, 12, 0, 0, 0, 0, 0, 0, 0}, []byte("\x8c\x03abc\x94\x8c\x01d\x94\x86\x94.")...)
	out["set"] = newPK(4).op(opEMPTYSET, opMARK).int(1).int(2).op(opADDITEMS, opMARK).str("x").op(opFROZENSET, opTUPLE2).stop()
	out["values"] = newPK(2).op(opMARK).global("torch", "Size").op(opMARK).int(2).op(opTUPLE, opTUPLE1, opREDUCE).
		global("torch", "device").op(opMARK).str("cuda:0").op(opTUPLE, opREDUCE).
		global("_codecs", "encode").op(opMARK).str("\u00e9").str("latin1").op(opTUPLE, opREDUCE).
		global("builtins", "complex").op(opMARK).float(1).float(2).op(opTUPLE, opREDUCE).
		op(opLIST).stop()
	out["v3"] = newPK(2).global("torch._utils", "_rebuild_tensor_v3").op(opMARK).
		op(opMARK).str("storage").global("torch", "UntypedStorage").str("0").str("cpu").int(24).op(opTUPLE, opBINPERSID).
		int(0).ints([]int64{3, 2}).ints([]int64{1, 3}).boolean(false).orderedDict().global("torch", "bfloat16").op(opTUPLE, opREDUCE).stop()
	out["parameter"] = newPK(2).global("torch._tensor", "_rebuild_from_type_v2").op(opMARK).
		global("torch._utils", "_rebuild_parameter").global("torch.nn.parameter", "Parameter").op(opMARK).
		tensorV2("FloatStorage", "0", 6, 0, []int64{6}, []int64{1}).boolean(true).orderedDict().op(opTUPLE).
		op(opEMPTYDICT, opTUPLE, opREDUCE).stop()
	out["expand"] = newPK(2).tensorV2("FloatStorage", "0", 6, 2, []int64{1000, 3}, []int64{0, 1}).stop()
	out["cycle"] = newPK(2).op(opEMPTYLIST, opBINPUT, 0, opBINGET, 0, opAPPEND).stop()
	out["unknown class"] = newPK(2).global("__main__", "Net").op(opEMPTYTUPLE, opNEWOBJ, opEMPTYDICT).
		str("_parameters").orderedDict().op(opSETITEM, opBUILD).stop()
	return out
}

// TestFuzzSeeds checks that the seed corpora committed under
// testdata/fuzz are those seedCheckpoints and seedPickles build; with
// PTPORT_WRITE_FUZZ_SEEDS=1 it rewrites them first.
func TestFuzzSeeds(t *testing.T) {
	write := os.Getenv("PTPORT_WRITE_FUZZ_SEEDS") != ""
	for target, seeds := range map[string]map[string][]byte{"FuzzOpen": seedCheckpoints(t), "FuzzUnpickle": seedPickles(t)} {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, b := range seeds {
			file := filepath.Join(dir, "seed-"+sanitize(name))
			want := []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b))
			if write {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(file)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s is missing or stale (rerun with PTPORT_WRITE_FUZZ_SEEDS=1): %v", file, err)
			}
		}
	}
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}
