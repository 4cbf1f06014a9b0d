//go:build !race

package pickle

// raceFactor multiplies the memory and time bounds of the tests that measure them; it
// is 1 without the race detector.
const raceFactor = 1
