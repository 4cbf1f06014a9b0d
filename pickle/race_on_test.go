//go:build race

package pickle

// raceFactor multiplies the memory and time bounds of the tests that measure them: the
// race detector's runtime takes several times the memory of the program it watches
// (and sync.Pool drops some of what is put in it, so that buffers are allocated
// again), and four to six times its processor time (a hostile tar file of a million
// storage headers: 3.9 s of CPU, 17.5 s under the race detector).
const raceFactor = 4
