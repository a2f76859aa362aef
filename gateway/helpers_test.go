package gateway

import (
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/internal/dnstest"
)

// runGateway builds and starts a gateway from cfg, logging to log (nil:
// discarded), and shuts it down when the test ends.
func runGateway(t testing.TB, cfg *config.Config, log *slog.Logger) *Gateway {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g, err := New(cfg, log)
	dnstest.Run(t, g, err)
	return g
}

// loadYAML writes yaml as dnsward.yaml in dir (so relative list paths resolve
// against dir) and loads it.
func loadYAML(t testing.TB, dir, yaml string) *config.Config {
	t.Helper()
	file := filepath.Join(dir, "dnsward.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// caPool trusts the gateway's self-signed CA.
func caPool(t testing.TB, g *Gateway) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(g.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", g.CAFile())
	}
	return pool
}
