package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/parity"
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

// escapeError is escape of err's message, except that the messages of the library's
// errors that list items on lines of their own (a reference's unknown entries and
// problems, a module's missing, unexpected and mismatched keys, the candidate modules)
// keep those lines: the error is formatted again from a copy whose strings from the
// file are escaped, so that every newline left is the library's. What err adds around
// it is escaped as any message, but for the newline that starts a wrapper's own item
// right after it.
func escapeError(err error) string {
	s := err.Error()
	var inner error
	var safe string
	var re *parity.ReferenceError
	var ve *convert.ValidationError
	var ae *convert.AmbiguousError
	switch {
	case errors.As(err, &re):
		c := *re
		c.File, c.Problems = escape(c.File), slices.Clone(c.Problems)
		for i := range c.Problems {
			c.Problems[i].Msg = escape(c.Problems[i].Msg)
		}
		c.Unknown = make([]parity.UnknownEntry, len(re.Unknown))
		for i, u := range re.Unknown {
			c.Unknown[i] = parity.UnknownEntry{Name: escape(u.Name), Closest: escape(u.Closest)}
		}
		inner, safe = re, c.Error()
	case errors.As(err, &ve):
		c := *ve // Prefix is printed quoted (%q), which escapes it
		c.File = escape(c.File)
		c.Missing, c.Unexpected, c.Mismatched = escapeAll(c.Missing), escapeAll(c.Unexpected), escapeAll(c.Mismatched)
		inner, safe = ve, c.Error()
	case errors.As(err, &ae):
		c := *ae
		c.File, c.Candidates = escape(c.File), escapeAll(c.Candidates)
		inner, safe = ae, c.Error()
	default:
		return escape(s)
	}
	msg := inner.Error()
	i := strings.Index(s, msg)
	if i < 0 {
		return escape(s)
	}
	rest := s[i+len(msg):]
	if item, ok := strings.CutPrefix(rest, "\n  "); ok {
		return escape(s[:i]) + safe + "\n  " + escape(item)
	}
	return escape(s[:i]) + safe + escape(rest)
}
