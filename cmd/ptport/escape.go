package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxPrinted bounds a string from a file as ptport prints it: the middle of a longer one
// is left out, so that its start and its end (the file an error names and its reason)
// stay.
const maxPrinted = 4096

// escape returns s, a string that came from a file or from the file system (a name, a
// value, a path, an error about them), as ptport prints it in text: printable text
// unchanged; control characters (C0 and C1: CR, ESC, newline, tab, ...; DEL), the
// controls of bidirectional text and the line and paragraph separators written as Go
// escapes (\r, \x1b, \n, \t, \u202e); bytes that are not UTF-8 as \xNN. The result holds
// no character a terminal acts on and is one line. (A backslash stays as it is, so that
// what the library already quoted reads the same.) Beyond maxPrinted bytes, its middle
// is left out, saying how many bytes. JSON output is exact: it does not use escape.
func escape(s string) string {
	out := escapeControls(s)
	if len(out) <= maxPrinted {
		return out
	}
	head, tail := maxPrinted/2, len(out)-maxPrinted/2
	for head > 0 && !utf8.RuneStart(out[head]) {
		head--
	}
	for tail < len(out) && !utf8.RuneStart(out[tail]) {
		tail++
	}
	return fmt.Sprintf("%s...(%d bytes left out)...%s", out[:head], tail-head, out[tail:])
}

func escapeControls(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case isInvisible(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			if c < 0x80 {
				return true
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 || isInvisible(r) {
				return true
			}
			i += n - 1
		}
	}
	return false
}

// isInvisible reports the characters a terminal or a text renderer acts on beyond
// drawing them: the C1 controls, the bidirectional controls (U+061C, U+200E, U+200F,
// U+202A to U+202E, U+2066 to U+2069) and the line and paragraph separators.
func isInvisible(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f,
		r == 0x061c, r == 0x200e, r == 0x200f,
		r >= 0x202a && r <= 0x202e,
		r >= 0x2066 && r <= 0x2069,
		r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// escapeAll is escape of each of ss.
func escapeAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = escape(s)
	}
	return out
}
