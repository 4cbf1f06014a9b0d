package convert

import (
	"regexp"
	"testing"
)

// TestParseParam: parseParam splits the names of recurrent parameters as the regular
// expressions of their grammar match them (a prefix of any characters but a newline,
// matched lazily), for names built of the pieces that could confuse it.
func TestParseParam(t *testing.T) {
	module := regexp.MustCompile(`^(.*?)(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l([0-9]+)(_reverse)?$`)
	cell := regexp.MustCompile(`^(.*?)(weight_ih|weight_hh|bias_ih|bias_hh)$`)
	prefixes := []string{"", "rnn.", "a\nb.", "a\n", "\n", "x_l0", "weight_ih", "bias_ih_l1_", "\xff\xfe.", "é.", "lstm"}
	kinds := []string{"weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "weight_ihh", "eight_ih", "bias", ""}
	layers := []string{"", "_l0", "_l12", "_l", "_lx", "l0", "_l0_l1", "_l007"}
	suffixes := []string{"", "_reverse", "_reverse_reverse", "reverse", "x", "\n"}
	n := 0
	for _, p := range prefixes {
		for _, k := range kinds {
			for _, l := range layers {
				for _, s := range suffixes {
					name := p + k + l + s
					got, ok := parseParam(name, false)
					var want paramName
					m := module.FindStringSubmatch(name)
					if m != nil {
						want = paramName{prefix: m[1], kind: m[2], layer: m[3], reverse: m[4] != ""}
					}
					if ok != (m != nil) || got != want {
						t.Errorf("parseParam(%q, false) = %+v, %v; want %+v, %v", name, got, ok, want, m != nil)
					}
					got, ok = parseParam(name, true)
					want = paramName{}
					if m := cell.FindStringSubmatch(name); m != nil {
						want = paramName{prefix: m[1], kind: m[2]}
					}
					if ok != (want.kind != "") || got != want {
						t.Errorf("parseParam(%q, true) = %+v, %v; want %+v", name, got, ok, want)
					}
					if ok {
						n++
					}
				}
			}
		}
	}
	if n == 0 {
		t.Error("no cell parameter among the names")
	}
}
