package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nlpodyssey/gopickle/types"
)

// machine decodes a pickle the pre-scan validated, opcode by opcode, as
// Python's _Unpickler does, on values of this package. Every global goes
// through the policy (reader.findClass); nothing is imported or run.
//
// The rules of torch.load(weights_only=True) (torch 2.6 and later,
// torch/_weights_only_unpickler.py) are checked on the way: with
// Options.Strict the first rule broken is the error; otherwise it is
// recorded for File.WeightsOnly.
type machine struct {
	r          *reader
	data       []byte
	pos        int
	op         int // offset of the opcode being run
	where      func(off int) string
	persistent func(pid any) (any, error)
	stack      []any
	meta       [][]any
	memo       map[int]any
	hash       *hasher
	proto      int // of the last PROTO opcode, 0 before any
	// governed holds the values that code of torch, numpy or the standard
	// library has received (see govern).
	governed map[any]bool
	// budget is the pickle's budget (see scanResult), workLeft what it
	// leaves for the work charged by work.
	budget, workLeft int64
	limitFor         string
}

// unpickle decodes a pickle validated by scanPickle. data holds the
// pickle from its first byte; where names an offset in messages.
// It returns too the bytes of work charged (see machine.work), which
// the pre-scan's cost leaves out.
func (r *reader) unpickle(data []byte, sr *scanResult, where func(off int) string, persistent func(pid any) (any, error)) (result any, work int64, err error) {
	m := &machine{r: r, data: data[:sr.end], where: where, persistent: persistent, memo: make(map[int]any), hash: r.hasher(), governed: make(map[any]bool),
		budget: sr.budget, workLeft: sr.left, limitFor: sr.limitFor}
	defer func() {
		work = sr.left - m.workLeft
		if p := recover(); p != nil {
			result, err = nil, &FormatError{File: r.name, Where: where(m.op), Msg: fmt.Sprintf("invalid pickle: %v", p)}
		}
	}()
	v, err := m.run()
	if err != nil {
		return nil, 0, r.wrap(err, where(m.op))
	}
	return v, 0, nil
}

// Costs of machine.work, in bytes: a value of a container walked, and the
// bytes of a string or bytes value.
const workValue = 64

// work charges the work of an opcode that walks the values it is given:
// a call copies its arguments' items (tuple(x), OrderedDict(pairs),
// set(x), bytes(b)) or reads them (a tensor's size and stride), a BUILD
// sets the items of its state as attributes, a persistent load reads the
// fields of its id. The pre-scan charges what each opcode makes, once; a
// container from the memo may be given to such opcodes many times over, and
// each time its items are walked again. work charges each value given,
// and the items of containers among them depth levels down (strings and
// bytes by their length), against what the pickle's budget leaves, before
// the opcode runs.
func (m *machine) work(depth int, vs ...any) error {
	var n int64
	for _, v := range vs {
		n += workCost(v, depth)
		if n > m.workLeft {
			break
		}
	}
	if n > m.workLeft {
		return m.errf("invalid pickle: decoding would take more than %d bytes of memory or hashing, the limit for %s; refusing (opcode %s walks the items of the values it is given, which the memo can give it many times)",
			m.budget, m.limitFor, opName(m.data[m.op]))
	}
	m.workLeft -= n
	return nil
}

// workCost is what work charges for v: workValue; for a string or bytes,
// its length too; for a container, workValue for each item at depth 0, and
// otherwise the workCost of each item at depth-1.
func workCost(v any, depth int) int64 {
	n := int64(workValue)
	var items []any
	switch x := v.(type) {
	case string:
		return n + int64(len(x))
	case []byte:
		return n + int64(len(x))
	case *types.ByteArray:
		return n + int64(len(*x))
	case *types.Tuple:
		items = *x
	case *types.List:
		items = *x
	case *pySet:
		items = x.items
	case *pyDict:
		if depth <= 0 {
			return n + workValue*int64(len(x.keys)+len(x.vals))
		}
		for i := range x.keys {
			n += workCost(x.keys[i], depth-1) + workCost(x.vals[i], depth-1)
		}
		return n
	}
	if depth <= 0 {
		return n + workValue*int64(len(items))
	}
	for _, it := range items {
		n += workCost(it, depth-1)
	}
	return n
}

// strictOps are the opcodes torch.load(weights_only=True) runs.
var strictOps = [256]bool{
	opAPPEND: true, opAPPENDS: true, opBINFLOAT: true, opBINGET: true, opBININT: true,
	opBININT1: true, opBININT2: true, opBINPERSID: true, opBINPUT: true, opBINUNICODE: true,
	opBUILD: true, opEMPTYDICT: true, opEMPTYLIST: true, opEMPTYSET: true, opEMPTYTUPLE: true,
	opGLOBAL: true, opLONG1: true, opLONGBINGET: true, opLONGBINPUT: true, opMARK: true,
	opNEWFALSE: true, opNEWOBJ: true, opNEWTRUE: true, opNONE: true, opPROTO: true,
	opREDUCE: true, opSETITEM: true, opSETITEMS: true, opSHORTBINSTRING: true, opSTOP: true,
	opTUPLE: true, opTUPLE1: true, opTUPLE2: true, opTUPLE3: true,
}

// weightsOnly applies a rule of torch.load(weights_only=True): when ok is
// false, the rule is broken, and msg says how.
func (m *machine) weightsOnly(ok bool, msg func() string) error {
	if ok || (!m.r.opts.Strict && m.r.woErr != nil) {
		return nil
	}
	e := &WeightsOnlyError{File: m.r.name, Where: m.where(m.op), Rule: msg()}
	if m.r.opts.Strict {
		return e
	}
	m.r.woErr = e
	return nil
}

func (m *machine) errf(format string, args ...any) error {
	return &FormatError{Where: m.where(m.op), Msg: fmt.Sprintf(format, args...)}
}

// take returns the next n bytes.
func (m *machine) take(n int) ([]byte, error) {
	if n < 0 || n > len(m.data)-m.pos {
		return nil, m.errf("invalid pickle: truncated opcode argument")
	}
	b := m.data[m.pos : m.pos+n]
	m.pos += n
	return b, nil
}

func (m *machine) line() ([]byte, error) {
	i := bytes.IndexByte(m.data[m.pos:], '\n')
	if i < 0 {
		return nil, m.errf("invalid pickle: missing newline")
	}
	b := m.data[m.pos : m.pos+i]
	m.pos += i + 1
	return b, nil
}

func (m *machine) u8() (int, error) {
	b, err := m.take(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

func (m *machine) u32() (uint32, error) {
	b, err := m.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (m *machine) u64() (uint64, error) {
	b, err := m.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (m *machine) push(v any) { m.stack = append(m.stack, v) }

func (m *machine) pop() (any, error) {
	if len(m.stack) == 0 {
		return nil, m.errf("invalid pickle: stack underflow")
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (any, error) {
	if len(m.stack) == 0 {
		return nil, m.errf("invalid pickle: stack underflow")
	}
	return m.stack[len(m.stack)-1], nil
}

func (m *machine) popMark() ([]any, error) {
	if len(m.meta) == 0 {
		return nil, m.errf("invalid pickle: no MARK on the stack")
	}
	items := m.stack
	m.stack = m.meta[len(m.meta)-1]
	m.meta = m.meta[:len(m.meta)-1]
	return items, nil
}

func (m *machine) run() (any, error) {
	for {
		if m.pos >= len(m.data) {
			return nil, m.errf("invalid pickle: missing STOP opcode")
		}
		m.op = m.pos
		op := m.data[m.pos]
		m.pos++
		if err := m.r.poll.step(); err != nil {
			return nil, err
		}
		if !strictOps[op] {
			if err := m.weightsOnly(false, func() string { return "opcode " + opName(op) + ", which its unpickler does not run" }); err != nil {
				return nil, err
			}
		}
		if op == opSTOP {
			v, err := m.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		}
		if err := m.step(op); err != nil {
			return nil, err
		}
	}
}

func (m *machine) step(op byte) error {
	switch op {
	case opMARK:
		m.meta = append(m.meta, m.stack)
		m.stack = make([]any, 0, 8)
	case opPOP:
		if len(m.stack) > 0 {
			m.stack = m.stack[:len(m.stack)-1]
		} else if _, err := m.popMark(); err != nil {
			return err
		}
	case opPOPMARK:
		_, err := m.popMark()
		return err
	case opDUP:
		v, err := m.top()
		if err != nil {
			return err
		}
		m.push(v)
	case opPROTO:
		// Python's unpickler maps Python 2 names in protocols below 3.
		var err error
		m.proto, err = m.u8()
		return err
	case opFRAME:
		_, err := m.take(8)
		return err
	case opNONE:
		m.push(nil)
	case opNEWTRUE:
		m.push(true)
	case opNEWFALSE:
		m.push(false)
	case opINT:
		b, err := m.line()
		if err != nil {
			return err
		}
		switch string(b) {
		case "00":
			m.push(false)
		case "01":
			m.push(true)
		default:
			v, err := m.parseInt(string(b))
			if err != nil {
				return err
			}
			m.push(v)
		}
	case opLONG:
		b, err := m.line()
		if err != nil {
			return err
		}
		v, err := m.parseInt(strings.TrimSuffix(string(b), "L"))
		if err != nil {
			return err
		}
		m.push(v)
	case opBININT:
		u, err := m.u32()
		if err != nil {
			return err
		}
		m.push(int64(int32(u)))
	case opBININT1:
		n, err := m.u8()
		if err != nil {
			return err
		}
		m.push(int64(n))
	case opBININT2:
		b, err := m.take(2)
		if err != nil {
			return err
		}
		m.push(int64(binary.LittleEndian.Uint16(b)))
	case opLONG1, opLONG4:
		b, err := m.counted(op)
		if err != nil {
			return err
		}
		m.push(decodeLong(b))
	case opFLOAT:
		b, err := m.line()
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return m.errf("invalid pickle: FLOAT %q", b)
		}
		m.push(f)
	case opBINFLOAT:
		b, err := m.take(8)
		if err != nil {
			return err
		}
		m.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case opSTRING:
		b, err := m.line()
		if err != nil {
			return err
		}
		if len(b) < 2 || b[0] != b[len(b)-1] || (b[0] != '\'' && b[0] != '"') {
			return m.errf("invalid pickle: the STRING opcode argument must be quoted")
		}
		s, err := escapeDecode(b[1 : len(b)-1])
		if err != nil {
			return m.errf("invalid pickle: STRING: %v", err)
		}
		return m.pyStr(s)
	case opBINSTRING, opSHORTBINSTRING:
		b, err := m.counted(op)
		if err != nil {
			return err
		}
		return m.pyStr(b)
	case opUNICODE:
		b, err := m.line()
		if err != nil {
			return err
		}
		s, err := rawUnicodeEscape(b)
		if err != nil {
			return m.errf("invalid pickle: UNICODE: %v", err)
		}
		m.push(s)
	case opBINUNICODE, opSHORTBINUNICODE, opBINUNICODE8:
		b, err := m.counted(op)
		if err != nil {
			return err
		}
		if !pythonUTF8(string(b)) {
			return m.errf("invalid pickle: %s string is not UTF-8", opName(op))
		}
		m.push(string(b))
	case opBINBYTES, opSHORTBINBYTES, opBINBYTES8:
		b, err := m.counted(op)
		if err != nil {
			return err
		}
		m.push(b)
	case opBYTEARRAY8:
		b, err := m.counted(op)
		if err != nil {
			return err
		}
		ba := types.ByteArray(append([]byte(nil), b...))
		m.push(&ba)
	case opREADONLYBUFFER:
		_, err := m.top()
		return err
	case opEMPTYTUPLE:
		m.push(types.NewTupleFromSlice(nil))
	case opTUPLE:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(types.NewTupleFromSlice(items))
	case opTUPLE1, opTUPLE2, opTUPLE3:
		n := int(op-opTUPLE1) + 1
		if len(m.stack) < n {
			return m.errf("invalid pickle: stack underflow")
		}
		items := append([]any(nil), m.stack[len(m.stack)-n:]...)
		m.stack = m.stack[:len(m.stack)-n]
		m.push(types.NewTupleFromSlice(items))
	case opEMPTYLIST:
		m.push(types.NewList())
	case opLIST:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(types.NewListFromSlice(items))
	case opEMPTYDICT:
		m.push(newPyDict(gDict))
	case opDICT:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		d := newPyDict(gDict)
		if err := m.setItems(d, items); err != nil {
			return err
		}
		m.push(d)
	case opEMPTYSET:
		m.push(&pySet{})
	case opFROZENSET:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		s := &pySet{frozen: true}
		if err := m.addItems(s, items); err != nil {
			return err
		}
		m.push(s)
	case opADDITEMS:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		v, err := m.top()
		if err != nil {
			return err
		}
		s, ok := v.(*pySet)
		if !ok || s.frozen {
			return m.errf("ADDITEMS on %s, not a set", typeName(v))
		}
		if m.governed[s] {
			if err := m.govern(items...); err != nil {
				return err
			}
		}
		return m.addItems(s, items)
	case opAPPEND, opAPPENDS:
		var items []any
		if op == opAPPEND {
			v, err := m.pop()
			if err != nil {
				return err
			}
			items = []any{v}
		} else {
			var err error
			if items, err = m.popMark(); err != nil {
				return err
			}
		}
		v, err := m.top()
		if err != nil {
			return err
		}
		return m.appendItems(v, items)
	case opSETITEM, opSETITEMS:
		var items []any
		if op == opSETITEM {
			if len(m.stack) < 2 {
				return m.errf("invalid pickle: stack underflow")
			}
			items = append([]any(nil), m.stack[len(m.stack)-2:]...)
			m.stack = m.stack[:len(m.stack)-2]
		} else {
			var err error
			if items, err = m.popMark(); err != nil {
				return err
			}
		}
		v, err := m.top()
		if err != nil {
			return err
		}
		return m.setItemsOn(v, items)
	case opGET, opBINGET, opLONGBINGET:
		i, err := m.memoIndex(op)
		if err != nil {
			return err
		}
		v, ok := m.memo[i]
		if !ok {
			return m.errf("invalid pickle: memo value %d not found", i)
		}
		m.push(v)
	case opPUT, opBINPUT, opLONGBINPUT:
		i, err := m.memoIndex(op)
		if err != nil {
			return err
		}
		v, err := m.top()
		if err != nil {
			return err
		}
		m.memo[i] = v
	case opMEMOIZE:
		v, err := m.top()
		if err != nil {
			return err
		}
		m.memo[len(m.memo)] = v
	case opGLOBAL:
		mod, err := m.line()
		if err != nil {
			return err
		}
		name, err := m.line()
		if err != nil {
			return err
		}
		c, err := m.global(string(mod), string(name))
		if err != nil {
			return err
		}
		m.push(c)
	case opSTACKGLOBAL:
		name, err := m.pop()
		if err != nil {
			return err
		}
		mod, err := m.pop()
		if err != nil {
			return err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return m.errf("invalid pickle: STACK_GLOBAL requires string module and name")
		}
		c, err := m.global(ms, ns)
		if err != nil {
			return err
		}
		m.push(c)
	case opINST:
		mod, err := m.line()
		if err != nil {
			return err
		}
		name, err := m.line()
		if err != nil {
			return err
		}
		c, err := m.global(string(mod), string(name))
		if err != nil {
			return err
		}
		args, err := m.popMark()
		if err != nil {
			return err
		}
		if err := m.work(1, args...); err != nil {
			return err
		}
		return m.call(c, args)
	case opOBJ:
		args, err := m.popMark()
		if err != nil {
			return err
		}
		if len(args) == 0 {
			return m.errf("invalid pickle: OBJ without a class")
		}
		if err := m.work(1, args[1:]...); err != nil {
			return err
		}
		return m.call(args[0], args[1:])
	case opREDUCE:
		args, err := m.pop()
		if err != nil {
			return err
		}
		fn, err := m.pop()
		if err != nil {
			return err
		}
		t, ok := args.(*types.Tuple)
		if !ok {
			return m.errf("REDUCE arguments are %s, not a tuple", typeName(args))
		}
		if err := m.work(1, *t...); err != nil {
			return err
		}
		return m.call(fn, *t)
	case opNEWOBJ, opNEWOBJEX:
		var kwargs any
		if op == opNEWOBJEX {
			var err error
			if kwargs, err = m.pop(); err != nil {
				return err
			}
		}
		args, err := m.pop()
		if err != nil {
			return err
		}
		cls, err := m.pop()
		if err != nil {
			return err
		}
		t, ok := args.(*types.Tuple)
		if !ok {
			return m.errf("%s arguments are %s, not a tuple", opName(op), typeName(args))
		}
		c, ok := cls.(*pyClass)
		if !ok {
			return m.errf("%s of %s, not a class", opName(op), typeName(cls))
		}
		if err := m.work(1, append([]any{kwargs}, *t...)...); err != nil {
			return err
		}
		v, err := m.newObj(c, *t, kwargs)
		if err != nil {
			return err
		}
		m.push(v)
	case opBUILD:
		state, err := m.pop()
		if err != nil {
			return err
		}
		inst, err := m.top()
		if err != nil {
			return err
		}
		if err := m.work(2, state); err != nil {
			return err
		}
		return m.build(inst, state)
	case opPERSID, opBINPERSID:
		var pid any
		if op == opPERSID {
			b, err := m.line()
			if err != nil {
				return err
			}
			pid = string(b)
		} else {
			var err error
			if pid, err = m.pop(); err != nil {
				return err
			}
			if err := m.weightsOnly(isStoragePID(pid), func() string { return "a persistent id that is not a storage" }); err != nil {
				return err
			}
		}
		// torch's loader reads the persistent id; a class in it, as
		// ('module', cls, source_file, source) and the tar format's (cls,
		// source_file, source) name one, is what torch.load returns.
		if t, ok := pid.(*types.Tuple); ok {
			for _, e := range *t {
				if _, isClass := e.(*pyClass); !isClass {
					if err := m.govern(e); err != nil {
						return err
					}
				}
			}
		} else if err := m.govern(pid); err != nil {
			return err
		}
		if m.persistent == nil {
			return m.errf("persistent id in a pickle that has no storages")
		}
		if err := m.work(1, pid); err != nil {
			return err
		}
		v, err := m.persistent(pid)
		if err != nil {
			return err
		}
		m.push(v)
	default:
		return m.errf("invalid pickle: unsupported opcode %s", opName(op))
	}
	return nil
}

// isStoragePID reports whether pid is what weights_only loads: an int or a
// tuple naming a storage.
func isStoragePID(pid any) bool {
	switch x := pid.(type) {
	case int64:
		return true
	case *types.Tuple:
		if len(*x) == 0 {
			return true
		}
		s, ok := asString((*x)[0])
		return ok && s == "storage"
	}
	return false
}

// counted returns the argument of an opcode that gives its length first:
// in one byte (SHORT_BINSTRING, SHORT_BINUNICODE, SHORT_BINBYTES, LONG1),
// four (signed for BINSTRING and LONG4) or eight.
func (m *machine) counted(op byte) ([]byte, error) {
	var n uint64
	switch op {
	case opSHORTBINSTRING, opSHORTBINUNICODE, opSHORTBINBYTES, opLONG1:
		k, err := m.u8()
		if err != nil {
			return nil, err
		}
		n = uint64(k)
	case opBINSTRING, opLONG4, opBINUNICODE, opBINBYTES:
		u, err := m.u32()
		if err != nil {
			return nil, err
		}
		if (op == opBINSTRING || op == opLONG4) && int32(u) < 0 {
			return nil, m.errf("invalid pickle: %s with a negative length", opName(op))
		}
		n = uint64(u)
	default:
		u, err := m.u64()
		if err != nil {
			return nil, err
		}
		n = u
	}
	if n > uint64(len(m.data)) {
		return nil, m.errf("invalid pickle: %s length %d exceeds the pickle", opName(op), n)
	}
	return m.take(int(n))
}

func (m *machine) memoIndex(op byte) (int, error) {
	switch op {
	case opGET, opPUT:
		b, err := m.line()
		if err != nil {
			return 0, err
		}
		i, err := strconv.Atoi(string(b))
		if err != nil || i < 0 {
			return 0, m.errf("invalid pickle: %s index %q", opName(op), b)
		}
		return i, nil
	case opBINGET, opBINPUT:
		return m.u8()
	}
	u, err := m.u32()
	return int(u), err
}

// pyStr pushes a Python 2 str as torch.load reads it: decoded as UTF-8.
func (m *machine) pyStr(b []byte) error {
	if !utf8.Valid(b) {
		return m.errf("a Python 2 string is not UTF-8, as torch.load decodes it (torch.load fails on this file too)")
	}
	m.push(string(b))
	return nil
}

// parseInt parses the argument of INT and LONG.
func (m *machine) parseInt(s string) (any, error) {
	s = strings.TrimSpace(s)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, m.errf("invalid pickle: integer %q", s)
	}
	if b.IsInt64() {
		return b.Int64(), nil
	}
	return b, nil
}

// decodeLong decodes a little-endian two's complement integer (LONG1,
// LONG4) in linear time.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var u uint64
		for i := len(b) - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
		if shift := uint(64 - 8*len(b)); shift > 0 {
			return int64(u<<shift) >> shift
		}
		return int64(u)
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

// escapeDecode decodes the escapes of a protocol 0 STRING argument (a
// Python 2 str repr), as codecs.escape_decode does.
func escapeDecode(b []byte) ([]byte, error) {
	if !strings.ContainsRune(string(b), '\\') {
		return b, nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(b) {
			return nil, errors.New("trailing backslash")
		}
		switch c = b[i]; c {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, c)
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 >= len(b) {
				return nil, errors.New("truncated \\x escape")
			}
			v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				return nil, errors.New("invalid \\x escape")
			}
			out = append(out, byte(v))
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(b[i]-'0')
			}
			out = append(out, byte(v))
		default:
			out = append(out, '\\', c)
		}
	}
	return out, nil
}

// rawUnicodeEscape decodes a protocol 0 UNICODE argument: latin-1 bytes
// with \uXXXX and \UXXXXXXXX escapes.
func rawUnicodeEscape(b []byte) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) && (b[i+1] == 'u' || b[i+1] == 'U') {
			// An escape only when preceded by an even number of backslashes.
			n := 0
			for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
				n++
			}
			if n%2 == 0 {
				w := 4
				if b[i+1] == 'U' {
					w = 8
				}
				if i+2+w > len(b) {
					return "", errors.New("truncated \\u escape")
				}
				v, err := strconv.ParseUint(string(b[i+2:i+2+w]), 16, 32)
				if err != nil || v > unicode10FFFF {
					return "", errors.New("invalid \\u escape")
				}
				sb.WriteString(pyRune(rune(v)))
				i += 1 + w
				continue
			}
		}
		sb.WriteRune(rune(c))
	}
	return sb.String(), nil
}

const unicode10FFFF = 0x10FFFF

// pyRune encodes r as Python's UTF-8 with surrogatepass does (a lone
// surrogate as its 3-byte form).
func pyRune(r rune) string {
	if r >= 0xD800 && r <= 0xDFFF {
		return string([]byte{0xED, byte(0xA0 | (r>>6)&0x1F), byte(0x80 | r&0x3F)})
	}
	return string(r)
}
