package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func load(t testing.TB, data []byte, opts *Options) (*File, error) {
	t.Helper()
	return NewReader(bytes.NewReader(data), int64(len(data)), opts)
}

// leafTensors returns the tensors of f's leaves by name.
func leafTensors(t testing.TB, root any) map[string]*Tensor {
	t.Helper()
	leaves, err := Leaves(root)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Tensor{}
	for _, l := range leaves {
		if tt, ok := l.Value.(*Tensor); ok {
			out[l.Name] = tt
		}
	}
	return out
}

func mustBytes(t testing.TB, tt *Tensor) []byte {
	t.Helper()
	b, err := tt.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var dtypeStorageClass = map[DType]string{
	F64: "DoubleStorage", F32: "FloatStorage", F16: "HalfStorage", BF16: "BFloat16Storage",
	I64: "LongStorage", I32: "IntStorage", I16: "ShortStorage", I8: "CharStorage",
	U8: "ByteStorage", BOOL: "BoolStorage", C64: "ComplexFloatStorage", C128: "ComplexDoubleStorage",
}

func TestZipByteOrder(t *testing.T) {
	for dt, class := range dtypeStorageClass {
		const rows, cols = 3, 5
		data := seq(rows*cols, dt.Size())
		be := append([]byte(nil), data...)
		swapBytes(be, dt.swapUnit())
		p := newPK(2).op(opEMPTYDICT, opMARK).
			str("m").tensorV2(class, "0", rows*cols, 0, []int64{rows, cols}, []int64{cols, 1}).
			str("t").tensorV2(class, "0", rows*cols, 0, []int64{cols, rows}, []int64{1, cols}).
			op(opSETITEMS).stop()
		little, err := load(t, zipFile(t, "archive/", record{name: "data.pkl", data: p},
			record{name: "byteorder", data: []byte("little")}, record{name: "data/0", data: data}), nil)
		if err != nil {
			t.Fatalf("%s little: %v", dt, err)
		}
		big, err := load(t, zipFile(t, "archive/", record{name: "data.pkl", data: p},
			record{name: "byteorder", data: []byte("big")}, record{name: "data/0", data: be}), nil)
		if err != nil {
			t.Fatalf("%s big: %v", dt, err)
		}
		lt, bt := leafTensors(t, little.Root), leafTensors(t, big.Root)
		for _, name := range []string{"m", "t"} {
			if !bytes.Equal(mustBytes(t, lt[name]), mustBytes(t, bt[name])) {
				t.Errorf("%s %s: big-endian file reads differently from little-endian", dt, name)
			}
		}
		if !bytes.Equal(mustBytes(t, lt["m"]), data) {
			t.Errorf("%s: contiguous view does not read the stored bytes", dt)
		}
	}
}

func TestZipLayouts(t *testing.T) {
	data := seq(6, 4)
	p := newPK(2).tensorV2("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1}).stop()
	tests := []struct {
		name   string
		prefix string
		recs   []record
	}{
		{"archive", "archive/", []record{{name: "data.pkl", data: p}, {name: "data/0", data: data}, {name: "version", data: []byte("3\n")}}},
		{"file stem", "my model.v2/", []record{{name: "data.pkl", data: p}, {name: "data/0", data: data}}},
		{"no prefix", "", []record{{name: "data.pkl", data: p}, {name: "data/0", data: data}}},
		{"deflated", "archive/", []record{{name: "data.pkl", data: p, deflate: true}, {name: "data/0", data: data, deflate: true}}},
		{"storage first", "a/", []record{{name: "data/0", data: data}, {name: "data.pkl", data: p}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := load(t, zipFile(t, tc.prefix, tc.recs...), nil)
			if err != nil {
				t.Fatal(err)
			}
			if f.Format != FormatZip {
				t.Errorf("format %q", f.Format)
			}
			tt := leafTensors(t, f.Root)["tensor"]
			if tt == nil || !bytes.Equal(mustBytes(t, tt), data) {
				t.Fatalf("tensor %+v does not read the stored bytes", tt)
			}
			if tt.Storage.Key() != "0" {
				t.Errorf("storage key %q", tt.Storage.Key())
			}
		})
	}
}

func TestZipErrors(t *testing.T) {
	data := seq(6, 4)
	p := newPK(2).tensorV2("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1}).stop()
	good := zipFile(t, "archive/", record{name: "data.pkl", data: p}, record{name: "data/0", data: data})
	corrupt := append([]byte(nil), good...)
	corrupt[bytes.Index(corrupt, p)+5] ^= 0xff
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"torchscript constant missing", zipFile(t, "m/", record{name: "data.pkl", data: p}, record{name: "constants.pkl", data: p}, record{name: "data/0", data: data}), "m/constants/0: storage record is missing"},
		{"torchscript of torch 1.3", zipFile(t, "m/", record{name: "model.json", data: []byte("{}")}, record{name: "code/m.py", data: []byte("x")}), "model.json"},
		{"no data.pkl", zipFile(t, "archive/", record{name: "data/0", data: data}), "no data.pkl"},
		{"missing storage", zipFile(t, "archive/", record{name: "data.pkl", data: p}), "archive/data/0: storage record is missing"},
		{"short storage", zipFile(t, "archive/", record{name: "data.pkl", data: p}, record{name: "data/0", data: data[:20]}), "exceeds the record's 20 bytes"},
		{"bad byteorder", zipFile(t, "archive/", record{name: "data.pkl", data: p}, record{name: "byteorder", data: []byte("middle")}, record{name: "data/0", data: data}), "unknown byte order"},
		{"crc", corrupt, "CRC-32"},
		{"truncated", good[:len(good)/2], "zip directory"},
		{"view past storage", zipFile(t, "archive/", record{name: "data.pkl", data: newPK(2).tensorV2("FloatStorage", "0", 6, 4, []int64{2, 3}, []int64{3, 1}).stop()}, record{name: "data/0", data: data}), "exceeds storage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.data, nil)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want a *FormatError", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestLazy(t *testing.T) {
	const n = 8 << 20 // 32 MiB of float32
	data := seq(n, 4)
	p := newPK(2).op(opEMPTYDICT, opMARK).
		str("a").tensorV2("FloatStorage", "0", n, 0, []int64{n}, []int64{1}).
		str("b").tensorV2("FloatStorage", "0", n, 0, []int64{n / 2, 2}, []int64{1, n / 2}).
		op(opSETITEMS).stop()
	z := zipFile(t, "archive/", record{name: "data.pkl", data: p}, record{name: "data/0", data: data})
	cr := &countingReaderAt{r: bytes.NewReader(z)}
	f, err := NewReader(cr, int64(len(z)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := leafTensors(t, f.Root)
	if cr.n > 64<<10 {
		t.Errorf("opening read %d bytes of a %d-byte file", cr.n, len(z))
	}
	if ts["a"].Storage != ts["b"].Storage {
		t.Error("tensors over one storage do not share the *Storage")
	}
	if !bytes.Equal(mustBytes(t, ts["a"]), data) {
		t.Error("tensor a does not read its storage")
	}
}

func TestOpenFile(t *testing.T) {
	data := seq(6, 4)
	z := zipFile(t, "archive/", record{name: "data.pkl", data: newPK(2).tensorV2("FloatStorage", "0", 6, 0, []int64{6}, []int64{1}).stop()}, record{name: "data/0", data: data})
	dir := t.TempDir()
	name := filepath.Join(dir, "x.pt")
	if err := os.WriteFile(name, z, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	tt := f.Root.(*Tensor)
	if !bytes.Equal(mustBytes(t, tt), data) {
		t.Error("tensor does not read the stored bytes")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tt.Bytes(); err == nil {
		t.Error("reading a tensor after Close succeeded")
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := Open(dir, nil); err == nil {
		t.Error("opening a directory succeeded")
	}
	if _, err := Open(filepath.Join(dir, "missing.pt"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("opening a missing file: %v", err)
	}
	empty := filepath.Join(dir, "empty.pt")
	os.WriteFile(empty, nil, 0o644)
	_, err = Open(empty, nil)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != empty || !strings.Contains(err.Error(), "empty") {
		t.Errorf("opening an empty file: %v", err)
	}
}

func TestLegacyViews(t *testing.T) {
	root := seq(10, 4)
	// ('storage', torch.FloatStorage, 'r', 'cuda:0', 10, ('v', 2, 5)) and a
	// tensor of 3 elements at offset 1 of the view.
	obj := newPK(2).op(opEMPTYDICT, opMARK).str("view").
		global("torch._utils", "_rebuild_tensor_v2").op(opMARK).
		op(opMARK).str("storage").global("torch", "FloatStorage").str("r").str("cuda:0").int(10).
		op(opMARK).str("v").int(2).int(5).op(opTUPLE).op(opTUPLE, opBINPERSID).
		int(1).ints([]int64{3}).ints([]int64{1}).boolean(true).orderedDict().op(opTUPLE, opREDUCE).
		str("whole").
		global("torch._utils", "_rebuild_tensor").op(opMARK).
		op(opMARK).str("storage").global("torch", "FloatStorage").str("r").str("cuda:0").int(10).op(opNONE, opTUPLE, opBINPERSID).
		int(0).ints([]int64{10}).ints([]int64{1}).op(opTUPLE, opREDUCE).
		op(opSETITEMS).stop()
	f, err := load(t, legacyFile(obj, []string{"r"}, [][]byte{root}, []int{4}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != FormatLegacy {
		t.Errorf("format %q", f.Format)
	}
	ts := leafTensors(t, f.Root)
	if got := mustBytes(t, ts["view"]); !bytes.Equal(got, root[12:24]) {
		t.Errorf("view reads %x, want elements 3..5 of the root %x", got, root[12:24])
	}
	if !ts["view"].RequiresGrad || ts["view"].Storage.Device != "cuda:0" || ts["view"].Storage.Key() != "v" {
		t.Errorf("view tensor %+v, storage %+v", ts["view"], ts["view"].Storage)
	}
	if got := mustBytes(t, ts["whole"]); !bytes.Equal(got, root) {
		t.Error("root tensor does not read the stored bytes")
	}

	bad := []struct {
		name string
		data []byte
		want string
	}{
		{"count mismatch", legacyFile(obj, []string{"r"}, [][]byte{root[:36]}, []int{4}), "holds 9 elements"},
		{"missing data", legacyFile(obj, nil, nil, nil), "no data"},
		{"unknown key", legacyFile(obj, []string{"r", "x"}, [][]byte{root, root}, []int{4, 4}), "belongs to no storage"},
		{"truncated", legacyFile(obj, []string{"r"}, [][]byte{root}, []int{4})[:len(legacyFile(obj, []string{"r"}, [][]byte{root}, []int{4}))-4], "truncated"},
		{"bad magic", append(newPK(2).int(7).stop(), obj...), "unknown format"},
		// Python source read as a pickle: INST of module "mport torch", no importable name.
		{"python source", []byte("import torch\ntorch.save({}, 'x.pt')\n"), "unknown format: not a zip, tar or legacy-format PyTorch checkpoint; read as a plain pickle: it names a global that no unpickler could import"},
		// A plain pickle (pickle.dump, protocol 0) that fails as a pickle: the error says
		// it was read as one.
		{"plain pickle", []byte("(dp0\nS'a'\np1\nS'\xff'\np2\ns."), "unknown format: not a zip, tar or legacy-format PyTorch checkpoint; read as a plain pickle: "},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.data, nil)
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want a *FormatError mentioning %q", err, tc.want)
			}
		})
	}
}

// tarCheckpoint builds a checkpoint in the tar format of torch <= 0.1.10:
// a float storage of 6 elements with a view (offset 2, 3 elements), a
// long storage, tensors a (2x3), b (its transpose) and c (over the view),
// and a pickle {'a': a, 'b': b, 'c': c, 'd': long storage}.
func tarCheckpoint(t testing.TB, floats []byte) []byte { return tarCheckpointAt(t, floats, 0) }

// tarCheckpointAt is tarCheckpoint with tensor a at storage offset aOff.
func tarCheckpointAt(t testing.TB, floats []byte, aOff int64) []byte {
	st := newPK(2).int(2).stop()
	st = append(st, newPK(2).op(opMARK).int(101).str("cpu").global("torch", "FloatStorage").op(opTUPLE).stop()...)
	st = binary.LittleEndian.AppendUint64(st, 6)
	st = append(st, floats...)
	st = append(st, newPK(2).op(opMARK).int(102).str("cpu").global("torch", "LongStorage").op(opTUPLE).stop()...)
	st = binary.LittleEndian.AppendUint64(st, 2)
	st = append(st, seq(2, 8)...)
	st = append(st, newPK(2).op(opMARK).op(opMARK).int(103).int(101).int(2).int(3).op(opTUPLE).op(opLIST).stop()...)
	tt := newPK(2).int(3).stop()
	hdr := func(key, sid int64, shape, stride []int64, off int64) {
		tt = append(tt, newPK(2).op(opMARK).int(key).int(sid).global("torch", "FloatTensor").op(opTUPLE).stop()...)
		tt = binary.LittleEndian.AppendUint32(tt, uint32(len(shape)))
		tt = append(tt, 0, 0, 0, 0)
		for _, v := range append(append([]int64{}, shape...), stride...) {
			tt = binary.LittleEndian.AppendUint64(tt, uint64(v))
		}
		tt = binary.LittleEndian.AppendUint64(tt, uint64(off))
	}
	hdr(201, 101, []int64{2, 3}, []int64{3, 1}, aOff)
	hdr(202, 101, []int64{3, 2}, []int64{1, 3}, 0)
	hdr(203, 103, []int64{3}, []int64{1}, 0)
	obj := newPK(2).op(opEMPTYDICT, opMARK).
		str("a").str("201").op(opBINPERSID).
		str("b").str("202").op(opBINPERSID).
		str("c").str("203").op(opBINPERSID).
		str("d").str("102").op(opBINPERSID).
		op(opSETITEMS).stop()
	return tarFile(t, record{name: "sys_info", data: newPK(2).op(opEMPTYDICT).stop()}, record{name: "pickle", data: obj},
		record{name: "tensors", data: tt}, record{name: "storages", data: st})
}

func TestTar(t *testing.T) {
	floats := seq(6, 4)
	f, err := load(t, tarCheckpoint(t, floats), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != FormatTar {
		t.Errorf("format %q", f.Format)
	}
	ts := leafTensors(t, f.Root)
	want := map[string][]byte{
		"a": floats,
		"b": refGather(floats, 4, []int{3, 2}, []int{1, 3}, 0),
		"c": floats[8:20],
	}
	for name, w := range want {
		if got := mustBytes(t, ts[name]); !bytes.Equal(got, w) {
			t.Errorf("%s reads %x, want %x", name, got, w)
		}
	}
	if ts["a"].Storage != ts["b"].Storage {
		t.Error("a and b do not share their storage")
	}
	if d, _ := f.Root.(*Dict).Get("d"); !reflect.DeepEqual(d.(*Storage).DType, I64) {
		t.Errorf("d is %#v, want the long storage", d)
	}
	full := tarCheckpoint(t, floats)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"no tensors member", tarFile(t, record{name: "pickle", data: newPK(2).op(opNONE).stop()}, record{name: "storages", data: newPK(2).int(0).stop()})},
		{"truncated", full[:len(full)-1500]},
	} {
		if _, err := load(t, tc.data, nil); err == nil {
			t.Errorf("%s: loaded", tc.name)
		}
	}
}

func TestRebuild(t *testing.T) {
	data := seq(6, 4)
	tv2 := func(p *pk) *pk { return p.tensorV2("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1}) }
	v2args := func(p *pk) *pk {
		return p.op(opMARK).storage("FloatStorage", "0", "cpu", 6).int(0).ints([]int64{2, 3}).ints([]int64{3, 1}).boolean(false).orderedDict().op(opTUPLE)
	}
	tests := []struct {
		name   string
		build  func(p *pk) *pk
		dtype  DType
		shape  []int
		grad   bool
		device string
	}{
		{"v1", func(p *pk) *pk {
			return p.global("torch._utils", "_rebuild_tensor").op(opMARK).storage("FloatStorage", "0", "cpu", 6).
				int(0).ints([]int64{3, 2}).ints([]int64{1, 3}).op(opTUPLE, opREDUCE)
		}, F32, []int{3, 2}, false, "cpu"},
		{"v2", tv2, F32, []int{2, 3}, false, "cpu"},
		{"v2 with metadata", func(p *pk) *pk {
			return p.global("torch._utils", "_rebuild_tensor_v2").op(opMARK).storage("FloatStorage", "0", "cuda:1", 6).
				int(0).ints([]int64{6}).ints([]int64{1}).boolean(true).orderedDict().op(opEMPTYDICT).op(opTUPLE, opREDUCE)
		}, F32, []int{6}, true, "cuda:1"},
		{"v3 over untyped storage", func(p *pk) *pk {
			return p.global("torch._utils", "_rebuild_tensor_v3").op(opMARK).
				op(opMARK).str("storage").global("torch.storage", "UntypedStorage").str("0").str("cpu").int(24).op(opTUPLE, opBINPERSID).
				int(0).ints([]int64{12}).ints([]int64{1}).boolean(false).orderedDict().global("torch", "float16").op(opTUPLE, opREDUCE)
		}, F16, []int{12}, false, "cpu"},
		{"TypedStorage with a dtype", func(p *pk) *pk {
			return p.global("torch._utils", "_rebuild_tensor_v2").op(opMARK).
				op(opMARK).str("storage").global("torch.storage", "TypedStorage").op(opEMPTYTUPLE).
				op(opEMPTYDICT).str("dtype").global("torch", "int32").op(opSETITEM, opNEWOBJEX).
				str("0").str("cpu").int(6).op(opTUPLE, opBINPERSID).
				int(0).ints([]int64{6}).ints([]int64{1}).boolean(false).orderedDict().op(opTUPLE, opREDUCE)
		}, I32, []int{6}, false, "cpu"},
		{"parameter", func(p *pk) *pk {
			return tv2(p.global("torch._utils", "_rebuild_parameter").op(opMARK)).boolean(true).orderedDict().op(opTUPLE, opREDUCE)
		}, F32, []int{2, 3}, true, "cpu"},
		{"parameter with state", func(p *pk) *pk {
			return tv2(p.global("torch._utils", "_rebuild_parameter_with_state").op(opMARK)).boolean(false).orderedDict().
				op(opEMPTYDICT).str("x").int(1).op(opSETITEM).op(opTUPLE, opREDUCE)
		}, F32, []int{2, 3}, false, "cpu"},
		{"from type v2", func(p *pk) *pk {
			p.global("torch._tensor", "_rebuild_from_type_v2").op(opMARK).global("torch._utils", "_rebuild_tensor_v2").
				global("torch.nn.parameter", "Parameter")
			return v2args(p).op(opEMPTYDICT).op(opTUPLE, opREDUCE)
		}, F32, []int{2, 3}, false, "cpu"},
		{"from type v2 via torch.tensor", func(p *pk) *pk {
			p.global("torch.tensor", "_rebuild_from_type_v2").op(opMARK).global("torch._utils", "_rebuild_tensor_v2").
				global("torch", "Tensor")
			return v2args(p).op(opEMPTYDICT).op(opTUPLE, opREDUCE)
		}, F32, []int{2, 3}, false, "cpu"},
		{"from type v2 via torch._utils", func(p *pk) *pk {
			p.global("torch._utils", "_rebuild_from_type_v2").op(opMARK).global("torch._utils", "_rebuild_tensor_v2").
				global("torch", "Tensor")
			return v2args(p).op(opEMPTYDICT).op(opTUPLE, opREDUCE)
		}, F32, []int{2, 3}, false, "cpu"},
		{"Parameter NEWOBJ and BUILD (requires_grad, _, backward_hooks)", func(p *pk) *pk {
			return tv2(p.global("torch.nn.parameter", "Parameter").op(opMARK)).boolean(true).op(opTUPLE, opNEWOBJ).
				op(opMARK).boolean(false).op(opNONE).orderedDict().op(opTUPLE, opBUILD)
		}, F32, []int{2, 3}, false, "cpu"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.build(newPK(2)).stop()
			f, err := load(t, zipFile(t, "archive/", record{name: "data.pkl", data: p}, record{name: "data/0", data: data}), nil)
			if err != nil {
				t.Fatal(err)
			}
			tt, ok := f.Root.(*Tensor)
			if !ok {
				t.Fatalf("root is %T", f.Root)
			}
			if tt.DType != tc.dtype || !reflect.DeepEqual(tt.Shape, tc.shape) || tt.RequiresGrad != tc.grad || tt.Storage.Device != tc.device {
				t.Errorf("got %s %v grad=%v device=%q", tt.DType, tt.Shape, tt.RequiresGrad, tt.Storage.Device)
			}
			if _, err := tt.Bytes(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestValues(t *testing.T) {
	p := newPK(2).op(opEMPTYDICT, opMARK).
		str("size").global("torch", "Size").op(opMARK).ints([]int64{2, 3}).op(opTUPLE, opREDUCE).
		str("device").global("torch", "device").op(opMARK).str("cuda").int(1).op(opTUPLE, opREDUCE).
		str("dtype").global("torch", "bfloat16").
		str("set").global("__builtin__", "set").op(opMARK).op(opMARK).str("b").str("a").op(opLIST, opTUPLE, opREDUCE).
		str("frozenset").global("builtins", "frozenset").op(opMARK).op(opMARK).int(3).int(1).op(opLIST, opTUPLE, opREDUCE).
		str("bytes").global("_codecs", "encode").op(opMARK).str("\u00ff\u0001").str("latin1").op(opTUPLE, opREDUCE).
		str("bytearray").global("builtins", "bytearray").op(opMARK).bytes([]byte{7, 8}).op(opTUPLE, opREDUCE).
		str("complex").global("builtins", "complex").op(opMARK).float(1.5).int(-2).op(opTUPLE, opREDUCE).
		str("counter").global("collections", "Counter").op(opMARK).op(opEMPTYDICT).str("k").int(2).op(opSETITEM).op(opTUPLE, opREDUCE).
		str("big").op(opLONG1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1).
		str("defaultdict").global("collections", "defaultdict").op(opMARK).global("builtins", "list").op(opTUPLE, opREDUCE).
		op(opMARK).int(0).op(opEMPTYLIST).op(opSETITEMS).
		str("sd").orderedDict().op(opMARK).str("w").float(0.5).op(opSETITEMS).
		op(opEMPTYDICT).str("_metadata").op(opEMPTYDICT).op(opSETITEM).op(opBUILD).
		op(opSETITEMS).stop()
	f, err := load(t, zipFile(t, "archive/", record{name: "data.pkl", data: p}), nil)
	if err != nil {
		t.Fatal(err)
	}
	root := f.Root.(*Dict)
	want := map[string]any{
		"size":        Tuple{int64(2), int64(3)},
		"device":      "cuda:1",
		"dtype":       Global{Module: "torch", Name: "bfloat16"},
		"set":         List{"a", "b"},
		"frozenset":   List{int64(1), int64(3)},
		"bytes":       []byte{0xff, 0x01},
		"bytearray":   []byte{7, 8},
		"complex":     complex(1.5, -2),
		"counter":     &Dict{Entries: []DictEntry{{"k", int64(2)}}},
		"big":         new(big.Int).Lsh(big.NewInt(1), 64),
		"defaultdict": &Dict{Entries: []DictEntry{{int64(0), List{}}}},
	}
	for k, w := range want {
		got, ok := root.Get(k)
		if !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", k, got, w)
		}
	}
	sd, _ := root.Get("sd")
	d := sd.(*Dict)
	if !d.Ordered || d.Len() != 1 || d.Attrs == nil {
		t.Fatalf("state dict %#v", d)
	}
	if _, ok := d.Attrs.Get("_metadata"); !ok {
		t.Error("_metadata attribute lost")
	}
	leaves, err := Leaves(f.Root)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves {
		if strings.Contains(l.Name, "_metadata") {
			t.Errorf("leaf %q: attributes are not leaves", l.Name)
		}
	}
	wantG := []string{"__builtin__.set", "_codecs.encode", "builtins.bytearray", "builtins.complex", "builtins.frozenset",
		"builtins.list", "collections.Counter", "collections.OrderedDict", "collections.defaultdict", "torch.Size", "torch.bfloat16", "torch.device"}
	if !reflect.DeepEqual(f.Globals, wantG) {
		t.Errorf("Globals = %q, want %q", f.Globals, wantG)
	}
}

// TestLargeStateDict loads a state_dict of 50000 tensors pickled the way
// torch pickles one (globals and strings memoized, SETITEMS in batches of
// 1000), so the pre-scan's memory estimate leaves room for real files.
func TestLargeStateDict(t *testing.T) {
	const n = 50000
	p := newPK(2).global("collections", "OrderedDict").op(opBINPUT, 0, opEMPTYTUPLE, opREDUCE, opBINPUT, 1, opMARK)
	memo := func(i byte, emit func()) {
		emit()
		p.op(opBINPUT, i)
	}
	for i := 0; i < n; i++ {
		p.str("layers." + strconv.Itoa(i) + ".weight").op(opLONGBINPUT).raw(binary.LittleEndian.AppendUint32(nil, uint32(10+i)))
		if i == 0 {
			memo(2, func() { p.global("torch._utils", "_rebuild_tensor_v2") })
		} else {
			p.op(opBINGET, 2)
		}
		p.op(opMARK, opMARK)
		if i == 0 {
			memo(3, func() { p.str("storage") })
			memo(4, func() { p.global("torch", "FloatStorage") })
			p.str("0")
			memo(5, func() { p.str("cpu") })
		} else {
			p.op(opBINGET, 3, opBINGET, 4).str("0").op(opBINGET, 5)
		}
		p.op(opBININT1, 6, opTUPLE, opBINPERSID, opBININT1, 0, opBININT1, 2, opBININT1, 3, opTUPLE2, opBININT1, 3, opBININT1, 1, opTUPLE2, opNEWFALSE)
		p.op(opBINGET, 0, opEMPTYTUPLE, opREDUCE, opTUPLE, opREDUCE)
		if i%1000 == 999 {
			p.op(opSETITEMS, opMARK)
		}
	}
	p.op(opSETITEMS)
	data := zipFile(t, "archive/", record{name: "data.pkl", data: p.stop()}, record{name: "data/0", data: seq(6, 4)})
	f, err := load(t, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := Leaves(f.Root)
	if err != nil || len(leaves) != n {
		t.Fatalf("%d leaves, %v", len(leaves), err)
	}
}

func TestConcurrentReads(t *testing.T) {
	data := seq(1<<16, 4)
	p := newPK(2).op(opEMPTYDICT, opMARK).
		str("a").tensorV2("FloatStorage", "0", 1<<16, 0, []int64{256, 256}, []int64{256, 1}).
		str("b").tensorV2("FloatStorage", "0", 1<<16, 0, []int64{256, 256}, []int64{1, 256}).
		op(opSETITEMS).stop()
	name := filepath.Join(t.TempDir(), "c.pt")
	for _, tc := range []struct {
		name    string
		deflate bool
	}{{"stored", false}, {"deflated", true}} {
		if err := os.WriteFile(name, zipFile(t, "archive/", record{name: "data.pkl", data: p}, record{name: "data/0", data: data, deflate: tc.deflate}), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Open(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		ts := leafTensors(t, f.Root)
		want := map[string][]byte{"a": data, "b": refGather(data, 4, []int{256, 256}, []int{1, 256}, 0)}
		errs := make(chan error, 16)
		for g := 0; g < 16; g++ {
			go func() {
				name := []string{"a", "b"}[g%2]
				b, err := ts[name].Bytes()
				if err == nil && !bytes.Equal(b, want[name]) {
					err = errors.New(name + " read differently")
				}
				errs <- err
			}()
		}
		for g := 0; g < 16; g++ {
			if err := <-errs; err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		f.Close()
	}
}
