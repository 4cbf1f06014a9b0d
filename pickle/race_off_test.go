//go:build !race

package pickle

// raceFactor multiplies the memory bounds of the tests that measure it; it is 1 without
// the race detector.
const raceFactor = 1
