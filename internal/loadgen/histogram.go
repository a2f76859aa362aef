package loadgen

import (
	"math/bits"
	"time"
)

// histogram records latencies in log-linear buckets of microseconds: exact
// below 128 µs, then 128 buckets per power of two (under 1 % error).
type histogram struct {
	counts []uint64
	n      uint64
	max    time.Duration
}

const subBuckets = 128

func bucketOf(d time.Duration) int {
	v := uint64(d / time.Microsecond)
	if v < subBuckets {
		return int(v)
	}
	e := bits.Len64(v) - 8 // v>>e is in [128, 256)
	return (e+1)*subBuckets + int(v>>e) - subBuckets
}

// upperBound is the largest latency that falls into bucket i.
func upperBound(i int) time.Duration {
	if i < subBuckets {
		return time.Duration(i) * time.Microsecond
	}
	e := i/subBuckets - 1
	m := uint64(i%subBuckets + subBuckets)
	return time.Duration((m+1)<<e-1) * time.Microsecond
}

func (h *histogram) record(d time.Duration) {
	b := bucketOf(d)
	if b >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, b+1-len(h.counts))...)
	}
	h.counts[b]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	if len(o.counts) > len(h.counts) {
		h.counts = append(h.counts, make([]uint64, len(o.counts)-len(h.counts))...)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of samples fall.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if rank >= h.n {
		rank = h.n - 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			return min(upperBound(i), h.max)
		}
	}
	return h.max
}
