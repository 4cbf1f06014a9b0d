//go:build !amd64

package tileloop

// Peak is not available on this architecture: it returns 0 (HasPeak is false).
func Peak(n int) float64 { return 0 }

// HasPeak reports whether Peak runs on this CPU: never on this architecture.
func HasPeak() bool { return false }
