package resolver

import (
	"context"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkChainCacheHit measures the whole chain on the cache-hit path: the
// work every repeated query costs before any transport framing.
func BenchmarkChainCacheHit(b *testing.B) {
	up := HandlerFunc(func(_ context.Context, req *Request) (*dns.Msg, error) {
		return aAnswer(3600)(req.Msg)
	})
	h, err := New(Config{Upstream: upstreamFunc(up), Cache: &CacheConfig{Size: 1000}})
	if err != nil {
		b.Fatal(err)
	}
	req := query("www.example.org.", dns.TypeA)
	req.Msg.SetEdns0(1232, false)
	ctx := context.Background()
	if _, err := h.ServeDNS(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.ServeDNS(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// upstreamFunc adapts a Handler into an Upstream for benchmarks.
type upstreamFunc HandlerFunc

func (f upstreamFunc) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	return f(ctx, &Request{Msg: m})
}
func (upstreamFunc) String() string { return "func" }
func (upstreamFunc) Close() error   { return nil }

// BenchmarkChainCacheHitMetrics is the cache-hit path with metrics on, as
// the gateway runs it.
func BenchmarkChainCacheHitMetrics(b *testing.B) {
	up := HandlerFunc(func(_ context.Context, req *Request) (*dns.Msg, error) {
		return aAnswer(3600)(req.Msg)
	})
	h, err := New(Config{Upstream: upstreamFunc(up), Cache: &CacheConfig{Size: 1000}, Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		b.Fatal(err)
	}
	req := query("www.example.org.", dns.TypeA)
	req.Msg.SetEdns0(1232, false)
	ctx := context.Background()
	h.ServeDNS(ctx, req)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.ServeDNS(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
