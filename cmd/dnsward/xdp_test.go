package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/gateway"
	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/internal/dnstest"
)

// startGateway runs a gateway on loopback from YAML in which %DNS% and
// %METRICS% stand for free addresses, which it returns. Every query the
// tests send is for localhost., which the gateway answers itself; the
// upstream is a loopback port nothing listens on.
func startGateway(t *testing.T, yaml string) (dnsAddr, metricsAddr string) {
	t.Helper()
	yaml, addrs := dnstest.FreeAddrs(t, yaml, "DNS", "METRICS", "UPSTREAM")
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	dnstest.Run(t, g, err)
	return addrs["DNS"], addrs["METRICS"]
}

// TestXDPStats floods a userspace-limited gateway from 127.0.0.1 and reads
// the limiter's view back through `dnsward xdp stats`, as JSON and as a table.
func TestXDPStats(t *testing.T) {
	dnsAddr, metricsAddr := startGateway(t, `
listen: {dns: ["%DNS%"], metrics: "%METRICS%"}
upstreams: [udp://%UPSTREAM%]
rate_limit: {qps: 1, burst: 3}
`)
	const sent = 20
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	answered := 0
	for i := range sent {
		q := new(dns.Msg)
		q.SetQuestion(fmt.Sprintf("q%d.localhost.", i), dns.TypeA)
		if _, _, err := c.Exchange(q, dnsAddr); err == nil {
			answered++
		}
	}

	var out, errOut bytes.Buffer
	if code := run([]string{"xdp", "stats", "--metrics", metricsAddr, "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rep gateway.LimitsReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if rep.XDP != nil || !rep.Userspace.UDP || rep.Limits.QPS != 1 || rep.Limits.Burst != 3 {
		t.Fatalf("report %+v: want userspace UDP limiting at 1 qps, burst 3", rep)
	}
	decided := map[string]uint64{}
	for _, d := range rep.Userspace.Decisions {
		if d.Transport == "udp" {
			decided[d.Decision] = d.Queries
		}
	}
	if decided["pass"] != uint64(answered) || decided["pass"]+decided["limited"] != sent {
		t.Errorf("decisions %v, want pass = %d answered and pass + limited = %d sent", decided, answered, sent)
	}
	// The client is written as query_log.client says: a pseudonym by default.
	if len(rep.Userspace.TopLimited) != 1 || !strings.HasPrefix(rep.Userspace.TopLimited[0].Prefix, "100::") ||
		rep.Userspace.TopLimited[0].Excess != decided["limited"] {
		t.Errorf("top limited %v, want 127.0.0.1's pseudonym with %d excess", rep.Userspace.TopLimited, decided["limited"])
	}

	out.Reset()
	if code := run([]string{"xdp", "stats", "--metrics", metricsAddr}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		`limits: 1 qps, burst 3,`,
		`XDP: not attached`,
		fmt.Sprintf(`\budp\s+pass\s+%d\n`, decided["pass"]),
		fmt.Sprintf(`\budp\s+limited\s+%d\n`, decided["limited"]),
		fmt.Sprintf(`\n100::[0-9a-f:]*\s+%d\n`, decided["limited"]), // 127.0.0.1's pseudonym
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("table lacks %s:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "127.0.0.1") {
		t.Errorf("the table names the client:\n%s", out.String())
	}
}

// TestXDPStatsErrors covers bad arguments and gateways that cannot answer.
func TestXDPStatsErrors(t *testing.T) {
	_, unlimited := startGateway(t, `
listen: {dns: ["%DNS%"], metrics: "%METRICS%"}
upstreams: [udp://%UPSTREAM%]
`)
	_, limited := startGateway(t, `
listen: {dns: ["%DNS%"], metrics: "%METRICS%"}
upstreams: [udp://%UPSTREAM%]
rate_limit: {qps: 1, burst: 1}
`)
	dead := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"no subcommand", []string{"xdp"}, 2, "usage: dnsward xdp stats"},
		{"unknown subcommand", []string{"xdp", "attach"}, 2, "usage: dnsward xdp stats"},
		{"stray argument", []string{"xdp", "stats", "eth0"}, 2, `unexpected argument "eth0"`},
		{"bad flag", []string{"xdp", "stats", "--top", "many"}, 2, "invalid value"},
		{"top out of range", []string{"xdp", "stats", "--metrics", limited, "--top", "5000"}, 1, "400 Bad Request"},
		{"no rate_limit", []string{"xdp", "stats", "--metrics", unlimited}, 1, "rate_limit is not configured"},
		{"nothing listening", []string{"xdp", "stats", "--metrics", dead, "--timeout", "2s"}, 1, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.args, &out, &errOut); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.wantErr) {
				t.Fatalf("stderr %q lacks %q", errOut.String(), tt.wantErr)
			}
		})
	}
}
