package gateway

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestDDRKeepsTheProfile asks _dns.resolver.arpa through each profile's
// plain-DNS address and checks the advertised endpoints select that same
// profile again: the profile's DoH path and TLS name, never the default's.
func TestDDRKeepsTheProfile(t *testing.T) {
	port := dnstest.FreePort(t)
	dohPort, tlsPort := dnstest.FreePort(t), dnstest.FreePort(t)
	dir := t.TempDir()
	runGateway(t, loadYAML(t, dir, fmt.Sprintf(`
listen:
  dns: ["127.0.0.1:%[1]d", "127.0.0.3:%[1]d", "127.0.0.4:%[1]d", "127.0.0.5:%[1]d"]
  doh: ["127.0.0.1:%[2]d"]
  dot: ["127.0.0.1:%[3]d"]
  doq: ["127.0.0.1:%[3]d"]
upstreams: [udp://127.0.0.1:9]
server_name: dns.example.org
data_dir: %[4]s
default_profile: open
profiles:
  open: {paths: [/dns-query]}
  child: {paths: [/child], hosts: [child.dns.example.org], addrs: [127.0.0.3]}
  pathonly: {paths: [/p], addrs: [127.0.0.4]}
  addronly: {addrs: [127.0.0.5], deny: [x.example]}
`, port, dohPort, tlsPort, dir+"/data")), nil)

	tests := []struct {
		server string
		want   []string // substrings of the SVCB records, in order; none: NODATA
	}{
		{"127.0.0.1", []string{`1 dns.example.org. alpn="h2,h3" port="` + fmt.Sprint(dohPort) + `"`, `dohpath="/dns-query{?dns}"`, `2 dns.example.org. alpn="doq"`, `3 dns.example.org. alpn="dot"`}},
		{"127.0.0.3", []string{`1 child.dns.example.org. alpn="h2,h3"`, `dohpath="/child{?dns}"`, `2 child.dns.example.org. alpn="doq"`, `3 child.dns.example.org. alpn="dot"`}},
		{"127.0.0.4", []string{`1 dns.example.org. alpn="h2,h3"`, `dohpath="/p{?dns}"`}},
		{"127.0.0.5", nil},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			resp := exchange(t, "udp", fmt.Sprintf("%s:%d", tt.server, port), "_dns.resolver.arpa.", dns.TypeSVCB)
			if resp.Rcode != dns.RcodeSuccess {
				t.Fatalf("rcode %s", dns.RcodeToString[resp.Rcode])
			}
			var all []string
			for _, rr := range resp.Answer {
				all = append(all, rr.String())
			}
			text := strings.Join(all, "\n")
			if tt.want == nil {
				if len(resp.Answer) != 0 {
					t.Fatalf("want NODATA for a profile no encrypted endpoint can select, got\n%s", text)
				}
				return
			}
			if tt.server == "127.0.0.4" && len(resp.Answer) != 1 {
				t.Fatalf("a profile without a host must not be offered DoT/DoQ (its TLS name would pick the default):\n%s", text)
			}
			last := 0
			for _, w := range tt.want {
				i := strings.Index(text[last:], w)
				if i < 0 {
					t.Fatalf("SVCB answer lacks %q (in order):\n%s", w, text)
				}
				last += i
			}
		})
	}
}

// TestDDRWildcardServerName: a wildcard server_name names no host, so it is
// never an SVCB target; a profile's own host still is.
func TestDDRWildcardServerName(t *testing.T) {
	c := &config.Config{
		ServerName:     "*.dns.example",
		Listen:         config.Listen{DoH: []string{"192.0.2.1:443"}, DoT: []string{"192.0.2.1:853"}},
		DefaultProfile: "open",
		Profiles: map[string]config.Profile{
			"open":  {Paths: []string{"/dns-query"}},
			"child": {Hosts: []string{"child.dns.example"}},
		},
	}
	eps := ddrEndpoints(c)
	if len(eps["open"]) != 0 {
		t.Errorf("default profile endpoints %+v, want none: the wildcard is no target", eps["open"])
	}
	if len(eps["child"]) != 2 || eps["child"][0].Target != "child.dns.example" || eps["child"][1].Target != "child.dns.example" {
		t.Errorf("child endpoints %+v, want DoH and DoT at child.dns.example", eps["child"])
	}
}
