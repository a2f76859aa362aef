package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// startGateway runs a gateway from YAML text; %DNS% and %METRICS% are replaced
// by free loopback addresses, which are returned.
func startGateway(t *testing.T, yaml string) (dnsAddr, metricsAddr string) {
	t.Helper()
	yaml, addrs := dnstest.FreeAddrs(t, yaml, "DNS", "METRICS")
	runGateway(t, loadYAML(t, t.TempDir(), yaml), nil)
	return addrs["DNS"], addrs["METRICS"]
}

func exchange(t *testing.T, net, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	resp, _, err := (&dns.Client{Net: net, Timeout: 3 * time.Second}).Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s %s: %v", net, name, err)
	}
	return resp
}

// TestUnboundEndToEnd forwards through the gateway to Debian's unbound.
func TestUnboundEndToEnd(t *testing.T) {
	ub := dnstest.StartUnbound(t, []string{
		"www.example. 300 IN A 127.0.0.10",
		"www.example. 300 IN AAAA ::1",
		"mail.example. 300 IN MX 10 mx.example.",
	}, "")
	dnsAddr, metricsAddr := startGateway(t, `
listen:
  dns: ["%DNS%"]
  metrics: "%METRICS%"
upstreams: [udp://`+ub+`, tcp://`+ub+`]
cache: {size: 1000, serve_stale: 1h}
`)
	tests := []struct {
		net, name string
		qtype     uint16
		rcode     int
		want      string
	}{
		{"udp", "www.example.", dns.TypeA, dns.RcodeSuccess, "127.0.0.10"},
		{"tcp", "www.example.", dns.TypeAAAA, dns.RcodeSuccess, "::1"},
		{"udp", "mail.example.", dns.TypeMX, dns.RcodeSuccess, "mx.example."},
		{"tcp", "nothing.example.", dns.TypeA, dns.RcodeNameError, ""},
		{"udp", "_dns.resolver.arpa.", dns.TypeSVCB, dns.RcodeSuccess, ""}, // answered locally, never forwarded
	}
	for _, tt := range tests {
		t.Run(tt.net+" "+tt.name, func(t *testing.T) {
			resp := exchange(t, tt.net, dnsAddr, tt.name, tt.qtype)
			if resp.Rcode != tt.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
			}
			if tt.want != "" && (len(resp.Answer) == 0 || !strings.Contains(resp.Answer[0].String(), tt.want)) {
				t.Fatalf("answer %v, want %s", resp.Answer, tt.want)
			}
		})
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`dnsward_queries_total{profile="default",rcode="NOERROR",transport="udp"}`, "dnsward_cache_misses_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		r, err := http.Get("http://" + metricsAddr + path)
		if err != nil || r.StatusCode != http.StatusOK {
			t.Errorf("%s: %v %v", path, r, err)
		}
	}
}

// TestFailoverAndServFail checks the gateway answers through a second
// upstream when the first is dead, and SERVFAIL with EDE when all are.
func TestFailoverAndServFail(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"www.example. 300 IN A 127.0.0.1"}, nil)
	dead := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t)) // nothing listens here
	dnsAddr, _ := startGateway(t, `
listen: {dns: ["%DNS%"]}
upstreams: [udp://`+dead+`, udp://`+auth.Addr+`]
upstream_timeout: 2s
`)
	if resp := exchange(t, "udp", dnsAddr, "www.example.", dns.TypeA); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Fatalf("failover answer: %v", resp)
	}

	deadOnly, _ := startGateway(t, `
listen: {dns: ["%DNS%"]}
upstreams: [udp://`+dead+`]
upstream_timeout: 1s
`)
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	resp, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(q, deadOnly)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	var ede *dns.EDNS0_EDE
	for _, o := range resp.IsEdns0().Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			ede = e
		}
	}
	if ede == nil || (ede.InfoCode != dns.ExtendedErrorCodeNoReachableAuthority && ede.InfoCode != dns.ExtendedErrorCodeNetworkError) {
		t.Fatalf("SERVFAIL without EDE 22/23: %v", resp)
	}
}

// TestReadyzWhileDraining: /readyz answers 503 as soon as a shutdown starts,
// while queries in flight are still being answered.
func TestReadyzWhileDraining(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"slow.example. 300 IN A 127.0.0.1"}, func(string) time.Duration { return time.Second })
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	g, err := New(loadYAML(t, t.TempDir(), fmt.Sprintf(`listen: {dns: [%q], metrics: %q}
upstreams: [udp://%s]
data_dir: %s
`, dnsAddr, metricsAddr, auth.Addr, t.TempDir())), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ready := func() int {
		r, err := http.Get("http://" + metricsAddr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("/readyz before the shutdown: %d", got)
	}
	answered := make(chan error, 1)
	go func() {
		q := new(dns.Msg)
		q.SetQuestion("slow.example.", dns.TypeA)
		_, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(q, dnsAddr)
		answered <- err
	}()
	time.Sleep(200 * time.Millisecond) // the query waits on the upstream
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- g.Shutdown(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d, want 503", got)
	}
	if err := <-answered; err != nil {
		t.Errorf("query in flight lost in the drain: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}
