package main

import (
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"encoder.weight":           "encoder.weight",
		"grüße":                    "grüße",
		"a\rb":                     `a\rb`,
		"\x1b[2K\x1b[1Aok":         `\x1b[2K\x1b[1Aok`,
		"line\nforged":             `line\nforged`,
		"tab\there":                `tab\there`,
		`back\slash`:               `back\slash`,
		"bidi\u202egnp.exe":        `bidi\u202egnp.exe`,
		"isolate\u2066x\u2069":     `isolate\u2066x\u2069`,
		"c1\u009b31m":              `c1\u009b31m`,
		"del\x7f":                  `del\x7f`,
		"bad\xffutf8":              `bad\xffutf8`,
		"sep\u2028x":               `sep\u2028x`,
		"nul\x00":                  `nul\x00`,
		"zero width is fine\u200b": "zero width is fine\u200b",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	msg := "file.pt: " + strings.Repeat("k", 1<<20) + ": the reason"
	if got := escape(msg); len(got) > maxPrinted+60 || !strings.HasPrefix(got, "file.pt: ") || !strings.HasSuffix(got, ": the reason") {
		t.Errorf("escape of 1 MiB: %d bytes", len(got))
	}
}
