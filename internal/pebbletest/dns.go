package pebbletest

import (
	"net"
	"sync/atomic"
	"testing"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/miekg/dns"
)

// StartDNS answers every A query with 127.0.0.1 and everything else with an
// empty NOERROR, on loopback UDP and TCP (one port), until the test ends. It
// returns the address and a query counter; point Start's dnsAddr at it when
// the test does not resolve through a gateway of its own.
func StartDNS(t testing.TB) (string, *atomic.Int64) {
	t.Helper()
	var queries atomic.Int64
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		queries.Add(1)
		r := new(dns.Msg)
		r.SetReply(q)
		r.Authoritative = true
		if len(q.Question) == 1 && q.Question[0].Qtype == dns.TypeA {
			r.Answer = append(r.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET},
				A:   net.IPv4(127, 0, 0, 1),
			})
		}
		w.WriteMsg(r)
	})
	return dnstest.Serve(t, h), &queries
}
