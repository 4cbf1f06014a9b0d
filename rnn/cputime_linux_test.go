package rnn

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuTime returns the processor time consumed so far by the calling thread (thread) or by
// the whole process, and true; time slices the machine gives other processes do not count.
func cpuTime(thread bool) (time.Duration, bool) {
	clock := unix.CLOCK_PROCESS_CPUTIME_ID
	if thread {
		clock = unix.CLOCK_THREAD_CPUTIME_ID
	}
	var ts unix.Timespec
	if unix.ClockGettime(int32(clock), &ts) != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
