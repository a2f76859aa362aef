package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/frontendtest"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/querylog"
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

// TestPressureTopLimited: the summary names the prefixes that went over the
// rate limit in its interval, by how much in that interval, as
// query_log.client writes clients: a pseudonym by default, nothing with
// client: none.
func TestPressureTopLimited(t *testing.T) {
	top := regexp.MustCompile(`top_limited="?([^" ]+)`)
	for _, tc := range []struct {
		name, queryLog string
		named          bool
	}{
		{"default: pseudonym", "", true},
		{"client none", "query_log: {client: none}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
			var logs frontendtest.Logs
			runGateway(t, loadYAML(t, t.TempDir(), fmt.Sprintf("listen: {dns: [%q]}\nupstreams: [udp://127.0.0.1:9]\n"+
				"rate_limit: {qps: 1, burst: 1}\nlog: {pressure_interval: 1s}\n%s", addr, tc.queryLog)), logs.Logger())
			c := &dns.Client{Net: "udp", Timeout: 50 * time.Millisecond}
			send := func(n int) {
				for range n {
					c.Exchange(new(dns.Msg).SetQuestion("localhost.", dns.TypeA), addr)
				}
			}
			lines := func() []string {
				var out []string
				for _, l := range strings.Split(logs.String(), "\n") {
					if strings.Contains(l, "clients refused or misbehaving") {
						out = append(out, l)
					}
				}
				return out
			}
			send(12)
			logs.WaitFor(t, "queries_limited=")
			first := lines()[0]
			m := top.FindStringSubmatch(first)
			if !tc.named {
				if m != nil || strings.Contains(first, "127.0.0.") {
					t.Fatalf("client: none named a client: %s", first)
				}
				return
			}
			if m == nil {
				t.Fatalf("no top_limited: %s", first)
			}
			i := strings.LastIndex(m[1], ":")
			who, err := netip.ParseAddr(m[1][:i])
			if err != nil || !querylog.PseudonymPrefix.Contains(who) {
				t.Fatalf("top_limited %q is not a pseudonym", m[1])
			}
			// A later interval counts only its own excess, not the total so far.
			time.Sleep(1500 * time.Millisecond) // the first burst's last interval has been written
			n := len(lines())
			send(3)
			for deadline := time.Now().Add(5 * time.Second); len(lines()) == n; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no summary for the second burst")
				}
			}
			m = top.FindStringSubmatch(lines()[n])
			if m == nil {
				t.Fatalf("no top_limited in the second interval: %s", lines()[n])
			}
			if got, _ := strconv.Atoi(m[1][strings.LastIndex(m[1], ":")+1:]); got < 1 || got > 3 {
				t.Fatalf("second interval's excess %d, want 1..3 (the 3 queries sent in it)", got)
			}
		})
	}
}
