package pickle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Pickle opcodes.
const (
	opMARK            = '('
	opSTOP            = '.'
	opPOP             = '0'
	opPOPMARK         = '1'
	opDUP             = '2'
	opFLOAT           = 'F'
	opINT             = 'I'
	opBININT          = 'J'
	opBININT1         = 'K'
	opLONG            = 'L'
	opBININT2         = 'M'
	opNONE            = 'N'
	opPERSID          = 'P'
	opBINPERSID       = 'Q'
	opREDUCE          = 'R'
	opSTRING          = 'S'
	opBINSTRING       = 'T'
	opSHORTBINSTRING  = 'U'
	opUNICODE         = 'V'
	opBINUNICODE      = 'X'
	opAPPEND          = 'a'
	opBUILD           = 'b'
	opGLOBAL          = 'c'
	opDICT            = 'd'
	opEMPTYDICT       = '}'
	opAPPENDS         = 'e'
	opGET             = 'g'
	opBINGET          = 'h'
	opINST            = 'i'
	opLONGBINGET      = 'j'
	opLIST            = 'l'
	opEMPTYLIST       = ']'
	opOBJ             = 'o'
	opPUT             = 'p'
	opBINPUT          = 'q'
	opLONGBINPUT      = 'r'
	opSETITEM         = 's'
	opTUPLE           = 't'
	opEMPTYTUPLE      = ')'
	opSETITEMS        = 'u'
	opBINFLOAT        = 'G'
	opPROTO           = 0x80
	opNEWOBJ          = 0x81
	opEXT1            = 0x82
	opEXT2            = 0x83
	opEXT4            = 0x84
	opTUPLE1          = 0x85
	opTUPLE2          = 0x86
	opTUPLE3          = 0x87
	opNEWTRUE         = 0x88
	opNEWFALSE        = 0x89
	opLONG1           = 0x8a
	opLONG4           = 0x8b
	opBINBYTES        = 'B'
	opSHORTBINBYTES   = 'C'
	opSHORTBINUNICODE = 0x8c
	opBINUNICODE8     = 0x8d
	opBINBYTES8       = 0x8e
	opEMPTYSET        = 0x8f
	opADDITEMS        = 0x90
	opFROZENSET       = 0x91
	opNEWOBJEX        = 0x92
	opSTACKGLOBAL     = 0x93
	opMEMOIZE         = 0x94
	opFRAME           = 0x95
	opBYTEARRAY8      = 0x96
	opNEXTBUFFER      = 0x97
	opREADONLYBUFFER  = 0x98
)

// Limits of the pre-scan.
const (
	maxMarkDepth = 4096
	// The memory the unpickler and the conversion will allocate, as the
	// pre-scan estimates it (about twice what they allocate; a torch
	// state_dict estimates at 60 to 75 bytes per pickle byte), with the
	// hashing of strings used as keys, may not exceed allocFloor +
	// allocFactor × the bytes of the pickle in the file (its compressed
	// size for a deflated record), nor, for all the pickles of a file
	// together, allocFloor + allocFactor × the file's size.
	allocFloor  = 32 << 20
	allocFactor = 160
	// maxIntDigits bounds an int written as text (INT, LONG): Python 3.11+
	// refuses to convert longer ones (sys.int_info.default_max_str_digits).
	maxIntDigits = 4300
	// maxIntBytes bounds an int written in binary (LONG1, LONG4): 16384
	// bits, far more than checkpoints hold (the legacy format's magic
	// number takes 10 bytes, a UUID 17). gopickle decodes binary ints in
	// time quadratic in their length; within this bound that is at most
	// microseconds.
	maxIntBytes = 2048
	// maxGlobalName bounds the module and name of a global together: the
	// longest names of real checkpoints take less than 100 bytes.
	maxGlobalName = 4096
)

// globalRef is a global named by a pickle, with the offset of its opcode.
type globalRef struct {
	module, name string
	off          int
}

// scanResult describes a validated pickle.
type scanResult struct {
	end  int   // offset just past STOP
	cost int64 // memory and hashing charged
	// budget is the pickle's budget, left what the pre-scan leaves of it
	// for the work of decoding (see machine.work), limitFor what it is
	// the limit for.
	budget, left int64
	limitFor     string
	memoize      bool  // the pickle has MEMOIZE opcodes
	frames       []int // offsets of FRAME opcodes
	globals      []globalRef
}

// sym is what the pre-scan knows of a stack value: the index of its
// string in scanner.strs, or -1 for any other value.
type sym int32

const notStr sym = -1

// scanner walks a pickle's opcodes as Python's unpickler would, tracking
// only the stack depth, marks, the memo and string values, and checking
// every length and count against the bytes that exist.
type scanner struct {
	buf      []byte
	avail    int64                         // bytes that exist from the start of buf (>= len(buf))
	grow     func(n int64) ([]byte, error) // returns a buffer of at least n bytes
	pos      int
	stack    []sym
	strs     [][2]int // strings on the stack, as offsets into buf
	marks    []int
	memo     map[int]sym
	cost     int64
	budget   int64
	limitFor string
	res      scanResult
	check    func(module, name string, off int) error
	where    func(off int) string
	poll     *poller
}

// scanPickle validates the pickle at the start of buf. avail is the
// number of bytes that exist from buf's start; grow is called for a
// longer buffer when the pickle continues past buf. budget bounds the
// pickle's cost (memory and hashing); limitFor says what it is the limit
// for, in messages; poll counts the opcodes. It returns the buffer it ended with.
func scanPickle(buf []byte, avail, budget int64, limitFor string, grow func(n int64) ([]byte, error), check func(module, name string, off int) error, where func(off int) string, poll *poller) (*scanResult, []byte, error) {
	s := &scanner{
		buf:      buf,
		avail:    avail,
		grow:     grow,
		memo:     make(map[int]sym),
		budget:   budget,
		limitFor: limitFor,
		check:    check,
		where:    where,
		poll:     poll,
	}
	if err := s.run(); err != nil {
		return nil, s.buf, err
	}
	s.res.cost = s.cost
	s.res.budget, s.res.left, s.res.limitFor = s.budget, s.budget-s.cost, s.limitFor
	return &s.res, s.buf, nil
}

// ensure makes buf hold at least n bytes (n <= avail).
func (s *scanner) ensure(n int64) error {
	if n <= int64(len(s.buf)) {
		return nil
	}
	if s.grow == nil {
		return s.fail(len(s.buf), "pickle is longer than its buffer")
	}
	b, err := s.grow(n)
	if err != nil {
		return err
	}
	if int64(len(b)) < n {
		return s.fail(len(s.buf), "short read")
	}
	s.buf = b
	return nil
}

func (s *scanner) fail(off int, format string, args ...any) error {
	return &FormatError{Where: s.where(off), Msg: "invalid pickle: " + fmt.Sprintf(format, args...)}
}

// take returns the next n bytes.
func (s *scanner) take(op byte, n int64, opOff int) ([]byte, error) {
	if n < 0 {
		return nil, s.fail(opOff, "opcode %s: negative length %d", opName(op), n)
	}
	end := int64(s.pos) + n
	if end > s.avail {
		return nil, s.fail(opOff, "opcode %s needs %d bytes, only %d remain (truncated?)", opName(op), n, s.avail-int64(s.pos))
	}
	if err := s.ensure(end); err != nil {
		return nil, err
	}
	b := s.buf[s.pos:end]
	s.pos = int(end)
	return b, nil
}

// line returns the next newline-terminated argument, without the newline.
func (s *scanner) line(op byte, opOff int) ([]byte, error) {
	from := s.pos
	for {
		if i := bytes.IndexByte(s.buf[from:], '\n'); i >= 0 {
			b := s.buf[s.pos : from+i]
			s.pos = from + i + 1
			return b, nil
		}
		if int64(len(s.buf)) >= s.avail {
			return nil, s.fail(opOff, "opcode %s: missing newline (truncated?)", opName(op))
		}
		from = len(s.buf)
		if err := s.ensure(min(s.avail, 2*int64(len(s.buf))+4096)); err != nil {
			return nil, err
		}
	}
}

func (s *scanner) top() int {
	if len(s.marks) == 0 {
		return 0
	}
	return s.marks[len(s.marks)-1]
}

// need checks that the current mark frame holds n values.
func (s *scanner) need(n int, op byte, opOff int) error {
	if len(s.stack)-s.top() < n {
		return s.fail(opOff, "opcode %s: stack underflow", opName(op))
	}
	return nil
}

func (s *scanner) push(v sym) { s.stack = append(s.stack, v) }

// pushStr pushes the string that starts n bytes before pos and ends trim
// bytes before pos.
func (s *scanner) pushStr(n, trim int) {
	s.strs = append(s.strs, [2]int{s.pos - n, s.pos - trim})
	s.push(sym(len(s.strs) - 1))
}

func (s *scanner) str(v sym) string {
	r := s.strs[v]
	return string(s.buf[r[0]:r[1]])
}

// strLen returns the length of the string v, or 0 for other values.
func (s *scanner) strLen(v sym) int64 {
	if v == notStr {
		return 0
	}
	r := s.strs[v]
	return int64(r[1] - r[0])
}

// chargeKeys charges the hashing of the strings that the opcode op, about
// to pop the values above the top MARK, makes dict keys or set items: a
// string from the memo may be hashed once per use.
func (s *scanner) chargeKeys(op byte, opOff int) error {
	step := 1
	switch op {
	case opSETITEMS, opDICT:
		step = 2
	case opADDITEMS, opFROZENSET:
	default:
		return nil
	}
	var n int64
	for i := s.top(); i < len(s.stack); i += step {
		n += s.strLen(s.stack[i])
	}
	return s.charge(n, opOff)
}

func (s *scanner) popN(n int) { s.stack = s.stack[:len(s.stack)-n] }

func (s *scanner) popMark(op byte, opOff int) (int, error) {
	if len(s.marks) == 0 {
		return 0, s.fail(opOff, "opcode %s: no MARK on the stack", opName(op))
	}
	m := s.marks[len(s.marks)-1]
	s.marks = s.marks[:len(s.marks)-1]
	n := len(s.stack) - m
	s.stack = s.stack[:m]
	return n, nil
}

func (s *scanner) charge(n int64, opOff int) error {
	s.cost += n
	if s.cost > s.budget {
		return s.fail(opOff, "decoding would take more than %d bytes of memory or hashing, the limit for %s; refusing", s.budget, s.limitFor)
	}
	return nil
}

func (s *scanner) memoPut(i int, opOff int, op byte) error {
	if err := s.need(1, op, opOff); err != nil {
		return err
	}
	s.memo[i] = s.stack[len(s.stack)-1]
	return s.charge(64, opOff)
}

func (s *scanner) memoGet(i int, opOff int) error {
	v, ok := s.memo[i]
	if !ok {
		return s.fail(opOff, "memo value %d not found", i)
	}
	s.push(v)
	return nil
}

func (s *scanner) run() error {
	other := notStr
	for {
		if s.pos >= len(s.buf) {
			if int64(s.pos) >= s.avail {
				return s.fail(s.pos, "missing STOP opcode (truncated?)")
			}
			if err := s.ensure(min(s.avail, 2*int64(len(s.buf))+4096)); err != nil {
				return err
			}
		}
		off := s.pos
		op := s.buf[s.pos]
		s.pos++
		if err := s.charge(48, off); err != nil {
			return err
		}
		if err := s.poll.step(); err != nil {
			return err
		}
		switch op {
		case opMARK:
			if len(s.marks) >= maxMarkDepth {
				return s.fail(off, "more than %d nested MARKs", maxMarkDepth)
			}
			s.marks = append(s.marks, len(s.stack))
			if err := s.charge(320, off); err != nil {
				return err
			}
		case opSTOP:
			if err := s.need(1, op, off); err != nil {
				return err
			}
			s.res.end = s.pos
			return nil
		case opPOP:
			if len(s.stack) > s.top() {
				s.popN(1)
			} else if _, err := s.popMark(op, off); err != nil {
				return err
			}
		case opPOPMARK:
			if _, err := s.popMark(op, off); err != nil {
				return err
			}
		case opDUP:
			if err := s.need(1, op, off); err != nil {
				return err
			}
			s.push(s.stack[len(s.stack)-1])
		case opFLOAT, opINT, opLONG:
			b, err := s.line(op, off)
			if err != nil {
				return err
			}
			if digits := bytes.TrimRight(bytes.TrimLeft(b, "+- "), "L"); op != opFLOAT && len(digits) > maxIntDigits {
				return s.fail(off, "opcode %s: an int of %d digits exceeds the limit of %d digits", opName(op), len(digits), maxIntDigits)
			}
			if err := s.charge(2*int64(len(b))+64, off); err != nil {
				return err
			}
			s.push(other)
		case opBININT:
			if _, err := s.take(op, 4, off); err != nil {
				return err
			}
			s.push(other)
		case opBININT1:
			if _, err := s.take(op, 1, off); err != nil {
				return err
			}
			s.push(other)
		case opBININT2:
			if _, err := s.take(op, 2, off); err != nil {
				return err
			}
			s.push(other)
		case opBINFLOAT:
			if _, err := s.take(op, 8, off); err != nil {
				return err
			}
			s.push(other)
		case opLONG1, opLONG4:
			var n int64
			if op == opLONG1 {
				b, err := s.take(op, 1, off)
				if err != nil {
					return err
				}
				n = int64(b[0])
			} else {
				b, err := s.take(op, 4, off)
				if err != nil {
					return err
				}
				n = int64(int32(binary.LittleEndian.Uint32(b)))
			}
			if n <= 0 {
				return s.fail(off, "opcode %s: unsupported length %d", opName(op), n)
			}
			if n > maxIntBytes {
				return s.fail(off, "opcode %s: an int of %d bytes exceeds the limit of %d bytes", opName(op), n, maxIntBytes)
			}
			if _, err := s.take(op, n, off); err != nil {
				return err
			}
			if err := s.charge(2*n+64, off); err != nil {
				return err
			}
			s.push(other)
		case opSTRING:
			b, err := s.line(op, off)
			if err != nil {
				return err
			}
			if len(b) < 2 || b[0] != b[len(b)-1] || (b[0] != '\'' && b[0] != '"') {
				return s.fail(off, "opcode STRING: argument is not quoted")
			}
			if err := s.charge(2*int64(len(b))+64, off); err != nil {
				return err
			}
			s.pushStr(len(b), 2) // the quotes and the newline
		case opUNICODE:
			b, err := s.line(op, off)
			if err != nil {
				return err
			}
			if err := s.charge(2*int64(len(b))+64, off); err != nil {
				return err
			}
			s.pushStr(len(b)+1, 1) // without the newline
		case opBINSTRING, opBINUNICODE, opBINBYTES, opSHORTBINSTRING, opSHORTBINUNICODE, opSHORTBINBYTES,
			opBINUNICODE8, opBINBYTES8, opBYTEARRAY8:
			var n int64
			switch op {
			case opSHORTBINSTRING, opSHORTBINUNICODE, opSHORTBINBYTES:
				b, err := s.take(op, 1, off)
				if err != nil {
					return err
				}
				n = int64(b[0])
			case opBINSTRING:
				b, err := s.take(op, 4, off)
				if err != nil {
					return err
				}
				n = int64(int32(binary.LittleEndian.Uint32(b)))
			case opBINUNICODE, opBINBYTES:
				b, err := s.take(op, 4, off)
				if err != nil {
					return err
				}
				n = int64(binary.LittleEndian.Uint32(b))
			default:
				b, err := s.take(op, 8, off)
				if err != nil {
					return err
				}
				u := binary.LittleEndian.Uint64(b)
				if u > 1<<62 {
					return s.fail(off, "opcode %s: length %d is larger than the file", opName(op), u)
				}
				n = int64(u)
			}
			b, err := s.take(op, n, off)
			if err != nil {
				return err
			}
			if err := s.charge(2*n+64, off); err != nil {
				return err
			}
			switch op {
			case opBINSTRING, opBINUNICODE, opSHORTBINSTRING, opSHORTBINUNICODE, opBINUNICODE8:
				s.pushStr(len(b), 0)
			default:
				s.push(other)
			}
		case opNONE, opNEWTRUE, opNEWFALSE, opEMPTYTUPLE:
			s.push(other)
		case opEMPTYLIST:
			if err := s.charge(96, off); err != nil {
				return err
			}
			s.push(other)
		case opEMPTYDICT:
			if err := s.charge(160, off); err != nil {
				return err
			}
			s.push(other)
		case opEMPTYSET:
			if err := s.charge(200, off); err != nil {
				return err
			}
			s.push(other)
		case opAPPEND:
			if err := s.need(2, op, off); err != nil {
				return err
			}
			s.popN(1)
		case opAPPENDS, opADDITEMS, opSETITEMS:
			if err := s.chargeKeys(op, off); err != nil {
				return err
			}
			n, err := s.popMark(op, off)
			if err != nil {
				return err
			}
			if op == opSETITEMS && n%2 != 0 {
				return s.fail(off, "opcode SETITEMS: odd number of items")
			}
			if err := s.need(1, op, off); err != nil {
				return err
			}
			if err := s.charge(64*int64(n), off); err != nil {
				return err
			}
		case opLIST, opTUPLE, opFROZENSET, opDICT:
			if err := s.chargeKeys(op, off); err != nil {
				return err
			}
			n, err := s.popMark(op, off)
			if err != nil {
				return err
			}
			if op == opDICT && n%2 != 0 {
				return s.fail(off, "opcode DICT: odd number of items")
			}
			if err := s.charge(200+64*int64(n), off); err != nil {
				return err
			}
			s.push(other)
		case opSETITEM:
			if err := s.need(3, op, off); err != nil {
				return err
			}
			if err := s.charge(64+s.strLen(s.stack[len(s.stack)-2]), off); err != nil {
				return err
			}
			s.popN(2)
		case opTUPLE1, opTUPLE2, opTUPLE3:
			n := int(op-opTUPLE1) + 1
			if err := s.need(n, op, off); err != nil {
				return err
			}
			s.popN(n)
			if err := s.charge(64+16*int64(n), off); err != nil {
				return err
			}
			s.push(other)
		case opGLOBAL, opINST:
			mod, err := s.line(op, off)
			if err != nil {
				return err
			}
			name, err := s.line(op, off)
			if err != nil {
				return err
			}
			if err := s.global(string(mod), string(name), off); err != nil {
				return err
			}
			if op == opINST {
				if _, err := s.popMark(op, off); err != nil {
					return err
				}
				if err := s.charge(512, off); err != nil {
					return err
				}
			}
			s.push(other)
		case opSTACKGLOBAL:
			if err := s.need(2, op, off); err != nil {
				return err
			}
			mod, name := s.stack[len(s.stack)-2], s.stack[len(s.stack)-1]
			if mod == notStr || name == notStr {
				return s.fail(off, "opcode STACK_GLOBAL: module and name must be strings")
			}
			// The strings may come from the memo, many times over: each use
			// copies and hashes them.
			if n := s.strLen(mod) + s.strLen(name); n > maxGlobalName {
				return s.fail(off, "opcode STACK_GLOBAL: a global named by %d bytes exceeds the limit of %d bytes", n, maxGlobalName)
			}
			if err := s.charge(4*(s.strLen(mod)+s.strLen(name)), off); err != nil {
				return err
			}
			if err := s.global(s.str(mod), s.str(name), off); err != nil {
				return err
			}
			s.popN(2)
			s.push(other)
		case opOBJ:
			n, err := s.popMark(op, off)
			if err != nil {
				return err
			}
			if n < 1 {
				return s.fail(off, "opcode OBJ: missing class")
			}
			if err := s.charge(512, off); err != nil {
				return err
			}
			s.push(other)
		case opREDUCE, opNEWOBJ, opNEWOBJEX:
			n := 2
			if op == opNEWOBJEX {
				n = 3
			}
			if err := s.need(n, op, off); err != nil {
				return err
			}
			s.popN(n)
			if err := s.charge(512, off); err != nil {
				return err
			}
			s.push(other)
		case opBUILD:
			if err := s.need(2, op, off); err != nil {
				return err
			}
			s.popN(1)
			if err := s.charge(256, off); err != nil {
				return err
			}
		case opPERSID:
			b, err := s.line(op, off)
			if err != nil {
				return err
			}
			if err := s.charge(2*int64(len(b))+512, off); err != nil {
				return err
			}
			s.push(other)
		case opBINPERSID:
			if err := s.need(1, op, off); err != nil {
				return err
			}
			s.popN(1)
			if err := s.charge(512, off); err != nil {
				return err
			}
			s.push(other)
		case opGET, opPUT:
			b, err := s.line(op, off)
			if err != nil {
				return err
			}
			i, err := strconv.Atoi(string(b))
			if err != nil || i < 0 {
				return s.fail(off, "opcode %s: invalid memo index %q", opName(op), b)
			}
			if op == opGET {
				err = s.memoGet(i, off)
			} else {
				err = s.memoPut(i, off, op)
			}
			if err != nil {
				return err
			}
		case opBINGET, opBINPUT:
			b, err := s.take(op, 1, off)
			if err != nil {
				return err
			}
			if op == opBINGET {
				err = s.memoGet(int(b[0]), off)
			} else {
				err = s.memoPut(int(b[0]), off, op)
			}
			if err != nil {
				return err
			}
		case opLONGBINGET, opLONGBINPUT:
			b, err := s.take(op, 4, off)
			if err != nil {
				return err
			}
			i := int(binary.LittleEndian.Uint32(b))
			if op == opLONGBINGET {
				err = s.memoGet(i, off)
			} else {
				err = s.memoPut(i, off, op)
			}
			if err != nil {
				return err
			}
		case opMEMOIZE:
			s.res.memoize = true
			if err := s.memoPut(len(s.memo), off, op); err != nil {
				return err
			}
		case opPROTO:
			b, err := s.take(op, 1, off)
			if err != nil {
				return err
			}
			if b[0] > 5 {
				return s.fail(off, "unsupported pickle protocol %d", b[0])
			}
		case opFRAME:
			b, err := s.take(op, 8, off)
			if err != nil {
				return err
			}
			if n := binary.LittleEndian.Uint64(b); n > uint64(s.avail-int64(s.pos)) {
				return s.fail(off, "opcode FRAME: frame of %d bytes, only %d remain (truncated?)", n, s.avail-int64(s.pos))
			}
			s.res.frames = append(s.res.frames, off)
		case opREADONLYBUFFER:
			if err := s.need(1, op, off); err != nil {
				return err
			}
		case opEXT1, opEXT2, opEXT4:
			return s.fail(off, "opcode %s: the extension registry is not supported", opName(op))
		case opNEXTBUFFER:
			return s.fail(off, "opcode NEXT_BUFFER: out-of-band buffers are not supported")
		default:
			return s.fail(off, "unknown opcode 0x%02x", op)
		}
	}
}

func (s *scanner) global(mod, name string, off int) error {
	if n := len(mod) + len(name); n > maxGlobalName {
		return s.fail(off, "a global named by %d bytes exceeds the limit of %d bytes", n, maxGlobalName)
	}
	if err := s.charge(128, off); err != nil {
		return err
	}
	s.res.globals = append(s.res.globals, globalRef{module: mod, name: name, off: off})
	if s.check != nil {
		return s.check(mod, name, off)
	}
	return nil
}

var opNames = map[byte]string{
	opMARK: "MARK", opSTOP: "STOP", opPOP: "POP", opPOPMARK: "POP_MARK", opDUP: "DUP",
	opFLOAT: "FLOAT", opINT: "INT", opBININT: "BININT", opBININT1: "BININT1", opLONG: "LONG",
	opBININT2: "BININT2", opNONE: "NONE", opPERSID: "PERSID", opBINPERSID: "BINPERSID",
	opREDUCE: "REDUCE", opSTRING: "STRING", opBINSTRING: "BINSTRING",
	opSHORTBINSTRING: "SHORT_BINSTRING", opUNICODE: "UNICODE", opBINUNICODE: "BINUNICODE",
	opAPPEND: "APPEND", opBUILD: "BUILD", opGLOBAL: "GLOBAL", opDICT: "DICT",
	opEMPTYDICT: "EMPTY_DICT", opAPPENDS: "APPENDS", opGET: "GET", opBINGET: "BINGET",
	opINST: "INST", opLONGBINGET: "LONG_BINGET", opLIST: "LIST", opEMPTYLIST: "EMPTY_LIST",
	opOBJ: "OBJ", opPUT: "PUT", opBINPUT: "BINPUT", opLONGBINPUT: "LONG_BINPUT",
	opSETITEM: "SETITEM", opTUPLE: "TUPLE", opEMPTYTUPLE: "EMPTY_TUPLE", opSETITEMS: "SETITEMS",
	opBINFLOAT: "BINFLOAT", opPROTO: "PROTO", opNEWOBJ: "NEWOBJ", opEXT1: "EXT1", opEXT2: "EXT2",
	opEXT4: "EXT4", opTUPLE1: "TUPLE1", opTUPLE2: "TUPLE2", opTUPLE3: "TUPLE3",
	opNEWTRUE: "NEWTRUE", opNEWFALSE: "NEWFALSE", opLONG1: "LONG1", opLONG4: "LONG4",
	opBINBYTES: "BINBYTES", opSHORTBINBYTES: "SHORT_BINBYTES", opSHORTBINUNICODE: "SHORT_BINUNICODE",
	opBINUNICODE8: "BINUNICODE8", opBINBYTES8: "BINBYTES8", opEMPTYSET: "EMPTY_SET",
	opADDITEMS: "ADDITEMS", opFROZENSET: "FROZENSET", opNEWOBJEX: "NEWOBJ_EX",
	opSTACKGLOBAL: "STACK_GLOBAL", opMEMOIZE: "MEMOIZE", opFRAME: "FRAME",
	opBYTEARRAY8: "BYTEARRAY8", opNEXTBUFFER: "NEXT_BUFFER", opREADONLYBUFFER: "READONLY_BUFFER",
}

func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x", op)
}
