// Package limittest checks a writer at the boundary of a limit its reader enforces: the
// largest output it writes reads back, and one a step larger is refused before any
// byte. Only tests import it.
package limittest

import (
	"errors"
	"testing"

	"github.com/ptport/ptport/convert/internal/leaf"
)

// Largest returns the largest n in [lo, hi] for which ok(n), ok being true from lo up to
// some n and false after it (lo when ok is false everywhere).
func Largest(lo, hi int, ok func(n int) bool) int {
	for lo < hi {
		if mid := lo + (hi-lo+1)/2; ok(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// Boundary finds the largest n in [0, hi] that write(n) writes without error, checks
// that read takes its output back, and that write(n+1) is a *leaf.TooLargeError naming
// limit, returned before any byte. It returns n and the largest output.
func Boundary(t testing.TB, hi int, limit int64, write func(n int) ([]byte, error), read func(file []byte, n int) error) (int, []byte) {
	t.Helper()
	n := Largest(0, hi, func(n int) bool { _, err := write(n); return err == nil })
	file, err := write(n)
	if err != nil {
		t.Fatalf("nothing written within the limit of %d bytes: %v", limit, err)
	}
	if err := read(file, n); err != nil {
		t.Fatalf("the largest output written (n = %d) is not read back: %v", n, err)
	}
	over, err := write(n + 1)
	var tl *leaf.TooLargeError
	if !errors.As(err, &tl) || tl.Limit != limit || tl.Size <= limit || len(over) != 0 {
		t.Fatalf("one step more (n = %d): error %v after %d bytes, want a *leaf.TooLargeError over the limit of %d, before any byte", n+1, err, len(over), limit)
	}
	return n, file
}
