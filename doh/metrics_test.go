package doh

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/frontendtest"
)

// gathered returns the value of the series of name whose labels include want.
func gathered(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.Metric {
			labels := map[string]string{}
			for _, lp := range m.Label {
				labels[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return 0
}

func TestMetricsAndPrivateLogs(t *testing.T) { forEachEngine(t, testMetricsAndPrivateLogs) }

func testMetricsAndPrivateLogs(t *testing.T, engine string) {
	reg := prometheus.NewRegistry()
	logs := &frontendtest.Logs{}
	env := startServer(t, func(c *Config) {
		onEngine(engine)(c)
		c.Metrics = reg
		c.Logger = logs.Logger()
	})
	addr := env.srv.TLSAddrs()[0]
	host := hostPort("dns.test", addr)
	wire := query(t, "a.test.", dns.TypeA, 0, 0)

	c2 := env.client(t, h2, addr)
	getOrPost(t, c2, http.MethodGet, host, "/ads", wire)
	getOrPost(t, c2, http.MethodGet, host, "/ads", wire)
	exchange(t, env.client(t, h1, addr), http.MethodPost, "https://"+host+"/dns-query", bytes.NewReader(wire), nil)
	getOrPost(t, env.client(t, h3, addr), http.MethodPost, host, "/child", wire)
	exchange(t, c2, http.MethodGet, "https://"+host+"/nowhere", nil, nil)
	// A client that does not trust the certificate aborts the handshake.
	if c, err := tls.Dial("tcp", addr.String(), &tls.Config{ServerName: "dns.test"}); err == nil {
		c.Close()
		t.Fatal("handshake with an untrusted certificate succeeded")
	}

	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"dnsward_doh_requests_total", map[string]string{"version": "2", "method": "GET", "status": "200", "profile": "ads"}, 2},
		{"dnsward_doh_requests_total", map[string]string{"version": "1.1", "method": "POST", "status": "415", "profile": "unfiltered"}, 1},
		{"dnsward_doh_requests_total", map[string]string{"version": "3", "method": "POST", "status": "200", "profile": "child"}, 1},
		{"dnsward_doh_requests_total", map[string]string{"version": "2", "status": "404", "profile": "none"}, 1},
		{"dnsward_doh_tls_handshakes_total", map[string]string{"listener": "quic", "result": "ok"}, 1},
		{"dnsward_doh_open_connections", map[string]string{"listener": "quic"}, 1},
		{"dnsward_connections_total", map[string]string{"transport": "doh3", "profile": ""}, 1},
	} {
		if got := gathered(t, reg, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if got := gathered(t, reg, "dnsward_doh_tls_handshakes_total", map[string]string{"listener": "tcp", "result": "ok"}); got < 2 {
		t.Errorf("tcp handshakes ok = %v, want at least 2", got)
	}
	if got := gathered(t, reg, "dnsward_connections_total", map[string]string{"transport": "doh"}); got < 3 { // h2, h1 and the failed handshake
		t.Errorf("dnsward_connections_total{transport=doh} = %v, want at least 3", got)
	}
	if got := gathered(t, reg, "dnsward_doh_open_connections", map[string]string{"listener": "tls"}); got < 2 {
		t.Errorf("open tls connections = %v, want at least 2", got)
	}
	// The failed handshake is counted when net/http logs it.
	for i := 0; i < 100 && gathered(t, reg, "dnsward_doh_tls_handshakes_total", map[string]string{"listener": "tcp", "result": "error"}) == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := gathered(t, reg, "dnsward_doh_tls_handshakes_total", map[string]string{"listener": "tcp", "result": "error"}); got != 1 {
		t.Errorf("failed tcp handshakes = %v, want 1", got)
	}
	out := logs.String()
	if !strings.Contains(out, "TLS handshake error") {
		t.Fatalf("handshake failure not logged:\n%s", out)
	}
	if strings.Contains(out, "127.0.0.1") {
		t.Fatalf("client address in logs:\n%s", out)
	}
}

func TestSecondServerSharesRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	startServer(t, func(c *Config) { c.Metrics = reg })
	startServer(t, func(c *Config) { c.Metrics = reg })
}
