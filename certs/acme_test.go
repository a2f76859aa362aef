package certs

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/metricstest"
	"github.com/dnsward/dnsward/internal/pebbletest"
)

func TestACMEIssuesThroughLiveListeners(t *testing.T) {
	for _, challenge := range []string{ChallengeTLSALPN, ChallengeHTTP} {
		t.Run(challenge, func(t *testing.T) {
			dnsAddr, queries := pebbletest.StartDNS(t)
			g, serve := listenGateway(t)
			p := pebbletest.Start(t, dnsAddr, pebbletest.Options{HTTPPort: g.httpPort, TLSPort: g.tlsPort})
			cfg := acmeConfig(t, p, g, challenge)
			cfg.Hosts = []string{"ads.dnsward.test"}
			m, _, reg := newTestManager(t, cfg)
			serve(m)

			// Before Start: the self-signed fallback, verifiable with the local CA.
			fallbackRoots := poolFromFile(t, m.local.caFile())
			if _, err := handshake(g.tlsAddr, "dns.dnsward.test", fallbackRoots, ALPNHTTP2); err != nil {
				t.Fatalf("fallback before issuance: %v", err)
			}
			if err := m.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			roots, err := p.Root()
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"dns.dnsward.test", "ads.dnsward.test"} {
				pebbletest.WaitIssued(t, 30*time.Second, g.tlsAddr, name, roots, nil)
				st, err := handshake(g.tlsAddr, name, roots, ALPNHTTP2)
				if err != nil {
					t.Fatalf("%s: client trusting pebble's root: %v", name, err)
				}
				if len(st.PeerCertificates) < 2 {
					t.Errorf("%s: %d certificates served, want the full chain", name, len(st.PeerCertificates))
				}
				if v, ok := metricstest.Lookup(t, reg, "dnsward_cert_expiry_seconds", "name", name); !ok || v <= 0 {
					t.Errorf("%s: expiry metric %v (present %v)", name, v, ok)
				}
			}
			// No SNI (clients that dial an IP): the server_name certificate.
			if leaf, ok := pebbletest.IssuedBy(g.tlsAddr, "", nil); ok || leaf == nil || leaf.DNSNames[0] != "dns.dnsward.test" {
				t.Errorf("no-SNI handshake served %v", leaf)
			}
			answered := map[string]int64{ChallengeTLSALPN: g.alpnChecks.Load(), ChallengeHTTP: g.httpChecks.Load()}
			if answered[challenge] == 0 {
				t.Errorf("the gateway's own listener answered no %s validation (%v)", challenge, answered)
			}
			if queries.Load() == 0 {
				t.Error("pebble never queried the test DNS server")
			}
		})
	}
}

func TestACMERenewsWhileConnectionsStayBusy(t *testing.T) {
	dnsAddr, _ := pebbletest.StartDNS(t)
	g, serve := listenGateway(t)
	p := pebbletest.Start(t, dnsAddr, pebbletest.Options{HTTPPort: g.httpPort, TLSPort: g.tlsPort, Validity: 20 * time.Second})
	cfg := acmeConfig(t, p, g)
	cfg.CheckInterval = 250 * time.Millisecond
	cfg.ACME.RenewalWindowRatio = 0.6 // renew 8 s after issuance
	m, logs, reg := newTestManager(t, cfg)
	serve(m)
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	roots, err := p.Root()
	if err != nil {
		t.Fatal(err)
	}
	first := pebbletest.WaitIssued(t, 30*time.Second, g.tlsAddr, "dns.dnsward.test", roots, nil)

	// A client keeps one connection busy through the renewal.
	conn, err := tlsDial(g.tlsAddr, "dns.dnsward.test", roots)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	busy := make(chan error, 1)
	stop := make(chan struct{})
	go func() { busy <- echoLoop(conn, stop, 2000) }()

	renewed := pebbletest.WaitIssued(t, 40*time.Second, g.tlsAddr, "dns.dnsward.test", roots, func(leaf *x509.Certificate) bool {
		return leaf.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	close(stop)
	if err := <-busy; err != nil {
		t.Fatalf("busy connection failed during renewal: %v", err)
	}
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("renewed certificate expires %v, not after the first's %v", renewed.NotAfter, first.NotAfter)
	}
	if !strings.Contains(logs.String(), "renewal=true") {
		t.Error("no log line for the renewal")
	}

	// The CA goes away: the next renewal fails, the renewed certificate stays.
	p.Stop()
	waitFor(t, 30*time.Second, "a failed renewal", func() bool {
		return metricstest.Value(t, reg, "dnsward_cert_errors_total", "name", "dns.dnsward.test") >= 1
	})
	if !strings.Contains(logs.String(), "certificate renewal failed; keeping the current certificate") {
		t.Error("no log line for the failed renewal")
	}
	if leaf, ok := pebbletest.IssuedBy(g.tlsAddr, "dns.dnsward.test", roots); !ok || leaf.SerialNumber.Cmp(renewed.SerialNumber) != 0 {
		t.Error("the current certificate was not kept after a failed renewal")
	}
}

func TestACMERefusedKeepsServingFallback(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, g *gateway) Config
		wantLog string
	}{
		{"wrong CA URL", func(t *testing.T, g *gateway) Config {
			return Config{Mode: ModeACME, ServerName: "dns.dnsward.test", DataDir: t.TempDir(), ACME: ACMEConfig{
				CA: "https://127.0.0.1:" + itoa(dnstest.FreePort(t)) + "/dir", HTTPPort: g.httpPort, TLSALPNPort: g.tlsPort}}
		}, "connection refused"},
		{"challenge rejected", func(t *testing.T, g *gateway) Config {
			dnsAddr, _ := pebbletest.StartDNS(t)
			// pebble validates on ports where nothing listens.
			p := pebbletest.Start(t, dnsAddr, pebbletest.Options{HTTPPort: dnstest.FreePort(t), TLSPort: dnstest.FreePort(t)})
			return acmeConfig(t, p, g)
		}, "urn:ietf:params:acme:error:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, serve := listenGateway(t)
			m, logs, reg := newTestManager(t, tc.setup(t, g))
			serve(m)
			if err := m.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "dnsward_cert_errors_total", func() bool {
				return metricstest.Value(t, reg, "dnsward_cert_errors_total", "name", "dns.dnsward.test") >= 1
			})
			line := logs.String()
			if !strings.Contains(line, "certificate order failed") || !strings.Contains(line, tc.wantLog) {
				t.Errorf("log lacks the CA's answer %q", tc.wantLog)
			}
			fallbackRoots := poolFromFile(t, m.local.caFile())
			if _, err := handshake(g.tlsAddr, "dns.dnsward.test", fallbackRoots, ALPNHTTP2); err != nil {
				t.Fatalf("fallback not served after the CA refused: %v", err)
			}
			if _, ok := metricstest.Lookup(t, reg, "dnsward_cert_expiry_seconds", "name", "dns.dnsward.test"); ok {
				t.Error("expiry metric exported for a certificate that was never issued")
			}
		})
	}
}
