package resolver

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestCacheHitMatchesMiss: a hit, unpacked from the stored bytes, is the
// answer the miss returned (same header bits, AD and AA included, sections,
// records and TTLs) for every shape of answer the cache keeps.
func TestCacheHitMatchesMiss(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	soa := "example. 300 IN SOA ns.example. h.example. 1 7200 900 1209600 60"
	tests := []struct {
		name         string
		qname        string
		qtype        uint16
		rcode        int
		an, ns, ex   []string
		aa, ad, zero bool
	}{
		{name: "A, AD and AA", qname: "Www.Example.", qtype: dns.TypeA, an: []string{"Www.Example. 300 IN A 192.0.2.1"}, aa: true, ad: true},
		{name: "AAAA", qname: "v6.example.", qtype: dns.TypeAAAA, an: []string{"v6.example. 300 IN AAAA 2001:db8::1", "v6.example. 300 IN AAAA 2001:db8::2"}},
		{name: "signed CNAME chain", qname: "alias.example.", qtype: dns.TypeA, ad: true, an: []string{
			"alias.example. 300 IN CNAME target.Other.example.",
			"alias.example. 300 IN RRSIG CNAME 13 2 300 20300101000000 20200101000000 12345 example. dGVzdA==",
			"target.Other.example. 120 IN A 192.0.2.7",
			"target.Other.example. 120 IN RRSIG A 13 3 120 20300101000000 20200101000000 12345 example. dGVzdA==",
		}},
		{name: "NXDOMAIN", qname: "nope.example.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "NODATA", qname: "www.example.", qtype: dns.TypeMX, ns: []string{soa}},
		{name: "delegation with glue", qname: "example.", qtype: dns.TypeNS,
			an: []string{"example. 300 IN NS ns1.example.", "example. 300 IN NS ns2.example."},
			ns: []string{soa}, ex: []string{"ns1.example. 300 IN A 192.0.2.53", "ns2.example. 300 IN AAAA 2001:db8::53"}},
		{name: "TXT and Z bit", qname: "txt.example.", qtype: dns.TypeTXT, an: []string{`txt.example. 300 IN TXT "a b" "c"`}, zero: true},
		{name: "unknown type", qname: "raw.example.", qtype: 65280, an: []string{`raw.example. 300 IN TYPE65280 \# 3 abcdef`}},
		{name: "empty A", qname: "empty.example.", qtype: dns.TypeA, an: []string{`empty.example. 300 IN A \# 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &scripted{fn: func(q *dns.Msg) (*dns.Msg, error) {
				m := NewReply(q, tt.rcode)
				m.Authoritative, m.AuthenticatedData, m.Zero = tt.aa, tt.ad, tt.zero
				for _, s := range tt.an {
					m.Answer = append(m.Answer, rr(s))
				}
				for _, s := range tt.ns {
					m.Ns = append(m.Ns, rr(s))
				}
				for _, s := range tt.ex {
					m.Extra = append(m.Extra, rr(s))
				}
				return m, nil
			}}
			c := newTestCache(t, up, &fakeClock{t: time.Unix(1_000_000, 0)}, nil)
			miss, err := c.ServeDNS(context.Background(), query(tt.qname, tt.qtype))
			if err != nil {
				t.Fatal(err)
			}
			req := query(tt.qname, tt.qtype)
			req.Msg.Id = miss.Id + 1
			hit, err := c.ServeDNS(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if up.calls.Load() != 1 {
				t.Fatalf("upstream asked %d times, want 1 (a hit)", up.calls.Load())
			}
			if hit.Id != req.Msg.Id {
				t.Errorf("hit ID %d, want the query's %d", hit.Id, req.Msg.Id)
			}
			hit.Id = miss.Id
			if hit.String() != miss.String() {
				t.Errorf("hit differs from the miss:\n got %s\nwant %s", hit, miss)
			}
		})
	}
}

// TestCacheHitOwnerSpelling: answer records owned by the question name take
// the spelling of the client asking now, as in its question (and as replay
// answers); other owner names are kept as the upstream wrote them.
func TestCacheHitOwnerSpelling(t *testing.T) {
	up := &scripted{fn: func(q *dns.Msg) (*dns.Msg, error) {
		m := NewReply(q, dns.RcodeSuccess)
		h := func(name string, typ uint16) dns.RR_Header {
			return dns.RR_Header{Name: name, Rrtype: typ, Class: dns.ClassINET, Ttl: 300}
		}
		m.Answer = []dns.RR{
			&dns.CNAME{Hdr: h(q.Question[0].Name, dns.TypeCNAME), Target: "Target.Example."},
			&dns.A{Hdr: h("Target.Example.", dns.TypeA), A: net.IPv4(192, 0, 2, 1)},
		}
		return m, nil
	}}
	c := newTestCache(t, up, &fakeClock{t: time.Unix(1_000_000, 0)}, nil)
	for _, name := range []string{"WWW.Example.ORG.", "www.example.org.", "wWw.eXample.Org."} {
		resp, err := c.ServeDNS(context.Background(), query(name, dns.TypeA))
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Answer[0].Header().Name; got != name {
			t.Errorf("%s: CNAME owner %q, want the client's spelling", name, got)
		}
		if got := resp.Answer[1].Header().Name; got != "Target.Example." {
			t.Errorf("%s: A owner %q, want the upstream's Target.Example.", name, got)
		}
	}
	if up.calls.Load() != 1 {
		t.Errorf("upstream asked %d times, want 1", up.calls.Load())
	}
}

// TestCacheSkipsAnswersItCannotReturn: an answer whose packed form does not
// unpack (here an A record with 2 bytes of data, which a handler may build
// but no client could read) is passed on but not stored, so the next query
// is asked upstream again instead of failing on a hit.
func TestCacheSkipsAnswersItCannotReturn(t *testing.T) {
	up := &scripted{fn: func(q *dns.Msg) (*dns.Msg, error) {
		m := NewReply(q, dns.RcodeSuccess)
		m.Answer = []dns.RR{&dns.RFC3597{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, Rdata: "c000"}}
		return m, nil
	}}
	c := newTestCache(t, up, &fakeClock{t: time.Unix(1_000_000, 0)}, nil)
	for i := 1; i <= 2; i++ {
		resp, err := c.ServeDNS(context.Background(), query("odd.example.", dns.TypeA))
		if err != nil || len(resp.Answer) != 1 {
			t.Fatalf("query %d: %v %v", i, resp, err)
		}
		if got := up.calls.Load(); got != int32(i) {
			t.Fatalf("query %d: upstream asked %d times, want %d (never a hit)", i, got, i)
		}
	}
	if c.Len() != 0 {
		t.Errorf("%d entries stored, want 0", c.Len())
	}
}

// TestCacheHitsAreIndependent: a step that changes an answer it got from
// the cache (a policy rewrite, the entry step's header) changes neither the
// stored answer nor other hits.
func TestCacheHitsAreIndependent(t *testing.T) {
	c := newTestCache(t, &scripted{fn: aAnswer(300)}, &fakeClock{t: time.Unix(1_000_000, 0)}, nil)
	for i := range 3 {
		resp, err := c.ServeDNS(context.Background(), query("www.example.", dns.TypeA))
		if err != nil {
			t.Fatal(err)
		}
		a := resp.Answer[0].(*dns.A)
		if !a.A.Equal(net.IPv4(127, 0, 0, 1)) || a.Hdr.Ttl != 300 || resp.Rcode != dns.RcodeSuccess {
			t.Fatalf("answer %d: %v", i, resp)
		}
		a.A[len(a.A)-1], a.Hdr.Ttl, a.Hdr.Name, resp.Rcode = 9, 1, "changed.", dns.RcodeRefused
	}
}

// FuzzCachedReply: no bytes make cachedReply panic, and any message that
// unpacks comes back from the cache's packed form as it was (bar its OPT
// record), or is refused when packed, as insert refuses it.
func FuzzCachedReply(f *testing.F) {
	for _, s := range [][]string{
		{"www.example. 300 IN A 192.0.2.1"},
		{"v6.example. 300 IN AAAA 2001:db8::1", "v6.example. 300 IN RRSIG AAAA 13 2 300 20300101000000 20200101000000 1 example. dGVzdA=="},
		{"alias.example. 300 IN CNAME t.example.", "t.example. 60 IN A 192.0.2.2", `t.example. 60 IN TXT "x"`},
		{"example. 300 IN SOA ns.example. h.example. 1 7200 900 1209600 60"},
	} {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(strings.Fields(s[0])[0]), dns.TypeA)
		m.Response, m.AuthenticatedData = true, true
		for _, line := range s {
			rr, err := dns.NewRR(line)
			if err != nil {
				f.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		m.SetEdns0(1232, true)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q := new(dns.Msg)
		q.SetQuestion("x.", dns.TypeA)
		_, _ = cachedReply(b, q, 10, 0, ^uint32(0), false)
		var m dns.Msg
		if m.Unpack(b) != nil || len(m.Question) != 1 {
			return
		}
		wire, err := packAnswer(&m)
		if err != nil {
			return
		}
		got, err := cachedReply(wire, &m, 0, 0, ^uint32(0), false)
		if err != nil {
			return // not stored
		}
		want := m.Copy()
		removeOPT(want)
		if got.String() != want.String() {
			t.Fatalf("the cache gives back\n%s\nfor\n%s", got, want)
		}
	})
}
