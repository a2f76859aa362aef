package gateway

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestFailoverWithinUpstreamTimeout: with upstream_timeout 2s and a first
// upstream that never answers, a query is still answered by the second one:
// one exchange may not use up the whole budget.
func TestFailoverWithinUpstreamTimeout(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	auth := dnstest.StartAuthority(t, []string{"www.example. 300 IN A 127.0.0.5"}, nil)
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	runGateway(t, loadYAML(t, t.TempDir(), fmt.Sprintf(`listen: {dns: [%q]}
upstreams: [udp://%s, udp://%s]
upstream_timeout: 2s
data_dir: %s
`, addr, silent.LocalAddr(), auth.Addr, t.TempDir())), nil)
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	resp, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(q, addr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Fatalf("answer %v, want the second upstream's A record", resp)
	}
}

// TestXDPFallbackToUserspace: when XDP cannot attach (here: no such
// interface) the gateway still starts, and /debug/limits shows the same
// limits policing UDP in userspace, as README.md promises.
func TestXDPFallbackToUserspace(t *testing.T) {
	dns53 := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	metrics := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	runGateway(t, loadYAML(t, t.TempDir(), fmt.Sprintf(`listen: {dns: [%q], metrics: %q}
upstreams: [udp://127.0.0.1:9]
data_dir: %s
rate_limit: {qps: 1, burst: 1}
xdp: {interfaces: [dwx-nosuch0]}
`, dns53, metrics, t.TempDir())), nil)
	if rep := limitsReport(t, metrics); rep.XDP != nil || !rep.Userspace.UDP || rep.Limits.QPS != 1 {
		t.Fatalf("report %+v: want no XDP and userspace policing UDP at qps 1", rep)
	}
}
