package pickle

import (
	"errors"
	"math/big"
	"strings"
	"testing"
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
