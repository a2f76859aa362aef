//go:build !linux

package filter

import "time"

// threadCPU is unavailable here: benchmarks report no CPU time.
func threadCPU() time.Duration { return 0 }

// resetPeakRSS is unavailable here.
func resetPeakRSS() {}

// rss is unavailable here: benchmarks report no process memory.
func rss() (now, peak uint64) { return 0, 0 }

// processCPU is unavailable here: benchmarks report no CPU time.
func processCPU() time.Duration { return 0 }
