package pickle

import (
	"runtime"
	"testing"
)

// valueFloods returns pickles of about n bytes that hold a value in nearly each byte, in
// the shapes that take the most room per byte of the file: a list of one int repeated
// by DUP, or by the memo, of empty tuples, of one tuple repeated by DUP, of one-character
// strings, and a dict of small ints.
func valueFloods(n int) map[string][]byte {
	fill := func(p *pk, unit ...byte) []byte {
		for len(p.b)+len(unit)+2 <= n {
			p.op(unit...)
		}
		return p.op(opAPPENDS).stop()
	}
	dict := newPK(2).op(opEMPTYDICT, opMARK)
	for i := 0; len(dict.b)+6 <= n; i++ {
		dict.int(int64(i)).op(opDUP)
	}
	return map[string][]byte{
		"dup":         fill(newPK(2).op(opEMPTYLIST, opMARK).int(0), opDUP),
		"memo":        fill(newPK(2).op(opEMPTYLIST, opMARK).int(0).op(opBINPUT, 0), opBINGET, 0),
		"empty tuple": fill(newPK(2).op(opEMPTYLIST, opMARK), opEMPTYTUPLE),
		"dup tuple":   fill(newPK(2).op(opEMPTYLIST, opMARK).int(0).op(opTUPLE1), opDUP),
		"strings":     fill(newPK(4).op(opEMPTYLIST, opMARK), opSHORTBINUNICODE, 1, 'a'),
		"dict":        dict.op(opSETITEMS).stop(),
	}
}

// TestValueFloods: a file of a value in each byte takes room as its values, a few tens
// of bytes each, to read and name: its tree (an item of a list takes 16 bytes), its
// leaves (40 bytes, a name of 8 and a slot of the set of names). Empty tuples are one
// value, where each took a tuple of its own and two entries of the converter's memo
// (about 110 bytes a byte of the file, 4 times the time).
func TestValueFloods(t *testing.T) {
	for name, p := range valueFloods(512 << 10) {
		data := dataPkl(t, p)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f, err := load(t, data, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		leaves, err := Leaves(f.Root)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		live := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		runtime.KeepAlive(f)
		runtime.KeepAlive(leaves)
		perByte := float64(live) / float64(len(data))
		t.Logf("%s: %d leaves, %.0f bytes live per byte of the file, %.0f allocated", name, len(leaves), perByte, float64(after.TotalAlloc-before.TotalAlloc)/float64(len(data)))
		if perByte > 80 {
			t.Errorf("%s: %d leaves of a %d-byte file hold %d bytes, %.0f a byte, want at most 80", name, len(leaves), len(data), live, perByte)
		}
	}
}
