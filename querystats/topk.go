package querystats

import (
	"cmp"
	"slices"
)

// topK is a Space-Saving heavy-hitters sketch (Metwally et al., 2005): it
// tracks at most cap names; a new name replaces the least counted one and
// inherits its count, so a count overestimates by at most the smallest
// tracked count, and every name seen more often than total/cap is tracked.
type topK struct {
	cap    int
	counts map[string]uint64
}

func newTopK(capacity int) *topK { return &topK{cap: capacity, counts: map[string]uint64{}} }

func (t *topK) add(name string) {
	if _, ok := t.counts[name]; ok || len(t.counts) < t.cap {
		t.counts[name]++
		return
	}
	var minName string
	var minCount uint64
	for n, c := range t.counts {
		if minName == "" || c < minCount {
			minName, minCount = n, c
		}
	}
	delete(t.counts, minName)
	t.counts[name] = minCount + 1
}

// Count is a name and how often it was seen.
type Count struct {
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// top merges the sketches and returns their n most counted names.
func top(n int, sketches ...*topK) []Count {
	sum := map[string]uint64{}
	for _, t := range sketches {
		if t == nil {
			continue
		}
		for k, c := range t.counts {
			sum[k] += c
		}
	}
	out := make([]Count, 0, len(sum))
	for k, c := range sum {
		out = append(out, Count{k, c})
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	return out[:min(n, len(out))]
}
