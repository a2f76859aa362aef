package filter

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// rusageThread is Linux's RUSAGE_THREAD, missing from package syscall.
const rusageThread = 1

// threadCPU returns the CPU time the calling OS thread has used; with
// runtime.LockOSThread it times a benchmark loop without the time other
// processes on a shared machine take.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS starts a new peak for peakRSS (Linux 4.0+).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// rss returns the process's resident memory now and its peak since the
// last resetPeakRSS, in bytes (0, 0 if unknown).
func rss() (now, peak uint64) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	field := func(name string) uint64 {
		_, rest, ok := bytes.Cut(status, []byte("\n"+name+":"))
		if !ok {
			return 0
		}
		v, _, _ := bytes.Cut(bytes.TrimSpace(rest), []byte(" kB"))
		kb, _ := strconv.ParseUint(string(v), 10, 64)
		return kb << 10
	}
	return field("VmRSS"), field("VmHWM")
}

// processCPU returns the CPU time the whole process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
