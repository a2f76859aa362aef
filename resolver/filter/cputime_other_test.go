//go:build !linux

package filter

import "time"

// threadCPU is unavailable here: benchmarks report no CPU time.
func threadCPU() time.Duration { return 0 }
