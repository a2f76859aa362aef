package ratelimit

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// conns counts open connections per client prefix. An entry exists only
// while a connection is open, so the table is bounded by open connections.
type conns struct {
	shards [shardCount]connShard
}

type connShard struct {
	mu sync.Mutex
	m  map[key]int
}

func newConns() *conns {
	c := &conns{}
	for i := range c.shards {
		c.shards[i].m = make(map[key]int)
	}
	return c
}

func (c *conns) add(k key, delta, limit int) bool {
	s := &c.shards[k.shard()]
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.m[k] + delta
	switch {
	case delta > 0 && n > limit:
		return false
	case n <= 0:
		delete(s.m, k)
	default:
		s.m[k] = n
	}
	return true
}

// Acquire admits a new connection from addr. When ok, release must be called
// once the connection closes (extra calls do nothing). Denied prefixes are
// refused; allowed ones and a zero MaxConns are never bounded.
func (l *Limiter) Acquire(addr netip.Addr) (release func(), ok bool) {
	st := l.state.Load()
	addr = addr.Unmap()
	switch st.lists.check(addr) {
	case listDeny:
		l.metrics.connRejected.WithLabelValues("denied").Inc()
		return nil, false
	case listAllow:
		return func() {}, true
	}
	limit := st.limits.MaxConns
	if limit == 0 {
		return func() {}, true
	}
	k := keyOf(addr, st.limits.IPv4Prefix, st.limits.IPv6Prefix)
	if !l.conns.add(k, 1, limit) {
		l.metrics.connRejected.WithLabelValues("limited").Inc()
		return nil, false
	}
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			l.conns.add(k, -1, limit)
		}
	}, true
}
