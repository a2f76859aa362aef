package gateway

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/ratelimit"
	"github.com/dnsward/dnsward/resolver"
)

// answerAll is an upstream answering every A query.
type answerAll struct{}

func (answerAll) Exchange(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.IPv4(127, 0, 0, 1)}}
	return m, nil
}
func (answerAll) String() string { return "test" }
func (answerAll) Close() error   { return nil }

// TestLimitsChargeOnceWithReplay: a query offered to Replay and then
// resolved by ServeDNS (a miss), or answered by Replay (a hit), costs its
// client one token; bytes replay cannot parse cost nothing.
func TestLimitsChargeOnceWithReplay(t *testing.T) {
	const burst = 4
	lim, err := ratelimit.New(ratelimit.Config{Limits: ratelimit.Limits{QPS: 1, Burst: burst}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := resolver.New(resolver.Config{Upstream: answerAll{}, Cache: &resolver.CacheConfig{Size: 10}, Admission: lim})
	if err != nil {
		t.Fatal(err)
	}
	client := netip.MustParseAddrPort("192.0.2.1:5353")
	ask := func(wire []byte) int { // what a stream transport does with one query
		req := &resolver.Request{Client: client, Transport: transport.DoT, Profile: &resolver.Profile{Name: "p"}}
		if _, _, ok := h.Replay(req, wire, nil); ok {
			return dns.RcodeSuccess
		}
		q := new(dns.Msg)
		if q.Unpack(wire) != nil {
			return -1 // framing layers answer FORMERR without the handler
		}
		req.Msg = q
		resp, err := h.ServeDNS(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if ans, err := resp.Pack(); err == nil {
			h.Sent(req, wire, ans)
		}
		return resp.Rcode
	}
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	wire, _ := q.Pack()
	for range 10 {
		if got := ask([]byte{0, 1, 2, 3, 4}); got != -1 {
			t.Fatalf("garbage answered %d", got)
		}
	}
	for i := range burst { // a miss, then replays
		if got := ask(wire); got != dns.RcodeSuccess {
			t.Fatalf("query %d of a burst of %d: %s, want NOERROR (charged twice?)", i+1, burst, dns.RcodeToString[got])
		}
	}
	if got := ask(wire); got != dns.RcodeRefused {
		t.Fatalf("query %d over a burst of %d: %s, want REFUSED", burst+1, burst, dns.RcodeToString[got])
	}
}
