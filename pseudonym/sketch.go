package pseudonym

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// sketchBits sets the sketch's size: 2^11 registers, a standard error of
// about 1.04/sqrt(2048) = 2.3 %.
const sketchBits = 11

// sketch is a HyperLogLog counter of distinct 64-bit hash values (Flajolet
// et al., 2007), lock-free. It holds only small maxima, never the values.
type sketch struct {
	reg [1 << sketchBits]atomic.Uint32
}

// add counts the hash value h.
func (s *sketch) add(h uint64) {
	r := &s.reg[h>>(64-sketchBits)]
	rank := uint32(bits.LeadingZeros64(h<<sketchBits|1<<(sketchBits-1))) + 1
	for {
		old := r.Load()
		if old >= rank || r.CompareAndSwap(old, rank) {
			return
		}
	}
}

// estimate returns the estimated number of distinct values added.
func (s *sketch) estimate() uint64 {
	const m = float64(1 << sketchBits)
	var sum float64
	var zeros int
	for i := range s.reg {
		v := s.reg[i].Load()
		sum += math.Ldexp(1, -int(v))
		if v == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros)) // linear counting for small counts
	}
	return uint64(e + 0.5)
}
