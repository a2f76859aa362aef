package filter

import "bytes"

// merger yields the keys of several sorted runs in order (a binary min-heap
// of run readers keyed by their current key).
type merger struct {
	heap []*pageReader
	last *pageReader // the reader whose key was returned last, to advance
}

// newMerger merges runs, releasing their pages to pool as it reads them.
func newMerger(runs [][][]byte, pool *pagePool) *merger {
	m := &merger{}
	for _, pages := range runs {
		r := &pageReader{pages: pages, pool: pool}
		if _, ok := r.next(); ok {
			m.heap = append(m.heap, r)
		}
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	return m
}

func (m *merger) key(i int) []byte { return m.heap[i].cur[:m.heap[i].n] }

// next returns the smallest remaining key, valid until the following call.
func (m *merger) next() ([]byte, bool) {
	if m.last != nil {
		if _, ok := m.last.next(); ok {
			m.down(0)
		} else {
			n := len(m.heap) - 1
			m.heap[0] = m.heap[n]
			m.heap = m.heap[:n]
			m.down(0)
		}
		m.last = nil
	}
	if len(m.heap) == 0 {
		return nil, false
	}
	m.last = m.heap[0]
	return m.key(0), true
}

func (m *merger) down(i int) {
	n := len(m.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && bytes.Compare(m.key(r), m.key(l)) < 0 {
			c = r
		}
		if bytes.Compare(m.key(c), m.key(i)) >= 0 {
			return
		}
		m.heap[i], m.heap[c] = m.heap[c], m.heap[i]
		i = c
	}
}
