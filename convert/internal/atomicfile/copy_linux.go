package atomicfile

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// copyFileRange appends n bytes at offset off of src to dst with one copy_file_range,
// and returns how many it copied, or errUnsupported when the kernel cannot copy between
// these files.
func copyFileRange(dst, src *os.File, off, n int64) (int64, error) {
	k, err := unix.CopyFileRange(int(src.Fd()), &off, int(dst.Fd()), nil, int(n), 0)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
			return 0, errUnsupported
		}
		return 0, err
	}
	if k == 0 {
		return 0, errors.New("copy_file_range: source ended early")
	}
	return int64(k), nil
}

// startWriteback asks the system to start writing n bytes at off of f to disk, without
// waiting for it: sync_file_range(SYNC_FILE_RANGE_WRITE). Writing back while the rest is
// still being copied overlaps the disk's work with the copy's, where the fsync at the
// end would otherwise do it all after.
func startWriteback(f *os.File, off, n int64) {
	unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// pidNamespace is the inode of this process's PID namespace.
func pidNamespace() uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/pid", &st) != nil {
		return 0
	}
	return st.Ino
}

// startTime is the start time of process pid in clock ticks since boot (field 22 of
// /proc/PID/stat), or 0.
func startTime(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold anything
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 { // fields 3.. after the name; the start time is field 22
		return 0
	}
	t, _ := strconv.ParseUint(f[19], 10, 64)
	return t
}

// running reports whether the process o runs: a process of its id with its start time.
func running(o owner) bool {
	if o.start == 0 { // written where /proc was not there to tell: ask the kernel
		err := unix.Kill(o.pid, 0)
		return err == nil || errors.Is(err, unix.EPERM)
	}
	return startTime(o.pid) == o.start
}

// isOutputFull reports whether a copy failed for want of room or rights on the output's
// side.
func isOutputFull(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) || errors.Is(err, unix.EFBIG) || errors.Is(err, unix.EROFS)
}
