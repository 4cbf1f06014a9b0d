//go:build !linux

package atomicfile

import "os"

// copyFileRange reports errUnsupported: only Linux copies within the kernel.
func copyFileRange(dst, src *os.File, off, n int64) (int64, error) {
	return 0, errUnsupported
}

// startWriteback does nothing: only Linux is asked to write back early.
func startWriteback(f *os.File, off, n int64) {}

func pidNamespace() uint64 { return 0 }

func startTime(pid int) uint64 { return 0 }

// running reports true: where there is no /proc to tell, a temporary's writer is taken
// to run, and its temporary is never stale.
func running(o owner) bool { return true }

func isOutputFull(err error) bool { return false }
