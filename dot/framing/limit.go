package framing

import (
	"net/netip"
	"sync"
)

// ConnLimiter bounds the number of connections one client may hold: one
// IPv4 address, or one IPv6 /64, the smallest block one host usually has.
// A zero or negative max means no bound.
type ConnLimiter struct {
	max int
	mu  sync.Mutex
	n   map[netip.Addr]int
}

// NewConnLimiter returns a limiter allowing max connections per address.
func NewConnLimiter(max int) *ConnLimiter {
	return &ConnLimiter{max: max, n: map[netip.Addr]int{}}
}

// Acquire takes a slot for a; false means a holds max connections already.
func (l *ConnLimiter) Acquire(a netip.Addr) bool {
	if l.max <= 0 {
		return true
	}
	a = clientKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[a] >= l.max {
		return false
	}
	l.n[a]++
	return true
}

// Release returns a slot taken by Acquire.
func (l *ConnLimiter) Release(a netip.Addr) {
	if l.max <= 0 {
		return
	}
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
