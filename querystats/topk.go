package querystats

import (
	"cmp"
	"slices"
)

// topK is a Space-Saving heavy-hitters sketch (Metwally et al., 2005): it
// tracks at most cap names; a new name replaces the least counted one and
// inherits its count, so a count overestimates by at most the smallest
// tracked count, and every name seen more often than total/cap is tracked.
// The names are kept in a min-heap by count, so that finding the least
// counted one costs O(log cap), not a scan of all of them for every new
// name (the long tail of real traffic is mostly new names).
type topK struct {
	cap   int
	heap  []Count        // a min-heap by Count
	index map[string]int // a name's position in heap
}

func newTopK(capacity int) *topK { return &topK{cap: capacity, index: map[string]int{}} }

func (t *topK) add(name string) {
	if i, ok := t.index[name]; ok {
		t.heap[i].Count++
		t.down(i)
		return
	}
	if len(t.heap) < t.cap {
		t.heap = append(t.heap, Count{name, 1})
		t.index[name] = len(t.heap) - 1
		t.up(len(t.heap) - 1)
		return
	}
	delete(t.index, t.heap[0].Name)
	t.heap[0] = Count{name, t.heap[0].Count + 1}
	t.index[name] = 0
	t.down(0)
}

// up moves the entry at i towards the root while it counts less than its
// parent.
func (t *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if t.heap[p].Count <= t.heap[i].Count {
			return
		}
		t.swap(i, p)
		i = p
	}
}

// down moves the entry at i towards the leaves while a child counts less.
func (t *topK) down(i int) {
	for {
		least := i
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(t.heap) && t.heap[c].Count < t.heap[least].Count {
				least = c
			}
		}
		if least == i {
			return
		}
		t.swap(i, least)
		i = least
	}
}

func (t *topK) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.index[t.heap[i].Name], t.index[t.heap[j].Name] = i, j
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
		for _, c := range t.heap {
			sum[c.Name] += c.Count
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
