package resolver

import (
	"context"
	"testing"

	"github.com/dnsward/dnsward/internal/transport"

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

// BenchmarkReplayVsChain compares a repeated query answered by Replay with
// the same query unpacked, resolved by the chain (a cache hit) and packed,
// as transports did before replay; both start and end with packed bytes.
func BenchmarkReplayVsChain(b *testing.B) {
	up := &scripted{fn: aAnswer(3600)}
	h := replayChain(b, up, nil)
	q := packedQuery(b, 1, "www.example.org.", withEDNS(1232, false))
	req := Request{Transport: transport.DoT, Profile: &Profile{Name: "p"}}
	resolvePacked(b, h, req, q, true)
	dst := make([]byte, 0, 512)
	b.Run("replay", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := req
			if _, _, ok := h.Replay(&r, q, dst); !ok { // kept for a second: refill as a transport does
				resolvePacked(b, h, req, q, true)
			}
		}
	})
	b.Run("chain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m := new(dns.Msg)
			if err := m.Unpack(q); err != nil {
				b.Fatal(err)
			}
			r := req
			r.Msg = m
			resp, err := h.ServeDNS(context.Background(), &r)
			if err != nil {
				b.Fatal(err)
			}
			resp.Compress = true
			if _, err := resp.PackBuffer(dst); err != nil {
				b.Fatal(err)
			}
		}
	})
}
