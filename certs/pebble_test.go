package certs

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/pebbletest"
)

// gateway is the test's stand-in for dnsward's listeners: a TLS listener
// using TLSConfig("h2", "http/1.1") and an HTTP listener using HTTPHandler,
// each counting the ACME validations it answered.
type gateway struct {
	tlsAddr, httpAddr      string
	tlsPort, httpPort      int
	alpnChecks, httpChecks atomic.Int64
}

// listen opens the gateway's listeners before the Manager exists, as
// dnsward does (ports first, then config).
func listenGateway(t *testing.T) (*gateway, func(m *Manager)) {
	t.Helper()
	g := &gateway{}
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.tlsAddr, g.httpAddr = tlsLn.Addr().String(), httpLn.Addr().String()
	g.tlsPort, g.httpPort = tlsLn.Addr().(*net.TCPAddr).Port, httpLn.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { tlsLn.Close(); httpLn.Close() })
	serve := func(m *Manager) {
		cfg := m.TLSConfig(ALPNHTTP2, ALPNHTTP11)
		get := cfg.GetCertificate
		cfg.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if isChallenge(h) {
				g.alpnChecks.Add(1)
			}
			return get(h)
		}
		serveEchoOn(t, tls.NewListener(tlsLn, cfg))
		hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.httpChecks.Add(1)
			m.HTTPHandler(nil).ServeHTTP(w, r)
		}), ReadHeaderTimeout: 5 * time.Second}
		go hs.Serve(httpLn)
		t.Cleanup(func() { hs.Close() })
	}
	return g, serve
}

// acmeConfig is a Manager config for pebble p and gateway g.
func acmeConfig(t *testing.T, p *pebbletest.Pebble, g *gateway, challenges ...string) Config {
	return Config{
		Mode: ModeACME, ServerName: "dns.dnsward.test", DataDir: t.TempDir(),
		ACME: ACMEConfig{
			Email: "ops@dnsward.test", CA: p.DirURL, CARoot: p.APIRoot, Challenges: challenges,
			HTTPPort: g.httpPort, TLSALPNPort: g.tlsPort,
		},
	}
}
