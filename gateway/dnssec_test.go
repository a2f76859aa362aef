package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/resolver"
)

// TestDNSSECEndToEnd forwards through the gateway to a validating unbound
// in front of knotd, which signs two zones: secure.test, whose trust anchor
// is the DS of knotd's key, and bogus.test, whose trust anchor matches no key
// of the zone, so that every answer in it fails validation.
func TestDNSSECEndToEnd(t *testing.T) {
	zone := func(apex, addr string) []string {
		return []string{
			"$ORIGIN " + apex,
			"$TTL 300",
			"@ SOA ns hostmaster 1 3600 600 86400 300",
			"@ NS ns",
			"ns A 127.0.0.1",
			"www A " + addr,
		}
	}
	knot := dnstest.StartSigningKnot(t, map[string][]string{
		"secure.test.": zone("secure.test.", "192.0.2.1"),
		"bogus.test.":  zone("bogus.test.", "192.0.2.2"),
	})
	good := knot.KSK(t, "secure.test.").ToDS(dns.SHA256)
	bad := knot.KSK(t, "bogus.test.").ToDS(dns.SHA256)
	bad.Digest = strings.Repeat("0", len(bad.Digest)) // no key of the zone hashes to it
	ub := dnstest.StartValidatingUnbound(t, map[string]string{"secure.test.": knot.Addr, "bogus.test.": knot.Addr}, []dns.RR{good, bad})
	dnsAddr, metricsAddr := startGateway(t, `
listen:
  dns: ["%DNS%"]
  metrics: "%METRICS%"
upstreams: [udp://`+ub+`]
cache: {size: 1000}
`)
	type query struct {
		name       string
		do, ad, cd bool
		edns       bool
	}
	ask := func(t *testing.T, addr string, q query) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(q.name, dns.TypeA)
		m.AuthenticatedData, m.CheckingDisabled = q.ad, q.cd
		if q.edns || q.do {
			m.SetEdns0(1232, q.do)
		}
		resp, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, addr)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		return resp
	}
	cacheHits := func(t *testing.T) float64 {
		t.Helper()
		v, ok := metricValue(scrape(t, metricsAddr), "dnsward_cache_hits_total")
		if !ok {
			t.Fatal("/metrics lacks dnsward_cache_hits_total")
		}
		return v
	}
	hasRRSIG := func(m *dns.Msg) bool {
		for _, rr := range m.Answer {
			if _, ok := rr.(*dns.RRSIG); ok {
				return true
			}
		}
		return false
	}

	t.Run("DO answer keeps its RRSIGs through the cache", func(t *testing.T) {
		q := query{name: "www.secure.test.", do: true}
		for i := range 2 {
			hits := cacheHits(t)
			resp := ask(t, dnsAddr, q)
			if resp.Rcode != dns.RcodeSuccess || !hasRRSIG(resp) || !resp.AuthenticatedData {
				t.Fatalf("query %d: want NOERROR, AD and an RRSIG, got %v", i+1, resp)
			}
			if got := cacheHits(t) - hits; got != float64(i) {
				t.Fatalf("query %d: %v cache hits, want %d", i+1, got, i)
			}
		}
	})

	t.Run("AD only when the client set AD or DO (RFC 6840 §5.8)", func(t *testing.T) {
		for _, tc := range []struct {
			q      query
			wantAD bool
		}{
			{query{name: "www.secure.test."}, false},
			{query{name: "www.secure.test.", edns: true}, false},
			{query{name: "www.secure.test.", ad: true}, true},
			{query{name: "www.secure.test.", do: true}, true},
			{query{name: "www.secure.test."}, false}, // after the AD answers were cached
		} {
			resp := ask(t, dnsAddr, tc.q)
			if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) == 0 || resp.AuthenticatedData != tc.wantAD {
				t.Fatalf("%+v: want NOERROR, an answer and AD %v, got %v", tc.q, tc.wantAD, resp)
			}
		}
	})

	t.Run("CD passes through: the bogus answer, unvalidated", func(t *testing.T) {
		resp := ask(t, dnsAddr, query{name: "www.bogus.test.", cd: true, do: true})
		if resp.Rcode != dns.RcodeSuccess || !resp.CheckingDisabled || resp.AuthenticatedData ||
			len(resp.Answer) == 0 || !strings.Contains(resp.Answer[0].String(), "192.0.2.2") {
			t.Fatalf("want NOERROR with CD, no AD and 192.0.2.2, got %v", resp)
		}
	})

	t.Run("bogus answer is SERVFAIL with the upstream's EDE", func(t *testing.T) {
		q := query{name: "www.bogus.test.", edns: true}
		direct := ask(t, ub, q)
		want, ok := resolver.EDE(direct)
		if direct.Rcode != dns.RcodeServerFailure || !ok || want.InfoCode < dns.ExtendedErrorCodeDNSBogus || want.InfoCode > dns.ExtendedErrorCodeNSECMissing {
			t.Fatalf("unbound itself: want SERVFAIL with a DNSSEC EDE, got %v", direct)
		}
		for i := range 2 { // SERVFAIL is not cached: both go upstream
			resp := ask(t, dnsAddr, q)
			got, ok := resolver.EDE(resp)
			if resp.Rcode != dns.RcodeServerFailure || !ok || got.InfoCode != want.InfoCode || got.ExtraText != want.ExtraText {
				t.Fatalf("query %d: want SERVFAIL with EDE %d %q, got %v", i+1, want.InfoCode, want.ExtraText, resp)
			}
		}
		if resp := ask(t, dnsAddr, query{name: "www.bogus.test."}); resp.Rcode != dns.RcodeServerFailure || resp.IsEdns0() != nil {
			t.Fatalf("without EDNS: want SERVFAIL and no OPT, got %v", resp)
		}
	})
}
