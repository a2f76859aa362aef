package pseudonym

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// sketchBits sets the sketch's size: 2^11 registers, a standard error of
// about 1.04/sqrt(2048) = 2.3 %.
const sketchBits = 11

// Sketch is a HyperLogLog counter of distinct 64-bit hash values (Flajolet
// et al., 2007), lock-free; the zero Sketch is empty. It holds only small
// maxima, never the values.
type Sketch struct {
	reg [1 << sketchBits]atomic.Uint32
}

// Add counts the hash value h.
func (s *Sketch) Add(h uint64) {
	s.raise(&s.reg[h>>(64-sketchBits)], uint32(bits.LeadingZeros64(h<<sketchBits|1<<(sketchBits-1)))+1)
}

// Merge adds what o counted to s.
func (s *Sketch) Merge(o *Sketch) {
	for i := range o.reg {
		s.raise(&s.reg[i], o.reg[i].Load())
	}
}

// raise sets r to rank if that is more.
func (s *Sketch) raise(r *atomic.Uint32, rank uint32) {
	for {
		old := r.Load()
		if old >= rank || r.CompareAndSwap(old, rank) {
			return
		}
	}
}

// Estimate returns the estimated number of distinct values added.
func (s *Sketch) Estimate() uint64 {
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
