package pickle

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// pk assembles pickles opcode by opcode, for tests that need checkpoints
// PyTorch cannot be asked to write (hostile, big-endian, tar, huge).
type pk struct{ b []byte }

func newPK(proto byte) *pk { return &pk{b: []byte{opPROTO, proto}} }

func (p *pk) op(ops ...byte) *pk { p.b = append(p.b, ops...); return p }

func (p *pk) raw(b []byte) *pk { p.b = append(p.b, b...); return p }

func (p *pk) global(mod, name string) *pk {
	p.b = append(p.b, opGLOBAL)
	p.b = append(p.b, mod+"\n"+name+"\n"...)
	return p
}

func (p *pk) str(s string) *pk {
	if len(s) < 256 {
		p.b = append(p.b, opSHORTBINUNICODE, byte(len(s)))
	} else {
		p.b = binary.LittleEndian.AppendUint32(append(p.b, opBINUNICODE), uint32(len(s)))
	}
	p.b = append(p.b, s...)
	return p
}

func (p *pk) bytes(s []byte) *pk {
	p.b = binary.LittleEndian.AppendUint32(append(p.b, opBINBYTES), uint32(len(s)))
	p.b = append(p.b, s...)
	return p
}

func (p *pk) int(v int64) *pk {
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		p.b = binary.LittleEndian.AppendUint32(append(p.b, opBININT), uint32(int32(v)))
		return p
	}
	p.b = binary.LittleEndian.AppendUint64(append(p.b, opLONG1, 8), uint64(v))
	return p
}

func (p *pk) float(f float64) *pk {
	p.b = binary.BigEndian.AppendUint64(append(p.b, opBINFLOAT), math.Float64bits(f))
	return p
}

func (p *pk) boolean(v bool) *pk {
	if v {
		return p.op(opNEWTRUE)
	}
	return p.op(opNEWFALSE)
}

func (p *pk) ints(vs []int64) *pk {
	p.op(opMARK)
	for _, v := range vs {
		p.int(v)
	}
	return p.op(opTUPLE)
}

func (p *pk) stop() []byte { return append(p.b, opSTOP) }

// orderedDict emits collections.OrderedDict().
func (p *pk) orderedDict() *pk {
	return p.global("collections", "OrderedDict").op(opEMPTYTUPLE, opREDUCE)
}

// storage emits the zip format's persistent id
// ('storage', torch.<class>, key, location, numel).
func (p *pk) storage(class, key, loc string, numel int64) *pk {
	p.op(opMARK).str("storage").global("torch", class).str(key).str(loc).int(numel).op(opTUPLE, opBINPERSID)
	return p
}

// tensorV2 emits torch._utils._rebuild_tensor_v2 over a zip-format storage.
func (p *pk) tensorV2(class, key string, numel, offset int64, shape, stride []int64) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op(opMARK)
	p.storage(class, key, "cpu", numel).int(offset).ints(shape).ints(stride)
	p.boolean(false).orderedDict()
	return p.op(opTUPLE, opREDUCE)
}

// record is one zip record of a test checkpoint.
type record struct {
	name    string
	data    []byte
	deflate bool
}

// zipFile builds a zip-format checkpoint with records under prefix.
func zipFile(t testing.TB, prefix string, recs ...record) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range recs {
		m := zip.Store
		if r.deflate {
			m = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + r.name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// legacyFile builds a legacy-format checkpoint: magic, protocol, sys_info,
// the object pickle, the key list, then each storage's count and bytes.
func legacyFile(obj []byte, keys []string, data [][]byte, elemSize []int) []byte {
	var out []byte
	magic := newPK(2).op(opLONG1, 10)
	m := legacyMagic.Bytes() // big-endian
	for i := len(m) - 1; i >= 0; i-- {
		magic.b = append(magic.b, m[i])
	}
	out = append(out, magic.stop()...)
	out = append(out, newPK(2).int(legacyProtocol).stop()...)
	si := newPK(2).op(opEMPTYDICT, opMARK).str("protocol_version").int(legacyProtocol).
		str("little_endian").boolean(true).op(opSETITEMS)
	out = append(out, si.stop()...)
	out = append(out, obj...)
	kp := newPK(2).op(opMARK)
	for _, k := range keys {
		kp.str(k)
	}
	out = append(out, kp.op(opLIST).stop()...)
	for i, d := range data {
		out = binary.LittleEndian.AppendUint64(out, uint64(len(d)/elemSize[i]))
		out = append(out, d...)
	}
	return out
}

// tarFile builds a tar archive of the named members.
func tarFile(t testing.TB, members ...record) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// seq returns n little-endian elements of size e holding 0, 1, 2, ... in
// each element's low bytes (distinct patterns for views to be checked).
func seq(n, e int) []byte {
	b := make([]byte, n*e)
	for i := 0; i < n; i++ {
		v := uint64(i)*0x9E3779B97F4A7C15 + 1
		for j := 0; j < e; j++ {
			b[i*e+j] = byte(v >> (8 * j))
		}
	}
	return b
}
