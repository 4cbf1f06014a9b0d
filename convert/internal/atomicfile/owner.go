package atomicfile

import (
	"fmt"
	"hash/fnv"
	"os"
	"regexp"
	"strconv"
)

// A temporary's name marks the process that writes it, so that a later run can tell a
// leftover of a process that has ended from the work of one that still runs:
// "h" and the FNV-32a hash of the host name, "n" the process namespace, "p" the
// process id, "t" its start time (in the system's clock ticks since boot).

// owner identifies a process.
type owner struct {
	host  uint32
	ns    uint64 // process namespace; 0 where there is none to tell
	pid   int
	start uint64 // start time; 0 where it cannot be read
}

// self is this process.
var self = func() owner {
	o := owner{pid: os.Getpid()}
	if h, err := os.Hostname(); err == nil {
		o.host = hostHash(h)
	}
	o.ns = pidNamespace()
	o.start = startTime(o.pid)
	return o
}()

func hostHash(h string) uint32 {
	f := fnv.New32a()
	f.Write([]byte(h))
	return f.Sum32()
}

func (o owner) mark() string {
	return fmt.Sprintf("h%08xn%dp%dt%d", o.host, o.ns, o.pid, o.start)
}

var markRE = regexp.MustCompile(`(?:^|-)h([0-9a-f]{8})n(\d+)p(\d+)t(\d+)\.`)

// parseMark returns the owner a temporary's name marks, if it has a mark.
func parseMark(name string) (owner, bool) {
	if !IsTemp(name) {
		return owner{}, false
	}
	m := markRE.FindStringSubmatch(name[len(Prefix):])
	if m == nil {
		return owner{}, false
	}
	host, err1 := strconv.ParseUint(m[1], 16, 32)
	ns, err2 := strconv.ParseUint(m[2], 10, 64)
	pid, err3 := strconv.Atoi(m[3])
	start, err4 := strconv.ParseUint(m[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return owner{}, false
	}
	return owner{host: uint32(host), ns: ns, pid: pid, start: start}, true
}

// markState tells, of the temporary named name, whether its writer ran on this machine
// and has ended (stale), or runs on this machine now (live). Neither holds for a
// temporary of another machine, or with no mark.
func markState(name string) (stale, live bool) {
	o, ok := parseMark(name)
	if !ok || o.host != self.host || o.ns != self.ns {
		return false, false
	}
	if o == self || running(o) {
		return false, true
	}
	return true, false
}
