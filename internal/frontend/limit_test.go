package frontend

import (
	"net/netip"
	"testing"
)

// TestConnLimiter: a client holds at most max connections, counted per
// IPv4 address and per IPv6 /64; released slots can be taken again, and a
// client with none left is forgotten.
func TestConnLimiter(t *testing.T) {
	l := NewConnLimiter(2)
	a, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2") // one /64
	other := netip.MustParseAddr("192.0.2.1")
	for i, tc := range []struct {
		addr netip.Addr
		want bool
	}{{a, true}, {b, true}, {a, false}, {other, true}, {netip.MustParseAddr("::ffff:192.0.2.1"), true}, {other, false}} {
		if got := l.Acquire(tc.addr); got != tc.want {
			t.Fatalf("step %d: Acquire(%v) = %v, want %v", i, tc.addr, got, tc.want)
		}
	}
	l.Release(a)
	if !l.Acquire(b) {
		t.Fatal("a released slot could not be taken again")
	}
	for range 2 {
		l.Release(a)
		l.Release(other)
	}
	if len(l.n) != 0 {
		t.Fatalf("clients left after every release: %v", l.n)
	}
	if !NewConnLimiter(0).Acquire(a) {
		t.Fatal("max 0 must mean no bound")
	}
}

// TestConnLimiterSetMax: a new bound applies to the next connections, and
// connections opened under any bound, or none, count against the next one
// until they close.
func TestConnLimiterSetMax(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	l := NewConnLimiter(0)
	for range 3 {
		if !l.Acquire(a) {
			t.Fatal("no bound: want every connection in")
		}
	}
	l.SetMax(2)
	if l.Acquire(a) {
		t.Fatal("bound 2 with 3 open: want the next connection out")
	}
	l.Release(a)
	if l.Acquire(a) {
		t.Fatal("bound 2 with 2 open: want the next connection out")
	}
	l.Release(a)
	if !l.Acquire(a) || l.Acquire(a) {
		t.Fatal("bound 2 with 1 open: want one connection in, then none")
	}
	l.SetMax(3)
	if !l.Acquire(a) || l.Acquire(a) {
		t.Fatal("raised to 3: want one more connection in, then none")
	}
	for range 3 {
		l.Release(a)
	}
	if len(l.n) != 0 {
		t.Fatalf("clients left after every release: %v", l.n)
	}
}
