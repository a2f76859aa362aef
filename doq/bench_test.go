package doq

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/frontendtest"
)

// BenchmarkDoQQuery sends cache-hit queries, 64 streams at a time, on one
// connection; allocs/op is per query and includes quic-go's client side.
func BenchmarkDoQQuery(b *testing.B) {
	up := frontendtest.StartUpstream(b)
	h := frontendtest.Chain(b, up.Addr)
	f := start(b, func(c *Config) { c.Handler = h; c.Metrics = nil })
	c := f.dial(b, "dns.test")
	const names = 64
	var frames [names][]byte
	for i := range frames {
		frames[i], _ = frontend.Pack(query(fmt.Sprintf("n%d.example.", i), dns.TypeA), nil)
		if _, err := exchangeRaw(c, frames[i], true); err != nil { // warm the cache
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range 64 {
		wg.Go(func() {
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				if _, err := exchangeRaw(c, frames[n%names], true); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
