package filter

import (
	"os"
	"runtime/debug"
	"time"
)

// rebuild compiles category c off to the side from its sources and swaps it
// in. If any source fails to read, is wholly unparsable or became empty, the
// previous sets keep serving and the error is returned. Either way the
// memory of the set swapped out, or of the failed build, goes back to the
// system at once rather than staying in the heap until it grows again.
func (m *Manager) rebuild(c *category) error {
	m.build.Lock()
	defer m.build.Unlock()
	defer debug.FreeOSMemory()
	start := time.Now()
	var cb categoryBuilder
	counts := make([]int, len(c.sources))
	skipped := 0
	for i, s := range c.sources {
		st, err := m.parseSource(s, &cb)
		if err == nil {
			err = checkStats(st, s)
		}
		if err != nil {
			serving := "previous version keeps serving"
			if !c.built {
				serving = "its category stays empty until every list of it loads"
			}
			return m.failed(c, s, err, serving)
		}
		counts[i], skipped = st.Entries, skipped+st.Skipped
	}
	ib := m.addIntel(c, &cb)
	next := cb.build()
	next.intel = ib.build(m.intel)
	c.cur.Store(next)
	c.built = true
	if m.cfg.OnSwap != nil {
		m.cfg.OnSwap() // answers kept for replay may have other verdicts now
	}
	for i, s := range c.sources {
		s.entries = counts[i]
	}
	took := time.Since(start)
	m.metrics.entries.WithLabelValues(c.name).Set(float64(next.entries))
	m.metrics.bytes.WithLabelValues(c.name).Set(float64(next.bytes))
	m.metrics.skipped.WithLabelValues(c.name).Set(float64(skipped))
	m.metrics.lastSuccess.WithLabelValues(c.name).SetToCurrentTime()
	m.metrics.buildSeconds.WithLabelValues(c.name).Set(took.Seconds())
	m.metrics.empty.WithLabelValues(c.name).Set(b2f(next.entries == 0))
	m.log.Info("filter: category built", "category", c.name, "entries", next.entries, "bytes", next.bytes,
		"skipped_lines", skipped, "took", took)
	return nil
}

// parseSource feeds one source into cb. A remote list not downloaded yet
// contributes nothing.
func (m *Manager) parseSource(s *source, cb *categoryBuilder) (ParseStats, error) {
	f, err := os.Open(s.path)
	if err != nil {
		if s.remote && os.IsNotExist(err) {
			return ParseStats{}, nil
		}
		return ParseStats{}, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		s.mtime, s.size = fi.ModTime(), fi.Size()
	}
	return Parse(f, s.Format, s.name(), m.log, cb.add)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
