package querystats

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestTopKGuarantees checks Space-Saving's guarantees on a skewed stream
// with a long tail: the counts add up to the stream's length, each
// overestimates its name's true count by at most the least tracked count,
// and every name seen more than total/cap times is tracked.
func TestTopKGuarantees(t *testing.T) {
	const capacity, total = 64, 20000
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.2, 1, 5000)
	sk := newTopK(capacity)
	truth := map[string]uint64{}
	for range total {
		name := fmt.Sprintf("n%d.example.", zipf.Uint64())
		truth[name]++
		sk.add(name)
	}
	if len(sk.heap) != capacity || len(sk.index) != capacity {
		t.Fatalf("%d entries, %d indexed; want %d", len(sk.heap), len(sk.index), capacity)
	}
	var sum uint64
	least := sk.heap[0].Count
	for i, c := range sk.heap {
		sum += c.Count
		if sk.index[c.Name] != i {
			t.Fatalf("%s at %d, indexed at %d", c.Name, i, sk.index[c.Name])
		}
		if i > 0 && sk.heap[(i-1)/2].Count > c.Count {
			t.Fatalf("heap order broken at %d", i)
		}
		if c.Count < truth[c.Name] || c.Count-truth[c.Name] > least {
			t.Errorf("%s counted %d, seen %d: off by more than %d", c.Name, c.Count, truth[c.Name], least)
		}
	}
	if sum != total {
		t.Errorf("counts add up to %d, want %d", sum, total)
	}
	for name, n := range truth {
		if _, ok := sk.index[name]; n > total/capacity && !ok {
			t.Errorf("%s seen %d times (more than %d) is not tracked", name, n, total/capacity)
		}
	}
}

// BenchmarkTopKNewNames is the long tail: every name is new, and replaces
// the least counted of a full sketch.
func BenchmarkTopKNewNames(b *testing.B) {
	sk := newTopK(sketchSize)
	names := make([]string, 1<<16)
	for i := range names {
		names[i] = fmt.Sprintf("tail%d.example.", i)
	}
	for _, n := range names[:sketchSize] {
		sk.add(n)
	}
	for i := 0; b.Loop(); i++ {
		sk.add(names[i%len(names)])
	}
}
