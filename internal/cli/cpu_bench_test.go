package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTimes is CPU time (user and system) spent by this process, the simulator child
// and every PostgreSQL process (including backends that have exited, through the
// postmaster's reaped-children counters). Linux only; elsewhere the figures are zero.
type cpuTimes struct{ self, sim, postgres time.Duration }

func (c cpuTimes) since(o cpuTimes) cpuTimes {
	return cpuTimes{c.self - o.self, c.sim - o.sim, c.postgres - o.postgres}
}

func (c cpuTimes) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
	return fmt.Sprintf("crmsync %s, simulator %s, PostgreSQL %s", r(c.self), r(c.sim), r(c.postgres))
}

func readCPU(simPID int) cpuTimes {
	var c cpuTimes
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c.sim, _ = procCPU(simPID, false)
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || !strings.HasPrefix(string(comm), "postgres") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		t, _ := procCPU(pid, true)
		c.postgres += t
	}
	return c
}

// procCPU reads utime+stime (and, with children, cutime+cstime) of pid from /proc.
func procCPU(pid int, children bool) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15, cutime 16, cstime 17.
	var ticks int64
	last := 15
	if children {
		last = 17
	}
	for i := 14; i <= last; i++ {
		n, _ := strconv.ParseInt(f[i-3], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100, true // USER_HZ is 100 on Linux
}
