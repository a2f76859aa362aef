package gateway

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/metricstest"
)

// TestBehindDnsdist puts Debian's dnsdist in front of dnsward with
// useProxyProtocol=true towards its plain DNS listener (dnsdist relays UDP
// queries over UDP, a header before each datagram, and TCP over TCP) and
// towards its DoT listener (dnsdist sends the header inside TLS). Both
// backends must pass dnsdist's health checks and answer; the client
// address each header carries must drive rate_limit.deny (127.0.0.2 is
// refused, 127.0.0.3 answered), the profile chosen by address (the
// dnsdist frontend 127.0.0.5 the client queried selects "front", which
// denies blocked.example) and the query log (raw addresses here, so that
// the test can read them).
func TestBehindDnsdist(t *testing.T) {
	dnstest.NeedBinary(t, "dnsdist", "dnsdist")
	upstream := dnstest.StartUnbound(t, []string{
		"www.example. 300 IN A 192.0.2.1", "blocked.example. 300 IN A 192.0.2.2", "health.example. 300 IN A 192.0.2.3",
	}, "")
	free := func(ip string) string { return fmt.Sprintf("%s:%d", ip, dnstest.FreePort(t)) }
	plainAddr, dotAddr := free("127.0.0.1"), free("127.0.0.1")
	qlog := filepath.Join(t.TempDir(), "queries.jsonl")
	yaml := fmt.Sprintf(`listen: {dns: [%q], dot: [%q]}
upstreams: [udp://%s]
data_dir: %s
server_name: dns.test
tls: {mode: self_signed}
trusted_proxies: [127.0.0.1/32]
proxy_protocol: true
rate_limit: {qps: 1000, burst: 1000, deny: [127.0.0.2/32]}
default_profile: open
profiles:
  open: {}
  front: {addrs: [127.0.0.5], deny: [blocked.example]}
query_log: {client: raw, sinks: [{json: %q}]}
`, plainAddr, dotAddr, upstream, t.TempDir(), qlog)
	g := runGateway(t, loadYAML(t, t.TempDir(), yaml), nil)

	plainFront, dotFront := dnstest.FreePort(t), dnstest.FreePort(t)
	// Health checks tolerate a slow answer or two (dnsdist's defaults mark a
	// backend down after one check past 1 s, and a down backend's TCP
	// clients are reset): CI machines are small and busy.
	d := dnstest.StartDnsdist(t, fmt.Sprintf(`setSecurityPollSuffix("")
setLocal("127.0.0.1:%[1]d")
addLocal("127.0.0.5:%[1]d")
addLocal("127.0.0.1:%[2]d")
setACL({"127.0.0.0/8"})
newServer{address=%[3]q, name="plain", useProxyProtocol=true, checkName="health.example.", checkInterval=1,
  checkTimeout=2000, maxCheckFailures=3}
newServer{address=%[4]q, name="dot", pool="dot", tls="openssl", subjectName="dns.test", caStore=%[5]q,
  useProxyProtocol=true, checkName="health.example.", checkInterval=1, checkTimeout=2000, maxCheckFailures=3}
addAction(DSTPortRule(%[2]d), PoolAction("dot"))
`, plainFront, dotFront, plainAddr, dotAddr, g.CAFile()))

	query := func(t *testing.T, network, from, to, name string) (*dns.Msg, error) {
		t.Helper()
		dialer := &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}
		if network == "tcp" {
			dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
		}
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		resp, _, err := (&dns.Client{Net: network, Dialer: dialer, Timeout: 2 * time.Second}).Exchange(q, to)
		return resp, err
	}
	for _, tc := range []struct {
		name    string
		front   int
		network string
	}{
		{"UDP backend", plainFront, "udp"},
		{"TCP backend", plainFront, "tcp"},
		{"DoT backend (client over UDP)", dotFront, "udp"},
		{"DoT backend (client over TCP)", dotFront, "tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front := fmt.Sprintf("127.0.0.1:%d", tc.front)
			resp, err := query(t, tc.network, "127.0.0.3", front, "www.example.")
			if err != nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 || !strings.Contains(resp.Answer[0].String(), "192.0.2.1") {
				t.Fatalf("allowed client: %v, %v", resp, err)
			}
			// Denied: a UDP query is dropped, a TCP or DoT connection closed
			// at accept; dnsdist relays nothing, or a failure.
			resp, err = query(t, tc.network, "127.0.0.2", front, "www.example.")
			if err == nil && (resp.Rcode == dns.RcodeSuccess || len(resp.Answer) > 0) {
				t.Fatalf("denied client answered: %v", resp)
			}
		})
	}
	t.Run("profile by the address the client queried", func(t *testing.T) {
		for _, network := range []string{"udp", "tcp"} {
			resp, err := query(t, network, "127.0.0.3", fmt.Sprintf("127.0.0.5:%d", plainFront), "blocked.example.")
			if err != nil || len(resp.Answer) != 0 {
				t.Fatalf("%s via 127.0.0.5: %v, %v; want blocked.example blocked", network, resp, err)
			}
			resp, err = query(t, network, "127.0.0.3", fmt.Sprintf("127.0.0.1:%d", plainFront), "blocked.example.")
			if err != nil || len(resp.Answer) != 1 {
				t.Fatalf("%s via 127.0.0.1: %v, %v; want an answer", network, resp, err)
			}
		}
	})
	t.Run("health checks", func(t *testing.T) {
		time.Sleep(3 * time.Second) // three more checks each
		servers := d.Exec(t, "showServers()")
		for _, name := range []string{"plain", "dot"} {
			if !serverUp(servers, name) {
				t.Errorf("dnsdist's %s backend is not up:\n%s", name, servers)
			}
		}
		for _, tr := range []string{"udp", "tcp", "dot"} {
			for _, reason := range []string{"untrusted", "missing", "malformed"} {
				if n := metricstest.Value(t, g.registry, "dnsward_proxy_header_rejected_total", "transport", tr, "reason", reason); n != 0 {
					t.Errorf("%s: %v headers rejected for %s", tr, n, reason)
				}
			}
		}
	})
	t.Run("query log", func(t *testing.T) {
		var www, health []string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			www, health = nil, nil
			if _, err := os.Stat(qlog); err != nil {
				continue
			}
			for _, r := range readJSONLog(t, qlog) {
				switch strings.TrimSuffix(r.Name, ".") {
				case "www.example":
					www = append(www, r.Client)
				case "health.example":
					health = append(health, r.Client)
				}
			}
			if len(www) >= 4 && len(health) > 0 {
				break
			}
		}
		if len(www) != 4 || len(health) == 0 {
			t.Fatalf("query log: www.example from %v, health.example from %v; want 4 and some", www, health)
		}
		for _, c := range www {
			if c != "127.0.0.3" {
				t.Errorf("www.example logged from %s, want the client dnsdist relayed, 127.0.0.3", c)
			}
		}
		for _, c := range health {
			if c != "127.0.0.1" {
				t.Errorf("dnsdist's health check logged from %s, want dnsdist itself", c)
			}
		}
	})
}

// serverUp reports whether dnsdist's showServers() output lists the
// backend name in state "up" (columns: #, name, address, state...).
func serverUp(showServers, name string) bool {
	for line := range strings.Lines(showServers) {
		if f := strings.Fields(line); len(f) > 3 && f[1] == name {
			return f[3] == "up"
		}
	}
	return false
}
