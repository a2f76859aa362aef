package resolver

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// localTestZone is a zone file, inline records outside it and automatic PTRs.
const localTestZone = `$ORIGIN home.example.
$TTL 600
@       IN SOA ns.home.example. admin.home.example. 7 3600 600 86400 120
nas     IN A 192.0.2.5
nas     IN AAAA 2001:db8::5
printer IN CNAME nas
web     IN CNAME www.public.example.
loop1   IN CNAME loop2
loop2   IN CNAME loop1
_ipp._tcp IN SRV 0 5 631 printer
@       IN MX 10 nas
@       IN TXT "v=spf1 -all"
a.b.c   IN A 192.0.2.9
*.lab   IN A 192.0.2.6
`

func localTestChain(t *testing.T) *Chain {
	t.Helper()
	rrs, err := parseLocalZone(strings.NewReader(localTestZone), "home.zone")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"solo.example. 300 IN A 192.0.2.7", "*.wild.example. 300 IN TXT \"w\""} {
		rr, err := ParseLocalRecord(line)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	d, err := NewLocalData(rrs, true)
	if err != nil {
		t.Fatal(err)
	}
	recs := &LocalRecords{}
	recs.Store(d)
	up := upstreamFunc(func(_ context.Context, req *Request) (*dns.Msg, error) {
		m := NewReply(req.Msg, dns.RcodeSuccess)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: req.Msg.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(198, 51, 100, 1)}}
		return m, nil
	})
	h, err := New(Config{Upstream: up, Local: LocalConfig{Records: recs}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestLocalData: owners, wildcards (closest encloser), CNAMEs chased
// locally and upstream, NODATA and NXDOMAIN with the zone's SOA (TTL the
// negative TTL), empty non-terminals, automatic PTRs, and names outside
// the data resolved as usual.
func TestLocalData(t *testing.T) {
	h := localTestChain(t)
	tests := []struct {
		name   string
		qtype  uint16
		rcode  int
		answer string // the answer records, their text joined by " | "
		soa    string // the authority's SOA owner and TTL, "" for none
	}{
		{"nas.home.example.", dns.TypeA, dns.RcodeSuccess, "nas.home.example.\t600\tIN\tA\t192.0.2.5", ""},
		{"NAS.Home.Example.", dns.TypeAAAA, dns.RcodeSuccess, "NAS.Home.Example.\t600\tIN\tAAAA\t2001:db8::5", ""},
		{"nas.home.example.", dns.TypeTXT, dns.RcodeSuccess, "", "home.example. 120"},
		{"printer.home.example.", dns.TypeA, dns.RcodeSuccess, "printer.home.example.\t600\tIN\tCNAME\tnas.home.example. | nas.home.example.\t600\tIN\tA\t192.0.2.5", ""},
		{"printer.home.example.", dns.TypeCNAME, dns.RcodeSuccess, "printer.home.example.\t600\tIN\tCNAME\tnas.home.example.", ""},
		{"web.home.example.", dns.TypeA, dns.RcodeSuccess, "web.home.example.\t600\tIN\tCNAME\twww.public.example. | www.public.example.\t60\tIN\tA\t198.51.100.1", ""},
		{"missing.home.example.", dns.TypeA, dns.RcodeNameError, "", "home.example. 120"},
		{"b.c.home.example.", dns.TypeA, dns.RcodeSuccess, "", "home.example. 120"}, // empty non-terminal
		{"x.b.c.home.example.", dns.TypeA, dns.RcodeNameError, "", "home.example. 120"},
		{"host.lab.home.example.", dns.TypeA, dns.RcodeSuccess, "host.lab.home.example.\t600\tIN\tA\t192.0.2.6", ""},
		{"a.host.lab.home.example.", dns.TypeA, dns.RcodeSuccess, "a.host.lab.home.example.\t600\tIN\tA\t192.0.2.6", ""},
		{"lab.home.example.", dns.TypeA, dns.RcodeSuccess, "", "home.example. 120"},
		{"home.example.", dns.TypeMX, dns.RcodeSuccess, "home.example.\t600\tIN\tMX\t10 nas.home.example.", ""},
		{"_ipp._tcp.home.example.", dns.TypeSRV, dns.RcodeSuccess, "_ipp._tcp.home.example.\t600\tIN\tSRV\t0 5 631 printer.home.example.", ""},
		{"5.2.0.192.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, "5.2.0.192.in-addr.arpa.\t600\tIN\tPTR\tnas.home.example.", ""},
		{"6.2.0.192.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, "6.2.0.192.in-addr.arpa.\t60\tIN\tA\t198.51.100.1", ""}, // wildcards get no PTR: upstream
		{"solo.example.", dns.TypeA, dns.RcodeSuccess, "solo.example.\t300\tIN\tA\t192.0.2.7", ""},
		{"solo.example.", dns.TypeMX, dns.RcodeSuccess, "", "solo.example. 300"},
		{"x.solo.example.", dns.TypeA, dns.RcodeSuccess, "x.solo.example.\t60\tIN\tA\t198.51.100.1", ""}, // outside a zone: upstream
		{"a.b.wild.example.", dns.TypeTXT, dns.RcodeSuccess, "a.b.wild.example.\t300\tIN\tTXT\t\"w\"", ""},
		{"a.wild.example.", dns.TypeA, dns.RcodeSuccess, "", "wild.example. 300"},
		{"wild.example.", dns.TypeA, dns.RcodeSuccess, "wild.example.\t60\tIN\tA\t198.51.100.1", ""},
		// Names above a zone's apex are not the zone's: resolved as usual.
		{"example.", dns.TypeA, dns.RcodeSuccess, "example.\t60\tIN\tA\t198.51.100.1", ""},
		{".", dns.TypeA, dns.RcodeSuccess, ".\t60\tIN\tA\t198.51.100.1", ""},
	}
	for _, tt := range tests {
		req := query(tt.name, tt.qtype)
		resp, err := h.ServeDNS(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var ans []string
		for _, rr := range resp.Answer {
			ans = append(ans, rr.String())
		}
		soa := ""
		if len(resp.Ns) == 1 {
			if s, ok := resp.Ns[0].(*dns.SOA); ok {
				soa = s.Hdr.Name + " " + strconv.Itoa(int(s.Hdr.Ttl))
			}
		}
		local := !strings.HasPrefix(tt.answer, tt.name+"\t60\t") // resolved upstream: not authoritative
		if resp.Rcode != tt.rcode || strings.Join(ans, " | ") != tt.answer || soa != tt.soa || resp.Authoritative != local {
			t.Errorf("%s %s: rcode %s AA %v answer %q soa %q; want %s %q %q", tt.name, dns.TypeToString[tt.qtype],
				dns.RcodeToString[resp.Rcode], resp.Authoritative, strings.Join(ans, " | "), soa, dns.RcodeToString[tt.rcode], tt.answer, tt.soa)
		}
	}
	// A CNAME loop ends after maxCNAMEChain records.
	resp, err := h.ServeDNS(context.Background(), query("loop1.home.example.", dns.TypeA))
	if err != nil || len(resp.Answer) != maxCNAMEChain {
		t.Errorf("loop: %v, %d records", err, len(resp.Answer))
	}
}
