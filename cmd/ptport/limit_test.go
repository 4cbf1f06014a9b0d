package main

import "testing"

// TestLimitValue: --expand-limit and --output-limit take sizes with units, as
// --max-shard-size does, and -1 for no limit.
func TestLimitValue(t *testing.T) {
	for s, want := range map[string]int64{"16MiB": 16 << 20, "2GB": 2e9, "4096": 4096, "-1": -1, " 1 KiB ": 1024} {
		var v limitValue
		if err := v.Set(s); err != nil || int64(v) != want {
			t.Errorf("%q: %d, %v; want %d", s, v, err, want)
		}
	}
	for _, s := range []string{"0", "-2", "2x", "NaN", ""} {
		var v limitValue
		if err := v.Set(s); err == nil {
			t.Errorf("%q: accepted as %d", s, v)
		}
	}
}
