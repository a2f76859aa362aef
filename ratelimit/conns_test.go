package ratelimit

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/metricstest"
)

// TestConns: one bound per prefix and one in all, the lists applied, every
// transport counted together, releases idempotent, refusals counted by
// transport and reason.
func TestConns(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, err := NewConns(ConnsConfig{Limits: Limits{MaxConns: 2, MaxConnsTotal: 6, IPv6Prefix: 48,
		Allow: pfx("198.51.100.0/24"), Deny: pfx("203.0.113.0/24")}, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr
	r1, ok1 := c.Acquire("dot", ip("192.0.2.1"))
	_, ok2 := c.Acquire("doh", ip("::ffff:192.0.2.1")) // the same client, mapped, on another transport
	_, ok3 := c.Acquire("tcp", ip("192.0.2.1"))
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("per prefix across transports: %v %v %v, want true true false", ok1, ok2, ok3)
	}
	if _, ok := c.Acquire("doq", ip("192.0.2.2")); !ok {
		t.Error("another client was refused")
	}
	r1()
	r1() // a second release must not free another slot
	if _, ok := c.Acquire("dot", ip("192.0.2.1")); !ok {
		t.Error("refused after a release")
	}
	if _, ok := c.Acquire("dot", ip("192.0.2.1")); ok {
		t.Error("double release freed a slot")
	}
	// IPv6 clients share the configured /48, not a fixed /64.
	c.Acquire("dot", ip("2001:db8:1:1::1"))
	if _, ok := c.Acquire("dot", ip("2001:db8:1:2::1")); !ok {
		t.Error("second /64 of a /48 refused early")
	}
	if _, ok := c.Acquire("dot", ip("2001:db8:1:3::1")); ok {
		t.Error("third connection from one /48 admitted")
	}
	if _, ok := c.Acquire("doh", ip("203.0.113.5")); ok {
		t.Error("denied prefix admitted")
	}
	// Five open now; an allow-listed prefix has no per-prefix bound but
	// counts in the total, as does a trusted proxy (no address).
	if _, ok := c.Acquire("doh", ip("198.51.100.1")); !ok {
		t.Fatal("allowed prefix refused below the total")
	}
	if _, ok := c.Acquire("doh", netip.Addr{}); ok {
		t.Error("the total was passed")
	}
	for _, tt := range []struct {
		transport, reason string
		want              float64
	}{{"tcp", "per_prefix", 1}, {"dot", "per_prefix", 2}, {"doh", "denied", 1}, {"doh", "total", 1}} {
		if got := metricstest.Value(t, reg, "dnsward_connections_refused_total", "transport", tt.transport, "reason", tt.reason); got != tt.want {
			t.Errorf("refused %s/%s = %v, want %v", tt.transport, tt.reason, got, tt.want)
		}
	}
	if got := metricstest.Must(t, reg, "dnsward_connections_open"); got != 6 {
		t.Errorf("open = %v, want 6", got)
	}
}

// TestConnsUpdate: a bound set by a reload sees the connections opened
// before it.
func TestConnsUpdate(t *testing.T) {
	c, err := NewConns(ConnsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("192.0.2.1")
	for range 3 {
		if _, ok := c.Acquire("dot", a); !ok {
			t.Fatal("unbounded limiter refused")
		}
	}
	if err := c.Update(Limits{MaxConns: 3}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Acquire("dot", a); ok {
		t.Error("a fourth connection passed a bound of 3 set after three opened")
	}
	if err := c.Update(Limits{MaxConns: -1}); err == nil {
		t.Error("a negative bound was accepted")
	}
}
