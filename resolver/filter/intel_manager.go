package filter

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"time"
)

// initIntel validates the MISP sources, loads their last good sets from
// disk and adds their categories.
func (m *Manager) initIntel() error {
	ti := &m.cfg.ThreatIntel
	if len(ti.MISP) == 0 {
		return nil
	}
	if ti.Refresh == 0 {
		ti.Refresh = 10 * time.Minute
	}
	if ti.FullPull == 0 {
		ti.FullPull = 24 * time.Hour
	}
	if ti.SightingInterval == 0 {
		ti.SightingInterval = 5 * time.Minute
	}
	if ti.Refresh < 0 || ti.FullPull < 0 || ti.SightingInterval < 0 {
		return errors.New("filter: threat intel: negative interval")
	}
	var err error
	if m.warn, err = loadWarninglists(ti.Warninglists); err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	if m.imetrics, err = newIntelMetrics(m.cfg.Metrics); err != nil {
		return fmt.Errorf("filter: metrics: %w", err)
	}
	names := map[string]bool{}
	for i, cfg := range ti.MISP {
		s, err := newIntelSource(cfg, i, m.cfg.DataDir)
		if err != nil {
			return fmt.Errorf("filter: %w", err)
		}
		if names[s.Name] {
			return fmt.Errorf("filter: MISP source name %q used twice", s.Name)
		}
		names[s.Name] = true
		if err := s.load(); err != nil {
			m.log.Warn("filter: MISP last good set unreadable, starting empty", "source", s.Name, "err", err)
		}
		if s.Sightings {
			s.sighter = &sighter{src: s, node: ti.SightingSource, log: m.log, pending: map[[16]byte]int64{},
				sent: m.imetrics.sent.WithLabelValues(s.Name), dropped: m.imetrics.dropped.WithLabelValues(s.Name)}
		}
		c := m.cats[s.Category]
		if c == nil {
			c = &category{name: s.Category, operator: slices.Contains(m.cfg.OperatorCategories, s.Category)}
			c.cur.Store(&compiled{})
			m.cats[s.Category] = c
		}
		c.intel = append(c.intel, s)
		m.intel = append(m.intel, s)
	}
	return nil
}

// reloadWarninglists reads the warninglists again for the next builds; if
// one fails to read, the lists read before stay in use.
func (m *Manager) reloadWarninglists() error {
	if len(m.intel) == 0 {
		return nil
	}
	lists, err := loadWarninglists(m.cfg.ThreatIntel.Warninglists)
	if err != nil {
		return fmt.Errorf("filter: %w; the warninglists read before stay in use", err)
	}
	m.build.Lock()
	m.warn = lists
	m.build.Unlock()
	return nil
}

// startIntel pulls every source now and every Refresh, and sends
// sightings every SightingInterval, until ctx ends.
func (m *Manager) startIntel(ctx context.Context) {
	if len(m.intel) == 0 {
		return
	}
	ti := m.cfg.ThreatIntel
	m.done.Add(2)
	go func() {
		defer m.done.Done()
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = m.RefreshIntel(ctx) // each failure is logged and counted
				t.Reset(ti.Refresh)
			}
		}
	}()
	go func() {
		defer m.done.Done()
		t := time.NewTicker(ti.SightingInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.FlushSightings(ctx)
			}
		}
	}()
}

// FlushSightings sends the sightings noted since the last send now.
func (m *Manager) FlushSightings(ctx context.Context) {
	for _, s := range m.intel {
		if s.sighter != nil {
			s.sighter.flush(ctx)
		}
	}
}

// RefreshIntel pulls every MISP source now. A source that fails keeps its
// last good set; the categories whose indicators changed (or expired) are
// rebuilt and the new sets saved in DataDir.
func (m *Manager) RefreshIntel(ctx context.Context) error {
	m.pull.Lock()
	defer m.pull.Unlock()
	var errs []error
	rebuild := map[string]bool{}
	for _, s := range m.intel {
		now := time.Now()
		var apply applyFunc
		var err error
		if s.Feed != "" {
			apply, err = s.pullFeed(ctx)
		} else {
			apply, err = s.pullREST(ctx, now, m.cfg.ThreatIntel.FullPull)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			stage := "download"
			var le *listError
			if errors.As(err, &le) {
				stage = le.stage
			}
			m.imetrics.errors.WithLabelValues(s.Name, stage).Inc()
			m.log.Warn("filter: MISP pull failed, the last good set keeps serving", "source", s.Name,
				"location", s.location(), "indicators", len(s.state.Indicators), "err", err)
			errs = append(errs, fmt.Errorf("filter: MISP source %s: %w", s.Name, err))
			continue
		}
		m.build.Lock()
		before := s.state.meta()
		changed := apply(&s.state)
		for id, in := range s.state.Indicators {
			if s.expired(in, now) {
				delete(s.state.Indicators, id)
				changed = true
			}
		}
		m.build.Unlock()
		m.imetrics.lastSuccess.WithLabelValues(s.Name).Set(float64(now.Unix()))
		if changed || s.state.meta() != before {
			if err := s.save(&s.state); err != nil {
				m.log.Warn("filter: cannot save the MISP set", "source", s.Name, "err", err)
			}
		}
		if changed {
			rebuild[s.Category] = true
		}
	}
	for _, name := range m.categoryNames() {
		if rebuild[name] {
			errs = append(errs, m.rebuild(m.cats[name]))
		}
	}
	return errors.Join(errs...)
}

// addIntel adds category c's MISP indicators to cb, leaving out the
// expired and those a warninglist vetoes, and returns their index. It runs
// under the build lock.
func (m *Manager) addIntel(c *category, cb *categoryBuilder) *intelBuilder {
	ib := &intelBuilder{seed: maphash.MakeSeed()}
	total := 0
	for _, s := range c.intel {
		total += len(s.state.Indicators)
	}
	ib.recs = make([]intelRec, 0, total)
	now := time.Now()
	for _, s := range c.intel {
		types := map[string]int{}
		vetoed := map[string]int{}
		for _, in := range s.state.Indicators {
			if s.expired(in, now) {
				continue
			}
			if w := vetoedBy(m.warn, in); w != "" {
				vetoed[w]++
				m.log.Debug("filter: MISP indicator vetoed by a warninglist", "source", s.Name, "name", in.Name, "warninglist", w)
				continue
			}
			scope := ScopeSubtree
			if in.exact() {
				scope = ScopeExact
			}
			if cb.block.Add(in.Name, scope) {
				ib.add(s.idx, in)
				types[in.Type]++
			}
		}
		for _, t := range mispTypes {
			m.imetrics.indicators.WithLabelValues(s.Name, c.name, t).Set(float64(types[t]))
		}
		for _, w := range m.warn {
			m.imetrics.vetoed.WithLabelValues(s.Name, w.Name).Set(float64(vetoed[w.Name]))
		}
		if n := len(vetoed); n > 0 {
			m.log.Info("filter: MISP indicators vetoed by warninglists", "source", s.Name, "lists", n, "vetoed", vetoed)
		}
	}
	return ib
}
