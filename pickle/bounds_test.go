package pickle

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/big"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nestedSegments returns a list of n tuples s0..sn-1 where s0 nests None in
// depth 1-tuples and each next segment nests the previous one depth times
// more, reached through the memo: every segment is shallow where it is
// first built, the last one is n*depth deep.
func nestedSegments(n, depth int) []byte {
	p := newPK(2).op(opEMPTYLIST, opNONE)
	for s := 0; s < n; s++ {
		if s > 0 {
			p.op(opBINGET, byte(s-1))
		}
		for i := 0; i < depth; i++ {
			p.op(opTUPLE1)
		}
		p.op(opBINPUT, byte(s), opAPPEND)
	}
	return p.stop()
}

func TestDepthThroughMemo(t *testing.T) {
	_, err := load(t, dataPkl(t, nestedSegments(3, 600)), nil)
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "nesting depth exceeds 1000") {
		t.Errorf("1800 levels through the memo: error %v, want the depth limit", err)
	}
	// The same segment used twice stays 600 deep.
	shared := newPK(2).op(opEMPTYLIST, opNONE)
	for i := 0; i < 600; i++ {
		shared.op(opTUPLE1)
	}
	shared.op(opBINPUT, 0, opAPPEND, opBINGET, 0, opAPPEND)
	f, err := load(t, dataPkl(t, shared.stop()), nil)
	if err != nil {
		t.Fatalf("a 600-deep tuple used twice: %v", err)
	}
	if l, ok := f.Root.(List); !ok || len(l) != 2 {
		t.Fatalf("root = %T", f.Root)
	}
	// A cycle through the memo adds no depth.
	cycle := newPK(2).op(opEMPTYLIST, opBINPUT, 0)
	for i := 0; i < 900; i++ {
		cycle.op(opEMPTYLIST)
	}
	cycle.op(opBINGET, 0)
	for i := 0; i < 901; i++ {
		cycle.op(opAPPEND)
	}
	if _, err := load(t, dataPkl(t, cycle.stop()), nil); err != nil {
		t.Errorf("a 900-deep cycle: %v", err)
	}
}

func TestDictIndex(t *testing.T) {
	p := newPK(2).op(opEMPTYDICT, opMARK)
	for i := 0; i < 10; i++ {
		p.str("k" + string(rune('0'+i))).int(int64(i))
	}
	p.int(5).str("five").int(1 << 40).str("big int64")
	p.op(opLONG1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1).str("2^64")
	p.op(opLONG1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0xff).str("-2^64")
	p.bytes([]byte("k0")).str("bytes k0").float(0.5).str("half").op(opNONE).str("none").op(opNEWTRUE).str("true")
	p.op(opMARK).int(1).int(2).op(opTUPLE).str("tuple")
	p.str("k0").str("k0 again")
	p.op(opSETITEMS)
	f, err := load(t, dataPkl(t, p.stop()), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := f.Root.(*Dict)
	if d.index == nil {
		t.Fatal("the dict read from the file has no index")
	}
	plain := &Dict{Entries: d.Entries}
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	keys := []any{"k0", "k9", "k10", int64(5), 5, int32(5), uint8(5), int64(6), int64(1 << 40), two64,
		new(big.Int).Neg(two64), big.NewInt(5), []byte("k0"), []byte("k1"), 0.5, 5.0, nil, true, false,
		Tuple{int64(1), int64(2)}, Tuple{int64(2), int64(1)}}
	for _, k := range keys {
		got, gok := d.Get(k)
		want, wok := plain.Get(k)
		if gok != wok || !keyEqual(got, want) && got != want {
			t.Errorf("Get(%#v) = %v, %v; the entries say %v, %v", k, got, gok, want, wok)
		}
	}
	if v, _ := d.Get("k0"); v != "k0 again" {
		t.Errorf(`d["k0"] = %v, want the last value set, as in Python`, v)
	}
	if d.Len() != 19 {
		t.Errorf("%d entries, want 19 (k0 set twice)", d.Len())
	}
	// Entries appended after reading are found.
	d.Entries = append(d.Entries, DictEntry{Key: "new", Value: int64(1)})
	if v, ok := d.Get("new"); !ok || v != int64(1) {
		t.Errorf(`Get("new") after appending = %v, %v`, v, ok)
	}
}

// laughsKey returns an OrderedDict whose only key is t60, where t0 = (1,)
// and tk = (tk-1, tk-1): a key of 2^60 paths in 61 memo entries.
func laughsKey(levels int) []byte {
	p := newPK(2).orderedDict().op(opBINPUT, 0).int(1).op(opTUPLE1, opBINPUT, 1, opPOP)
	for k := 2; k <= levels+1; k++ {
		p.op(opBINGET, byte(k-1), opBINGET, byte(k-1), opTUPLE2, opBINPUT, byte(k), opPOP)
	}
	return p.op(opBINGET, byte(levels+1)).int(1).op(opSETITEM).stop()
}

func TestLeavesBudgets(t *testing.T) {
	long := strings.Repeat("k", 1<<20)
	children := func(leaf bool) []byte {
		p := newPK(2).op(opEMPTYDICT).str(long).op(opEMPTYLIST, opMARK)
		for i := 0; i < 100000; i++ {
			if leaf {
				p.int(0)
			} else {
				p.op(opEMPTYDICT)
			}
			if i%1000 == 999 {
				p.op(opAPPENDS, opMARK)
			}
		}
		return p.op(opAPPENDS, opSETITEM).stop()
	}
	module := newPK(2).op(opEMPTYLIST).global("torch.nn.modules.linear", "Linear").op(opEMPTYTUPLE, opNEWOBJ, opEMPTYDICT)
	for i := 0; i < 20000; i++ {
		module.str("a" + strings.Repeat("x", i%7)).int(int64(i)).op(opSETITEM)
	}
	module.str("_parameters").orderedDict().str("weight").tensorV2("FloatStorage", "0", 6, 0, []int64{6}, []int64{1}).op(opSETITEM, opSETITEM, opBUILD)
	module.op(opBINPUT, 0, opAPPEND, opMARK)
	for i := 1; i < 100000; i++ {
		module.op(opBINGET, 0)
	}
	module.op(opAPPENDS)
	tests := []struct {
		name   string
		pkl    []byte
		leaves int    // when want is ""
		want   string // error of Leaves
	}{
		{"a key of 2^60 paths", laughsKey(60), 0, "paths of the tree would take more than"},
		{"a 1 MiB key over 100000 values", children(true), 0, "paths of the tree would take more than"},
		{"a 1 MiB key over 100000 empty dicts", children(false), 0, "paths of the tree would take more than"},
		{"100000 references to a module of 20000 attributes", module.stop(), 100000, ""},
		{"a key of 2^10 paths", laughsKey(10), 1, ""},
	}
	for _, tc := range tests {
		f, err := load(t, dataPkl(t, tc.pkl), nil)
		if err != nil {
			t.Fatalf("%s: %.300v", tc.name, err)
		}
		start := time.Now()
		leaves, err := Leaves(f.Root)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s: Leaves took %v", tc.name, d)
		}
		if tc.want != "" {
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 1000 {
				t.Errorf("%s: error %.300v, want a short *FormatError mentioning %q", tc.name, err, tc.want)
			}
			continue
		}
		if err != nil || len(leaves) != tc.leaves {
			t.Errorf("%s: %d leaves, %.300v; want %d leaves", tc.name, len(leaves), err, tc.leaves)
		}
	}
	// A wide tuple key is rendered in linear time.
	wide := make(Tuple, 200000)
	for i := range wide {
		wide[i] = int64(i)
	}
	start := time.Now()
	leaves, err := Leaves(&Dict{Entries: []DictEntry{{Key: wide, Value: int64(1)}}})
	if err != nil || len(leaves) != 1 || !strings.HasPrefix(leaves[0].Name, "(0, 1, 2, ") || time.Since(start) > 20*time.Second {
		t.Errorf("a key of 200000 ints: %v, %v after %v", len(leaves), err, time.Since(start))
	}
}

func TestWriteBudgets(t *testing.T) {
	// t0 = (1,), tk = (tk-1, tk-1): a key of 2^60 paths.
	key := Tuple{int64(1)}
	for i := 0; i < 60; i++ {
		key = Tuple{key, key}
	}
	long := strings.Repeat("s", 1<<20)
	blob := []byte(long)
	many := make(List, 100000)
	for i := range many {
		if i%2 == 0 {
			many[i] = long
		} else {
			many[i] = blob
		}
	}
	deep := any(int64(0))
	for i := 0; i < 2000; i++ {
		deep = List{deep}
	}
	tests := []struct {
		name string
		root any
		want string // error; "" for none
		most int    // bytes of output when want is ""
	}{
		{"an OrderedDict attribute with a key of 2^60 paths",
			&Dict{Ordered: true, Attrs: &Dict{Entries: []DictEntry{{Key: "_metadata", Value: &Dict{Entries: []DictEntry{{Key: key, Value: &Dict{}}}}}}}}, "", 4 << 10},
		{"a 1 MiB string and bytes each used 50000 times", many, "", 3 << 20},
		{"a list 2000 deep", deep, "nested deeper than 1000", 0},
		{"a key of 2^60 paths over a value that cannot be written",
			&Dict{Entries: []DictEntry{{Key: key, Value: make(chan int)}}}, "cannot write a value of type chan int", 0},
	}
	for _, tc := range tests {
		var out countWriter
		start := time.Now()
		err := Write(&out, tc.root, nil)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s: Write took %v", tc.name, d)
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %.300v", tc.name, err)
		case tc.want == "" && out.n > int64(tc.most):
			t.Errorf("%s: wrote %d bytes, want at most %d", tc.name, out.n, tc.most)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 1000):
			t.Errorf("%s: error %.300v, want a short error mentioning %q", tc.name, err, tc.want)
		}
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// tarHeaders returns a tar checkpoint with n storage headers of zero
// elements, each a pickle made by header.
func tarHeaders(t testing.TB, n int, header func(p *pk) *pk) []byte {
	storages := newPK(2).int(int64(n)).stop()
	for i := 0; i < n; i++ {
		storages = append(storages, header(newPK(2)).stop()...)
		storages = append(storages, make([]byte, 8)...)
	}
	storages = append(storages, newPK(2).op(opEMPTYLIST).stop()...)
	return tarFile(t, record{name: "storages", data: storages}, record{name: "tensors", data: newPK(2).int(0).stop()},
		record{name: "pickle", data: newPK(2).op(opEMPTYDICT).stop()})
}

func TestManyPickles(t *testing.T) {
	plain := func(p *pk) *pk {
		return p.op(opMARK).str("0").str("cpu").global("torch", "FloatStorage").op(opTUPLE)
	}
	data := tarHeaders(t, 100000, plain)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	if _, err := load(t, data, nil); err != nil {
		t.Fatalf("100000 storage headers: %v", err)
	}
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*uint64(len(data)) {
		t.Errorf("100000 storage headers (%d bytes): allocated %d bytes", len(data), alloc)
	}
	if d > 20*time.Second {
		t.Errorf("100000 storage headers: %v", d)
	}
	// Each pickle within its own budget, all of them beyond the file's.
	key := strings.Repeat("k", 4096)
	hashing := func(p *pk) *pk {
		p.str(key).op(opBINPUT, 0, opPOP, opEMPTYLIST)
		for i := 0; i < 1000; i++ {
			p.op(opEMPTYDICT, opBINGET, 0, opNONE, opSETITEM, opAPPEND)
		}
		return plain(p.op(opPOP))
	}
	_, err := load(t, tarHeaders(t, 1000, hashing), nil)
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "the limit for the pickles of a file of") {
		t.Errorf("1000 headers hashing 4 MB each: error %.300v, want the file's budget", err)
	}
}

// deflated returns data compressed with raw deflate, and its CRC-32.
func deflated(t testing.TB, data []byte) ([]byte, uint32) {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes(), crc32.ChecksumIEEE(data)
}

// rawZip builds a zip checkpoint whose records are given compressed, with
// the sizes and CRC-32 the directory states.
func rawZip(t testing.TB, recs ...rawRecord) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range recs {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "archive/" + r.name, Method: r.method, CRC32: r.crc,
			CompressedSize64: uint64(len(r.data)), UncompressedSize64: r.size})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(r.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type rawRecord struct {
	name   string
	method uint16
	data   []byte
	size   uint64
	crc    uint32
}

func storedRecord(name string, data []byte) rawRecord {
	return rawRecord{name, zip.Store, data, uint64(len(data)), crc32.ChecksumIEEE(data)}
}

func deflatedRecord(t testing.TB, name string, data []byte) rawRecord {
	z, crc := deflated(t, data)
	return rawRecord{name, zip.Deflate, z, uint64(len(data)), crc}
}

func TestZipBudgets(t *testing.T) {
	const n = 16 << 20 // floats in a deflated storage of 64 MiB of zeros
	zeros := make([]byte, 4*n)
	tensor := func(shape, stride []int64) []byte {
		return newPK(2).tensorV2("FloatStorage", "0", n, 0, shape, stride).stop()
	}
	measure := func(name string, max uint64, fn func() error) error {
		t.Helper()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		err := fn()
		d := time.Since(start)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > max*raceFactor {
			t.Errorf("%s: allocated %d bytes, want at most %d", name, alloc, max*raceFactor)
		}
		if d > 20*time.Second {
			t.Errorf("%s: took %v", name, d)
		}
		return err
	}
	store := deflatedRecord(t, "data/0", zeros)

	// The first element of a deflated storage of 64 MiB: a few bytes inflated.
	f, err := load(t, rawZip(t, storedRecord("data.pkl", tensor([]int64{1}, []int64{1})), store), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = measure("one element of a deflated storage", 4<<20, func() error {
		_, err := f.Root.(*Tensor).Bytes()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The whole storage, streamed (64 MiB from a small file: past the default limit of
	// the bytes read, which ExpandLimit lifts).
	unlimited := &Options{ExpandLimit: -1}
	f, _ = load(t, rawZip(t, storedRecord("data.pkl", tensor([]int64{n}, []int64{1})), store), nil)
	if _, err := f.Root.(*Tensor).WriteTo(io.Discard); err == nil {
		t.Errorf("64 MiB read from a deflated record of 64 KiB: no error")
	}
	f, _ = load(t, rawZip(t, storedRecord("data.pkl", tensor([]int64{n}, []int64{1})), store), unlimited)
	err = measure("a deflated storage of 64 MiB, streamed", 8<<20, func() error {
		_, err := f.Root.(*Tensor).WriteTo(io.Discard)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A transposed view reads backwards: the inflation is bounded.
	f, _ = load(t, rawZip(t, storedRecord("data.pkl", tensor([]int64{4096, 4096}, []int64{1, 4096})), store), unlimited)
	err = measure("a transposed view of a deflated storage", 16<<20, func() error {
		_, err := f.Root.(*Tensor).WriteTo(io.Discard)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "would inflate more than") {
		t.Errorf("a transposed view of a deflated storage: error %v, want the inflation bound", err)
	}

	// A deflated pickle larger than its compressed size allows is refused
	// before it is inflated.
	bomb := append(newPK(2).op(opMARK).b, bytes.Repeat([]byte{opNONE}, 64<<20)...)
	bomb = append(bomb, opLIST, opSTOP)
	err = measure("a deflated pickle bomb", 4<<20, func() error {
		_, err := load(t, rawZip(t, deflatedRecord(t, "data.pkl", bomb)), nil)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "exceeds the limit of") {
		t.Errorf("a deflated pickle bomb: error %v", err)
	}
	// A directory that understates the size.
	p := newPK(2).op(opNONE).stop()
	lie := deflatedRecord(t, "data.pkl", append(p, bytes.Repeat([]byte{0}, 100)...))
	lie.size = uint64(len(p))
	if _, err := load(t, rawZip(t, lie), nil); err == nil || !strings.Contains(err.Error(), "inflates to more than the 4 bytes") {
		t.Errorf("a deflated pickle longer than its directory entry: error %v", err)
	}
	lie = deflatedRecord(t, "data/0", make([]byte, 64))
	lie.size = 32
	f, _ = load(t, rawZip(t, storedRecord("data.pkl", newPK(2).tensorV2("FloatStorage", "0", 8, 0, []int64{8}, []int64{1}).stop()), lie), nil)
	if _, err := f.Root.(*Tensor).Bytes(); err == nil || !strings.Contains(err.Error(), "inflates to more than the 32 bytes") {
		t.Errorf("a deflated storage longer than its directory entry: error %v", err)
	}
	// A corrupt deflated storage.
	bad := deflatedRecord(t, "data/0", seq(8, 4))
	bad.crc++
	f, _ = load(t, rawZip(t, storedRecord("data.pkl", newPK(2).tensorV2("FloatStorage", "0", 8, 0, []int64{8}, []int64{1}).stop()), bad), nil)
	if _, err := f.Root.(*Tensor).Bytes(); err == nil || !strings.Contains(err.Error(), "CRC-32 mismatch") {
		t.Errorf("a deflated storage with a wrong CRC-32: error %v", err)
	}
}

func TestZipOverlaps(t *testing.T) {
	_, err := load(t, overlappingZip(t), nil)
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "overlapping records") {
		t.Errorf("two records sharing their bytes: error %v", err)
	}
}

func TestExpansionPerFile(t *testing.T) {
	// 20 views of 2 MiB of one 4-byte storage: 40 MiB materialised in all.
	p := newPK(2).op(opEMPTYLIST, opMARK)
	for i := 0; i < 20; i++ {
		p.tensorV2("FloatStorage", "0", 1, 0, []int64{1 << 19}, []int64{0})
	}
	data := dataPkl(t, p.op(opAPPENDS).stop())
	read := func(opts *Options) (int, error) {
		f, err := load(t, data, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range f.Root.(List) {
			if _, err := v.(*Tensor).WriteTo(io.Discard); err != nil {
				return i, err
			}
		}
		return len(f.Root.(List)), nil
	}
	n, err := read(nil)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitExpansion || le.Max != expandFloor || n != 8 {
		t.Errorf("default: %d views read, then %v; want 8 (16 MiB) and a *LimitError of the expansion", n, err)
	}
	if !strings.Contains(err.Error(), "storage \"0\"") || !strings.Contains(err.Error(), "limit of 16777216 bytes") {
		t.Errorf("message %q does not name the storage and the limit", err)
	}
	if n, err := read(&Options{ExpandLimit: 40 << 20}); n != 20 || err != nil {
		t.Errorf("ExpandLimit 40 MiB: %d views, %v", n, err)
	}
	if n, err := read(&Options{ExpandLimit: -1}); n != 20 || err != nil {
		t.Errorf("no limit: %d views, %v", n, err)
	}
	if n, err := read(&Options{ExpandLimit: 10 << 20}); n != 5 || !errors.As(err, &le) || le.Max != 10<<20 {
		t.Errorf("ExpandLimit 10 MiB: %d views, %v", n, err)
	}
	// Views of one storage read many times count each time: 1000 views of a storage
	// of 64 KiB, 64 MiB in all, from a file of 100 KB.
	p = newPK(2).op(opEMPTYLIST, opMARK)
	for i := 0; i < 1000; i++ {
		p.tensorV2("FloatStorage", "0", 1<<14, 0, []int64{128, 128}, []int64{1, 128})
		if i%100 == 99 {
			p.op(opAPPENDS, opMARK)
		}
	}
	data = zipFile(t, "archive/", record{name: "data.pkl", data: p.op(opAPPENDS).stop()}, record{name: "data/0", data: make([]byte, 1<<16)})
	n, err = read(nil)
	if !errors.As(err, &le) || n != 256 {
		t.Errorf("1000 views of 64 KiB: %d read, then %v; want 256 (16 MiB) and a *LimitError", n, err)
	}
	if n, err := read(&Options{ExpandLimit: -1}); n != 1000 || err != nil {
		t.Errorf("1000 views of 64 KiB without a limit: %d read, %v", n, err)
	}
}

// hostilePickles are small pickles of the hostile classes the reader bounds, seeds of
// FuzzUnpickle.
func hostilePickles() map[string][]byte {
	long4 := append(newPK(2).op(opLONG4, 0, 0x10, 0, 0).b, bytes.Repeat([]byte{1}, 4096)...)
	return map[string][]byte{
		"key-laughs":    laughsKey(60),
		"deep-memo":     nestedSegments(3, 600),
		"long4":         append(long4, opSTOP),
		"key-reuse":     keyReuse(4096, 64),
		"stack-globals": stackGlobals(64, 4000),
	}
}

// hostileCheckpoints are small checkpoints of the hostile classes the reader bounds,
// seeds of FuzzOpen (testdata/hostile holds them at full size).
func hostileCheckpoints(t testing.TB) map[string][]byte {
	plain := func(p *pk) *pk {
		return p.op(opMARK).str("0").str("cpu").global("torch", "FloatStorage").op(opTUPLE)
	}
	views := newPK(2).op(opEMPTYLIST, opMARK)
	for i := 0; i < 20; i++ {
		views.tensorV2("FloatStorage", "0", 1, 0, []int64{1 << 18}, []int64{0})
	}
	refs := newPK(2).op(opEMPTYLIST).global("torch.nn.modules.linear", "Linear").op(opEMPTYTUPLE, opNEWOBJ, opEMPTYDICT, opMARK)
	for i := 0; i < 1000; i++ {
		refs.str("a" + strconv.Itoa(i)).int(int64(i))
	}
	refs.str("_parameters").orderedDict().str("weight").tensorV2("FloatStorage", "0", 1, 0, []int64{1}, []int64{1}).op(opSETITEM, opSETITEMS, opBUILD)
	refs.op(opBINPUT, 0, opAPPEND, opMARK)
	for i := 1; i < 1000; i++ {
		refs.op(opBINGET, 0)
	}
	longKey := newPK(2).op(opEMPTYDICT).str(strings.Repeat("k", 64<<10)).op(opEMPTYLIST, opMARK)
	for i := 0; i < 1000; i++ {
		longKey.int(0)
	}
	bomb := append(newPK(2).op(opMARK).b, bytes.Repeat([]byte{opNONE}, 1<<20)...)
	return map[string][]byte{
		"key-laughs":       dataPkl(t, laughsKey(60)),
		"deep-memo":        dataPkl(t, nestedSegments(3, 600)),
		"long4":            dataPkl(t, hostilePickles()["long4"]),
		"zip-overlap":      overlappingZip(t),
		"deflated-storage": rawZip(t, storedRecord("data.pkl", newPK(2).tensorV2("FloatStorage", "0", 1<<18, 0, []int64{1}, []int64{1}).stop()), deflatedRecord(t, "data/0", make([]byte, 1<<20))),
		"deflated-pickle":  rawZip(t, deflatedRecord(t, "data.pkl", append(bomb, opLIST, opSTOP))),
		"expand-views":     dataPkl(t, views.op(opAPPENDS).stop()),
		"tar-headers":      tarHeaders(t, 1000, plain),
		"module-refs":      dataPkl(t, refs.op(opAPPENDS).stop()),
		"long-key":         dataPkl(t, longKey.op(opAPPENDS, opSETITEM).stop()),
	}
}

// overlappingZip is a zip checkpoint whose two storage records share their bytes.
func overlappingZip(t testing.TB) []byte {
	pkl := newPK(2).op(opEMPTYDICT, opMARK).str("a").tensorV2("FloatStorage", "0", 6, 0, []int64{6}, []int64{1}).
		str("b").tensorV2("FloatStorage", "1", 6, 0, []int64{6}, []int64{1}).op(opSETITEMS).stop()
	z := rawZip(t, storedRecord("data.pkl", pkl), storedRecord("data/0", seq(6, 4)), storedRecord("data/1", seq(6, 4)))
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	var first int64
	for _, f := range zr.File {
		if f.Name == "archive/data/0" {
			first, _ = f.DataOffset()
			first -= 30 + int64(len(f.Name))
		}
	}
	// Point data/1's directory entry at data/0's local header.
	cd := bytes.Index(z, []byte("PK\x01\x02"))
	i := cd + bytes.Index(z[cd:], []byte("archive/data/1")) - 46
	binary.LittleEndian.PutUint32(z[i+42:], uint32(first))
	return z
}
