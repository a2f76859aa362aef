package resolver_test

import (
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/dnstest"

	"github.com/miekg/dns"
)

// BenchmarkCacheMemoryUnbound is BenchmarkCacheMemory's yardstick: unbound
// filled with the same names from the same kind of authority, reporting the
// growth of its message and RRset caches (unbound-control's mem.cache.message
// and mem.cache.rrset) per entry. It fills once, whatever b.N: a fill takes
// longer than the default bench time, so the benchmark is not run again.
func BenchmarkCacheMemoryUnbound(b *testing.B) {
	n := *cacheMemEntries
	ub := dnstest.StartCachingUnbound(b, memAuthority(b), "2g")
	before := ub.Stats(b)
	conns := make([]*dns.Conn, 16)
	client := &dns.Client{Timeout: time.Second}
	for w := range conns {
		c, err := client.Dial(ub.Addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[w] = c
	}
	fillNames(b, n, func(w, i int) error {
		q := new(dns.Msg)
		q.SetQuestion(memName(i), dns.TypeA)
		q.SetEdns0(1232, false)
		var err error
		for range 3 { // a datagram lost under load: ask again
			var r *dns.Msg
			if r, _, err = client.ExchangeWithConn(q, conns[w]); err == nil {
				if len(r.Answer) != 1 {
					b.Fatalf("%s: %d answer records, want 1", memName(i), len(r.Answer))
				}
				return nil
			}
		}
		return err
	})
	after := ub.Stats(b)
	if got := after["msg.cache.count"] - before["msg.cache.count"]; got != float64(n) {
		b.Fatalf("unbound's message cache holds %v more answers, want %d", got, n)
	}
	grew := after["mem.cache.message"] + after["mem.cache.rrset"] - before["mem.cache.message"] - before["mem.cache.rrset"]
	b.ReportMetric(grew/float64(n), "B/entry")
}
