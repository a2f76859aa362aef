package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/frontendtest"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestPressureSummary: a burst over the rate limit and connections over the
// per-prefix bound produce one summary line per interval saying how many, on
// which transport and under which limit, and no line names the client; a
// quiet interval logs nothing.
func TestPressureSummary(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	metrics := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	var logs frontendtest.Logs
	yaml := fmt.Sprintf("listen: {dns: [%q], metrics: %q}\nupstreams: [udp://127.0.0.1:9]\n"+
		"rate_limit: {qps: 1, burst: 1, max_conns_per_prefix: 1}\nlog: {pressure_interval: 1s}\n", addr, metrics)
	runGateway(t, loadYAML(t, t.TempDir(), yaml), logs.Logger())

	c := &dns.Client{Net: "udp", Timeout: 100 * time.Millisecond}
	for range 20 {
		c.Exchange(new(dns.Msg).SetQuestion("localhost.", dns.TypeA), addr) // most are dropped: no answer
	}
	tc := &dns.Client{Net: "tcp", Timeout: time.Second}
	held, err := tc.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for range 3 { // refused at accept: over max_conns_per_prefix 1
		if c, err := tc.Dial(addr); err == nil {
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			c.Read(make([]byte, 1))
			c.Close()
		}
	}
	logs.WaitFor(t, "connections_refused=3")
	// /debug/limits reports the same refusals.
	resp, err := http.Get("http://" + metrics + "/debug/limits")
	if err != nil {
		t.Fatal(err)
	}
	var rep LimitsReport
	err = json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	if err != nil || rep.Userspace.ConnectionsRejected["per_prefix"] != 3 {
		t.Errorf("/debug/limits connections rejected %v (%v), want per_prefix 3", rep.Userspace.ConnectionsRejected, err)
	}
	out := logs.String()
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "clients refused or misbehaving") {
			line += l + "\n"
		}
	}
	for _, want := range []string{"queries_limited=", "queries_limited_by_transport=udp:", "connections_refused=3", "connections_refused_by_reason=per_prefix:3", "top_limited="} {
		if !strings.Contains(line, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(line, "127.0.0.1") {
		t.Errorf("the summary names the client:\n%s", line)
	}
	// Nothing happens for two intervals: no new line.
	n := strings.Count(logs.String(), "clients refused or misbehaving")
	time.Sleep(2500 * time.Millisecond)
	if m := strings.Count(logs.String(), "clients refused or misbehaving"); m != n {
		t.Errorf("%d summary lines in quiet intervals", m-n)
	}
}

// TestPressureSummaryProxyHeaders: datagrams dropped for their PROXY v2
// header (here a trusted proxy's query without one) are refusals too, and
// the summary counts them by reason.
func TestPressureSummaryProxyHeaders(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	var logs frontendtest.Logs
	yaml := fmt.Sprintf("listen: {dns: [%q]}\nupstreams: [udp://127.0.0.1:9]\n"+
		"trusted_proxies: [127.0.0.1/32]\nproxy_protocol: true\nlog: {pressure_interval: 1s}\n", addr)
	runGateway(t, loadYAML(t, t.TempDir(), yaml), logs.Logger())
	c := &dns.Client{Net: "udp", Timeout: 100 * time.Millisecond}
	for range 2 {
		if _, _, err := c.Exchange(new(dns.Msg).SetQuestion("localhost.", dns.TypeA), addr); err == nil {
			t.Fatal("a trusted proxy's datagram without a header was answered")
		}
	}
	logs.WaitFor(t, "proxy_headers_rejected=2")
	if !strings.Contains(logs.String(), "proxy_headers_rejected_by_reason=missing:2") {
		t.Errorf("summary lacks the reason:\n%s", logs.String())
	}
}
