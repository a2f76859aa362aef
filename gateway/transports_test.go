package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/resolver"
	"github.com/dnsward/dnsward/resolver/upstream"
)

// TestProfileByNameOnEveryTransport runs one gateway with every front-end and
// a self-signed certificate, and checks that the TLS name (or DoH path)
// selects the profile on each transport, with an IP literal (no SNI)
// falling back to the default profile.
func TestProfileByNameOnEveryTransport(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{
		"www.example. 300 IN A 127.0.0.1",
		"evil.example. 300 IN A 127.0.0.66",
	}, nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "malware.hosts"), []byte("0.0.0.0 evil.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	dohPort, tlsPort := fmt.Sprint(dnstest.FreePort(t)), fmt.Sprint(dnstest.FreePort(t))
	yaml := fmt.Sprintf(`
listen:
  dns: ["%[1]s"]
  doh: ["127.0.0.1:%[4]s"]
  dot: ["127.0.0.1:%[5]s"]
  doq: ["127.0.0.1:%[5]s"]
upstreams: [udp://%[2]s]
data_dir: %[3]s
server_name: localhost
lists:
  malware: [malware.hosts]
default_profile: unfiltered
profiles:
  unfiltered: {paths: [/dns-query]}
  protective: {paths: [/protective], hosts: [protective.localhost], block: [malware]}
`, dnsAddr, auth.Addr, filepath.Join(dir, "data"), dohPort, tlsPort)
	g := runGateway(t, loadYAML(t, dir, yaml), nil)
	roots := caPool(t, g)

	tests := []struct {
		url       string
		wantBlock bool
	}{
		{"udp://" + dnsAddr, false},
		{"tcp://" + dnsAddr, false},
		{"https://localhost:" + dohPort + "/dns-query", false},
		{"https://localhost:" + dohPort + "/protective", true},
		{"https://protective.localhost:" + dohPort + "/dns-query", true},
		{"h3://protective.localhost:" + dohPort + "/dns-query", true},
		{"h3://localhost:" + dohPort + "/protective", true},
		{"tls://protective.localhost:" + tlsPort, true},
		{"tls://localhost:" + tlsPort, false},
		{"tls://127.0.0.1:" + tlsPort, false}, // IP literal: no SNI, default profile
		{"quic://protective.localhost:" + tlsPort, true},
		{"quic://127.0.0.1:" + tlsPort, false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := upstream.New(tt.url, upstream.Options{RootCAs: roots, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			q := new(dns.Msg)
			q.SetQuestion("evil.example.", dns.TypeA)
			q.SetEdns0(1232, false)
			resp, err := u.Exchange(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			ede, hasEDE := resolver.EDE(resp)
			if tt.wantBlock {
				if resp.Rcode != dns.RcodeNameError || !hasEDE || ede.InfoCode != resolver.EDEBlocked || !strings.Contains(ede.ExtraText, "malware") {
					t.Fatalf("want NXDOMAIN with EDE 15 naming malware, got %s %v", dns.RcodeToString[resp.Rcode], resp.IsEdns0())
				}
				return
			}
			if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 || hasEDE {
				t.Fatalf("want the unfiltered answer, got %v", resp)
			}
		})
	}
}
