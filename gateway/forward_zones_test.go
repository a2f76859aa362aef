package gateway

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/resolver"
)

// TestForwardZones: split DNS with two real unbounds, the public one as the
// default upstream and an internal one with other local-data for
// corp.example and 10.in-addr.arpa. The office profile (127.0.0.2)
// forwards corp.example to [a dead port, the internal unbound]; every
// profile forwards 10.in-addr.arpa to the internal one. Checks: each
// profile gets its own group's answer for the same name in either order
// (the cache keeps them apart), subdomains and reverse lookups follow the
// longest zone, failover inside the zone's group past the dead first
// upstream, a denied name inside the forwarded zone stays blocked, and
// resolver.arpa is answered locally even under a forwarded arpa zone.
func TestForwardZones(t *testing.T) {
	public := dnstest.StartUnbound(t, []string{
		"www.corp.example. 300 IN A 192.0.2.80",
		"secret.corp.example. 300 IN A 192.0.2.81",
		"db.dev.corp.example. 300 IN A 192.0.2.82",
		"www.public.example. 300 IN A 192.0.2.1",
	}, "")
	internal := dnstest.StartUnbound(t, []string{
		"www.corp.example. 300 IN A 10.0.0.80",
		"secret.corp.example. 300 IN A 10.0.0.81",
		"db.dev.corp.example. 300 IN A 10.0.0.82",
		"80.0.0.10.in-addr.arpa. 300 IN PTR www.corp.example.",
	}, "")
	dead := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t)) // nothing listens: every query to it fails
	port := dnstest.FreePort(t)
	yaml := strings.NewReplacer("%P%", fmt.Sprint(port), "%PUBLIC%", public, "%INTERNAL%", internal, "%DEAD%", dead).Replace(`
listen:
  dns: ["127.0.0.1:%P%", "127.0.0.2:%P%"]
upstreams: [udp://%PUBLIC%]
cache: {size: 1000}
forward_zones:
  10.in-addr.arpa: [udp://%INTERNAL%]
  arpa: [udp://%DEAD%]
default_profile: public
profiles:
  public: {addrs: [127.0.0.1]}
  office:
    addrs: [127.0.0.2]
    deny: [secret.corp.example]
    forward_zones:
      corp.example: [udp://%DEAD%, udp://%INTERNAL%]
`)
	runGateway(t, loadYAML(t, t.TempDir(), yaml), nil)
	addr := map[string]string{"public": fmt.Sprintf("127.0.0.1:%d", port), "office": fmt.Sprintf("127.0.0.2:%d", port)}
	tests := []struct {
		profile, name string
		qtype         uint16
		rcode         int
		want          string // the last answer record's data; "" for none
	}{
		{"public", "www.corp.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.80"},
		{"office", "www.corp.example.", dns.TypeA, dns.RcodeSuccess, "10.0.0.80"},  // failover past the dead port
		{"public", "www.corp.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.80"}, // cached apart
		{"office", "www.corp.example.", dns.TypeA, dns.RcodeSuccess, "10.0.0.80"},
		{"office", "db.dev.corp.example.", dns.TypeA, dns.RcodeSuccess, "10.0.0.82"},
		{"public", "db.dev.corp.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.82"},
		{"office", "www.public.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"},
		{"office", "secret.corp.example.", dns.TypeA, dns.RcodeNameError, ""}, // denied inside the zone
		{"public", "secret.corp.example.", dns.TypeA, dns.RcodeSuccess, "192.0.2.81"},
		{"public", "80.0.0.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, "www.corp.example."},
		{"office", "80.0.0.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, "www.corp.example."},
		{"office", "_dns.resolver.arpa.", dns.TypeSVCB, dns.RcodeSuccess, ""}, // local: no DDR endpoints without encrypted listeners
	}
	for i, tt := range tests {
		resp := ednsQuery(t, addr[tt.profile], tt.name, tt.qtype)
		got := ""
		if n := len(resp.Answer); n > 0 {
			rr := resp.Answer[n-1]
			got = strings.TrimPrefix(rr.String(), rr.Header().String())
		}
		if resp.Rcode != tt.rcode || got != tt.want {
			t.Errorf("%d: %s %s %s: %s %q, want %s %q", i, tt.profile, tt.name, dns.TypeToString[tt.qtype],
				dns.RcodeToString[resp.Rcode], got, dns.RcodeToString[tt.rcode], tt.want)
		}
		if tt.rcode == dns.RcodeNameError {
			if ede, ok := resolver.EDE(resp); !ok || ede.InfoCode != resolver.EDEFiltered {
				t.Errorf("%s: EDE %v, want 17 (Filtered)", tt.name, ede)
			}
		}
	}
}
