// Package pebbletest runs Debian's pebble (Let's Encrypt's test ACME CA) on
// loopback for end-to-end certificate tests, with a DNS stub it can resolve
// through and a check that a listener serves a chain it issued.
package pebbletest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// Options are what a test sets in pebble's configuration.
type Options struct {
	HTTPPort int           // where pebble validates HTTP-01 (on the name's address)
	TLSPort  int           // where pebble validates TLS-ALPN-01
	Validity time.Duration // issued certificates' validity, whole seconds; 0 → pebble's default
}

// Pebble is a running pebble, killed (by PID) at the end of the test.
type Pebble struct {
	Addr    string // host:port of the ACME API
	DirURL  string // the ACME directory URL
	APIRoot string // PEM file of the root that verifies the ACME API's certificate

	mgmt    string // management API base URL (roots)
	client  *http.Client
	stop    func()
	logPath string // pebble's stdout and stderr
}

// Start runs pebble resolving identifiers through the DNS server at dnsAddr
// and validating challenges on opts' ports. Validation starts at once
// (PEBBLE_VA_NOSLEEP), every challenge is really checked
// (PEBBLE_VA_ALWAYS_VALID=0) and authorizations are never reused
// (PEBBLE_AUTHZREUSE=0), so every order is validated by the live listeners
// (or, for DNS-01, at the DNS server).
// The retryAfter settings stay out of the configuration: with them certmagic
// waits 5 s between polls.
func Start(t testing.TB, dnsAddr string, opts Options) *Pebble {
	t.Helper()
	bin := dnstest.NeedBinary(t, "pebble", "pebble")
	dir := t.TempDir()
	certFile, keyFile, caFile := writeAPICert(t, dir)
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(dnstest.FreePort(t)))
	mgmt := net.JoinHostPort("127.0.0.1", strconv.Itoa(dnstest.FreePort(t)))
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  listen,
		"managementListenAddress":        mgmt,
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       opts.HTTPPort,
		"tlsPort":                        opts.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"certificateValidityPeriod":      int(opts.Validity / time.Second),
	}}
	confPath := filepath.Join(dir, "pebble.json")
	data, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(confPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "pebble.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", confPath, "-dnsserver", dnsAddr, "-strict=false")
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_VA_ALWAYS_VALID=0", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatal(err)
	}
	p := &Pebble{
		Addr: listen, DirURL: "https://" + listen + "/dir", APIRoot: caFile, mgmt: "https://" + mgmt, logPath: logPath,
		stop: sync.OnceFunc(func() {
			cmd.Process.Kill()
			cmd.Wait()
			logFile.Close()
		}),
	}
	roots := x509.NewCertPool()
	caPEM, _ := os.ReadFile(caFile)
	roots.AppendCertsFromPEM(caPEM)
	p.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("pebble output:\n%s", out)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := p.Root()
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not start within 10 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills pebble now; later calls and the test's cleanup do nothing.
func (p *Pebble) Stop() { p.stop() }

// Orders counts the orders pebble has accepted so far (its "Added order"
// log lines), each one a certificate issued or attempted.
func (p *Pebble) Orders(t testing.TB) int {
	t.Helper()
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "Added order ")
}

// Root fetches the root that signs the certificates pebble issues
// (/roots/0 on its management port).
func (p *Pebble) Root() (*x509.CertPool, error) {
	resp, err := p.client.Get(p.mgmt + "/roots/0")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if resp.StatusCode != http.StatusOK || !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("pebble /roots/0: %s", resp.Status)
	}
	return pool, nil
}
