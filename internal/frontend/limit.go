package frontend

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// ConnLimiter bounds the number of connections one client may hold: one
// IPv4 address, or one IPv6 /64, the smallest block one host usually has.
// A zero or negative max means no bound. SetMax changes the bound for
// connections still to come (a configuration reload); connections are
// counted even without a bound, so that the counts stay right across it.
type ConnLimiter struct {
	max atomic.Int64
	mu  sync.Mutex
	n   map[netip.Addr]int
}

// NewConnLimiter returns a limiter allowing max connections per address.
func NewConnLimiter(max int) *ConnLimiter {
	l := &ConnLimiter{n: map[netip.Addr]int{}}
	l.max.Store(int64(max))
	return l
}

// SetMax sets the bound; connections already open keep their slots.
func (l *ConnLimiter) SetMax(max int) { l.max.Store(int64(max)) }

// Acquire takes a slot for a; false means a holds max connections already.
func (l *ConnLimiter) Acquire(a netip.Addr) bool {
	a = clientKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if max := int(l.max.Load()); max > 0 && l.n[a] >= max {
		return false
	}
	l.n[a]++
	return true
}

// Release returns a slot taken by Acquire.
func (l *ConnLimiter) Release(a netip.Addr) {
	a = clientKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[a] <= 1 {
		delete(l.n, a)
		return
	}
	l.n[a]--
}

// clientKey is the address a connection from a is counted under.
func clientKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
}
