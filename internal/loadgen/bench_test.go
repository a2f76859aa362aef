package loadgen

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/doq"
	"github.com/dnsward/dnsward/dot"
	"github.com/dnsward/dnsward/internal/frontendtest"
	"github.com/dnsward/dnsward/internal/testpki"
)

// BenchmarkCacheHit drives dnsward's DoT and DoQ servers, sharing one cached
// handler, with the load generator; it reports qps and p99 beside ns/op.
func BenchmarkCacheHit(b *testing.B) {
	pki := testpki.New(b, frontendtest.Names...)
	up := frontendtest.StartUpstream(b)
	h := frontendtest.Chain(b, up.Addr)
	quiet := slog.New(slog.DiscardHandler)
	profiles := frontendtest.Profiles(b)
	dotSrv, err := dot.New(dot.Config{Addrs: []string{"127.0.0.1:0"}, TLS: pki.Server, Handler: h, Profiles: profiles, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	doqSrv, err := doq.New(doq.Config{Addrs: []string{"127.0.0.1:0"}, TLS: pki.Server, Handler: h, Profiles: profiles, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []interface {
		Start(context.Context) error
		Shutdown(context.Context) error
	}{dotSrv, doqSrv} {
		if err := s.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Shutdown(context.Background()) })
	}
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf("n%d.example A", i))
	}
	qs, err := ParseQueries(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, url string }{
		{"dot", "tls://" + dotSrv.Addrs()[0].String()},
		{"doq", "quic://" + doqSrv.Addrs()[0].String()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			o := Options{Server: tc.url, Queries: qs, Conns: 2, Inflight: 64, Count: int64(len(qs)), TLS: pki.Client("dns.test")}
			if _, err := Run(context.Background(), o); err != nil { // warm the cache
				b.Fatal(err)
			}
			o.Count = int64(max(b.N, 1))
			b.ResetTimer()
			res, err := Run(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			if res.Answered != o.Count {
				b.Fatalf("answered %d of %d: %v", res.Answered, o.Count, res.Errors)
			}
			b.ReportMetric(res.QPS, "qps")
			b.ReportMetric(float64(res.P99.Microseconds())/1000, "p99_ms")
		})
	}
}
