//go:build !linux

package rnn

import "time"

// cpuTime reports false: processor time is read on Linux only.
func cpuTime(thread bool) (time.Duration, bool) { return 0, false }
