package dot

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/frontendtest"
	"github.com/dnsward/dnsward/resolver"
)

// BenchmarkDoTQuery pipelines cache-hit queries on one connection through
// the gateway's resolver chain, answered by replay (as the gateway runs)
// and, as the baseline in the same run, with replay hidden from the server;
// allocs/op is per query, server and (allocation-free) client together.
func BenchmarkDoTQuery(b *testing.B) {
	up := frontendtest.StartUpstream(b)
	chain := frontendtest.Chain(b, up.Addr)
	b.Run("replay", func(b *testing.B) { benchDoT(b, chain) })
	b.Run("chain", func(b *testing.B) { benchDoT(b, resolver.HandlerFunc(chain.ServeDNS)) })
}

func benchDoT(b *testing.B, h resolver.Handler) {
	f := start(b, func(c *Config) { c.Handler = h })
	tc, err := tls.Dial("tcp", f.Addr, f.PKI.Client("dns.test", ALPN))
	if err != nil {
		b.Fatal(err)
	}
	defer tc.Close()
	const names = 64
	var frames [names][]byte
	for i := range frames {
		frames[i], _ = frontend.Pack(query(fmt.Sprintf("n%d.example.", i), dns.TypeA), nil)
	}
	br := bufio.NewReaderSize(tc, 64<<10)
	buf := make([]byte, 0, 512)
	for _, fr := range frames { // warm the cache
		tc.Write(fr)
		if _, err := frontend.ReadFrame(br, buf); err != nil {
			b.Fatal(err)
		}
	}
	const window = 64 // queries in flight
	b.ReportAllocs()
	b.ResetTimer()
	var out []byte
	sent := 0
	send := func(k int) { // k more queries in one write, as a pipelining client does
		out = out[:0]
		for ; k > 0 && sent < b.N; k-- {
			out = append(out, frames[sent%names]...)
			sent++
		}
		if len(out) > 0 {
			tc.Write(out)
		}
	}
	send(window)
	for got := 0; got < b.N; {
		k := 0
		for k == 0 || br.Buffered() > 0 && got < b.N {
			if _, err := frontend.ReadFrame(br, buf); err != nil {
				b.Fatal(err)
			}
			k++
			got++
		}
		send(k)
	}
}
