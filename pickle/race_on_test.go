//go:build race

package pickle

// raceFactor multiplies the memory bounds of the tests that measure it: the race
// detector's runtime takes several times the memory of the program it watches, and
// sync.Pool drops some of what is put in it, so that buffers are allocated again.
const raceFactor = 4
