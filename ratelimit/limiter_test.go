package ratelimit

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeClock is a manual clock in nanoseconds.
type fakeClock struct{ ns atomic.Uint64 }

func (c *fakeClock) now() uint64   { return c.ns.Load() }
func (c *fakeClock) set(ns uint64) { c.ns.Store(ns) }
func newTestLimiter(t testing.TB, cfg Config) (*Limiter, *fakeClock) {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeClock{}
	c.set(1)
	l.now = c.now
	return l, c
}

func TestAllow(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	mapped := netip.MustParseAddr("::ffff:192.0.2.1")
	v6, v6same, v6other := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ffff"), netip.MustParseAddr("2001:db8:0:1::1")
	type step struct {
		at   uint64 // clock, ns; 0 keeps the previous
		addr netip.Addr
		want Decision
	}
	tests := []struct {
		name   string
		limits Limits
		steps  []step
	}{
		{"burst then drop", Limits{QPS: 1, Burst: 2}, []step{{0, a, Pass}, {0, a, Pass}, {0, a, Drop}, {0, b, Pass}}},
		{"refill at the rate", Limits{QPS: 2, Burst: 1}, []step{
			{0, a, Pass}, {0, a, Drop}, {400e6, a, Drop}, {500e6 + 1, a, Pass}, {0, a, Drop}}},
		{"refill caps at burst", Limits{QPS: 10, Burst: 2}, []step{
			{0, a, Pass}, {0, a, Pass}, {100e9, a, Pass}, {0, a, Pass}, {0, a, Drop}}},
		{"clock behind last never refills", Limits{QPS: 1, Burst: 1}, []step{
			{5e9, a, Pass}, {1e9, a, Drop}, {5e9, a, Drop}, {6e9, a, Pass}}},
		{"mapped address is the IPv4 client", Limits{QPS: 1, Burst: 1}, []step{{0, a, Pass}, {0, mapped, Drop}}},
		{"ipv6 /64 shares", Limits{QPS: 1, Burst: 1}, []step{{0, v6, Pass}, {0, v6same, Drop}, {0, v6other, Pass}}},
		{"ipv4 /24 shares", Limits{QPS: 1, Burst: 1, IPv4Prefix: 24}, []step{{0, a, Pass}, {0, b, Drop}}},
		{"slip every third excess", Limits{QPS: 1, Burst: 1, Slip: 3}, []step{
			{0, a, Pass}, {0, a, Drop}, {0, a, Drop}, {0, a, Slip}, {0, a, Drop}, {0, a, Drop}, {0, a, Slip}}},
		{"allow list", Limits{QPS: 1, Burst: 1, Allow: pfx("192.0.2.0/30")}, []step{{0, a, Pass}, {0, a, Pass}, {0, b, Pass}}},
		{"deny list", Limits{QPS: 9, Burst: 9, Deny: pfx("2001:db8::/48")}, []step{{0, v6, Drop}, {0, a, Pass}}},
		{"longest match wins", Limits{QPS: 9, Burst: 9, Allow: pfx("192.0.2.1/32"), Deny: pfx("192.0.2.0/24")},
			[]step{{0, a, Pass}, {0, b, Drop}}},
		{"deny wins a tie", Limits{QPS: 9, Burst: 9, Allow: pfx("192.0.2.0/24"), Deny: pfx("192.0.2.0/24")},
			[]step{{0, a, Drop}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, clock := newTestLimiter(t, Config{Limits: tc.limits})
			for i, s := range tc.steps {
				if s.at != 0 {
					clock.set(s.at)
				}
				if got := l.Allow(s.addr); got != s.want {
					t.Errorf("step %d (%s at %dns): %s, want %s", i, s.addr, clock.now(), got, s.want)
				}
			}
		})
	}
}

func pfx(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

// TestAllowConcurrent: with the clock stopped, exactly Burst of many
// concurrent queries from one client pass.
func TestAllowConcurrent(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Limits: Limits{QPS: 1, Burst: 500}})
	addr := netip.MustParseAddr("2001:db8::7")
	var passed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if l.AllowVia(transport.UDP, addr) == Pass {
					passed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if passed.Load() != 500 {
		t.Errorf("%d passed, want exactly the burst of 500", passed.Load())
	}
}

func TestTableBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, _ := newTestLimiter(t, Config{Limits: Limits{QPS: 1, Burst: 1}, TableSize: 256, Metrics: reg})
	for i := range 10000 {
		l.Allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if n := l.table.len(); n > 256 || n < 128 {
		t.Errorf("table holds %d buckets, want at most 256 (and most of them used)", n)
	}
	if got := testutil.ToFloat64(l.metrics.evictions); got < 10000-256 {
		t.Errorf("evictions = %v, want >= %d", got, 10000-256)
	}
}

func TestUpdateKeepsBuckets(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Limits: Limits{QPS: 1, Burst: 1}})
	a := netip.MustParseAddr("192.0.2.9")
	l.Allow(a)
	if err := l.Update(Limits{QPS: 1, Burst: 1, Deny: pfx("192.0.2.0/24")}); err != nil {
		t.Fatal(err)
	}
	if d := l.Allow(a); d != Drop {
		t.Errorf("after deny: %s", d)
	}
	if err := l.Update(Limits{QPS: 1, Burst: 3}); err != nil {
		t.Fatal(err)
	}
	if d := l.Allow(a); d != Drop { // the bucket is still empty: no refill on reload
		t.Errorf("after raising burst: %s, want drop (bucket kept)", d)
	}
	if err := l.Update(Limits{QPS: 0, Burst: 3}); err == nil || !strings.Contains(err.Error(), "rate_limit.qps") {
		t.Errorf("bad update: %v", err)
	}
	if l.Limits().Burst != 3 {
		t.Errorf("a failed update changed the limits: %+v", l.Limits())
	}
}

func TestTopLimited(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Limits: Limits{QPS: 1, Burst: 1, IPv6Prefix: 48}})
	counts := map[string]int{"192.0.2.1": 5, "2001:db8:1::1": 9, "198.51.100.7": 1, "203.0.113.1": 3}
	for s, n := range counts {
		for range n + 1 {
			l.Allow(netip.MustParseAddr(s))
		}
	}
	got := l.TopLimited(3)
	want := []string{"2001:db8:1::/48 9", "192.0.2.1/32 5", "203.0.113.1/32 3"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i, g := range got {
		if s := fmt.Sprint(g.Prefix, " ", g.Excess); s != want[i] {
			t.Errorf("[%d] = %s, want %s", i, s, want[i])
		}
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, _ := newTestLimiter(t, Config{Limits: Limits{QPS: 1, Burst: 1, Slip: 2, Deny: pfx("203.0.113.0/24")}, Metrics: reg})
	a := netip.MustParseAddr("192.0.2.1")
	for range 3 {
		l.AllowVia(transport.DoH2, a)
	}
	l.AllowVia(transport.UDP, netip.MustParseAddr("203.0.113.1"))
	l.Allow(netip.MustParseAddr("192.0.2.2"))
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, lp := range m.GetLabel() {
				name += " " + lp.GetName() + "=" + lp.GetValue()
			}
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for series, want := range map[string]float64{
		"dnsward_ratelimit_decisions_total decision=pass transport=doh2":    1,
		"dnsward_ratelimit_decisions_total decision=limited transport=doh2": 1,
		"dnsward_ratelimit_decisions_total decision=slipped transport=doh2": 1,
		"dnsward_ratelimit_decisions_total decision=denied transport=udp":   1,
		"dnsward_ratelimit_decisions_total decision=pass transport=any":     1,
		"dnsward_ratelimit_decisions_total decision=pass transport=udp":     0,
		"dnsward_ratelimit_buckets":                                         2,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	if _, err := New(Config{Limits: Limits{QPS: 1, Burst: 1}, Metrics: reg}); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
}
