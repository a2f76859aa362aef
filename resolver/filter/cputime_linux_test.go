package filter

import (
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
