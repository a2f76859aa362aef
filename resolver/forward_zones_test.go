package resolver

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestForwardZonesMatch: the longest zone a name equals or lies below wins,
// reverse zones included; a later route for the same zone replaces the
// earlier one (a profile's own zone over the global one).
func TestForwardZonesMatch(t *testing.T) {
	up := upstreamFunc(nil)
	route := func(zone string) *Route {
		r, err := NewRoute(zone, up)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	corp, dev, rev10, global := route("Corp.Example"), route("dev.corp.example."), route("10.in-addr.arpa"), route("lab.example")
	own := route("lab.example")
	f := NewForwardZones(corp, dev, rev10, global, own)
	for _, tt := range []struct {
		name string
		want *Route
	}{
		{"corp.example.", corp},
		{"www.corp.example.", corp},
		{"dev.corp.example.", dev},
		{"a.b.dev.corp.example.", dev},
		{"xcorp.example.", nil},
		{"example.", nil},
		{".", nil},
		{"5.0.0.10.in-addr.arpa.", rev10},
		{"5.0.0.11.in-addr.arpa.", nil},
		{"host.lab.example.", own},
	} {
		if got := f.Match(tt.name); got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if (*ForwardZones)(nil).Match("www.corp.example.") != nil {
		t.Error("nil ForwardZones matched")
	}
	for _, bad := range []string{".", "", "a..b", strings.Repeat("x", 64) + ".example"} {
		if _, err := NewRoute(bad, up); err == nil {
			t.Errorf("NewRoute(%q) accepted", bad)
		}
	}
}

// TestForwardZonesCacheApart: with the cache on, a profile whose forward
// zone sends a name to its own group and a profile that resolves it through
// the default group each get their own group's answer, in either order; and
// client options never reach the zone's group either.
func TestForwardZonesCacheApart(t *testing.T) {
	answerFrom := func(ip net.IP, seen **dns.Msg) Upstream {
		return upstreamFunc(func(_ context.Context, req *Request) (*dns.Msg, error) {
			*seen = req.Msg.Copy()
			m := NewReply(req.Msg, dns.RcodeSuccess)
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: req.Msg.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: ip}}
			return m, nil
		})
	}
	var seenDefault, seenZone *dns.Msg
	h, err := New(Config{Upstream: answerFrom(net.IPv4(192, 0, 2, 1), &seenDefault), Cache: &CacheConfig{Size: 100}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRoute("corp.example", answerFrom(net.IPv4(10, 0, 0, 1), &seenZone))
	if err != nil {
		t.Fatal(err)
	}
	office := &Profile{Name: "office", Forward: NewForwardZones(r)}
	public := &Profile{Name: "public"}
	for i, step := range []struct {
		p    *Profile
		want string
	}{{office, "10.0.0.1"}, {public, "192.0.2.1"}, {office, "10.0.0.1"}, {public, "192.0.2.1"}} {
		req := query("www.corp.example.", dns.TypeA)
		req.Profile = step.p
		req.Msg.SetEdns0(4096, false)
		req.Msg.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(198, 51, 100, 0)}}
		resp, err := h.ServeDNS(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != step.want {
			t.Errorf("query %d (profile %s): answer %v, want %s", i, step.p.Name, resp.Answer, step.want)
		}
	}
	if seenZone == nil || len(seenZone.IsEdns0().Option) != 0 {
		t.Errorf("query the zone's group saw: %v", seenZone)
	}
}
