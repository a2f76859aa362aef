package certs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const pebbleBin = "/usr/bin/pebble"

// pebble is a running Let's Encrypt test CA (Debian package pebble).
type pebble struct {
	dirURL  string // ACME directory
	mgmt    string // management base URL
	apiRoot string // PEM file that verifies pebble's own HTTPS API
	client  *http.Client
	stop    func() // kills pebble (by PID); also run at the end of the test
}

// pebbleOptions are what a test sets in pebble's config.
type pebbleOptions struct {
	httpPort, tlsPort int // where pebble validates HTTP-01 and TLS-ALPN-01
	validity          int // certificate validity in seconds; 0 → pebble's default
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startTestDNS answers every A query with 127.0.0.1 and everything else with
// an empty NOERROR, on loopback UDP and TCP; it returns the address and a
// query counter.
func startTestDNS(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var queries atomic.Int64
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		queries.Add(1)
		r := new(dns.Msg)
		r.SetReply(q)
		r.Authoritative = true
		if len(q.Question) == 1 && q.Question[0].Qtype == dns.TypeA {
			r.Answer = append(r.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0},
				A:   net.IPv4(127, 0, 0, 1),
			})
		}
		w.WriteMsg(r)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: ln, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return pc.LocalAddr().String(), &queries
}

// startPebble runs pebble on loopback with its API certificate from a local
// CA, validating against opts' ports and resolving through dnsAddr. It is
// killed (by PID) at the end of the test.
func startPebble(t *testing.T, dnsAddr string, opts pebbleOptions) *pebble {
	t.Helper()
	if _, err := os.Stat(pebbleBin); err != nil {
		t.Skip("pebble is not installed (apt-get install -y pebble)")
	}
	dir := t.TempDir()
	apiCA, err := openLocalCA(filepath.Join(dir, "api"), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	mgmt := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  listen,
		"managementListenAddress":        mgmt,
		"certificate":                    apiCA.path(leafCertName),
		"privateKey":                     apiCA.path(leafKeyName),
		"httpPort":                       opts.httpPort,
		"tlsPort":                        opts.tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"certificateValidityPeriod":      opts.validity,
	}}
	confPath := filepath.Join(dir, "pebble.json")
	data, _ := json.Marshal(conf)
	if err := os.WriteFile(confPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	cmd := exec.Command(pebbleBin, "-config", confPath, "-dnsserver", dnsAddr, "-strict=false")
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := sync.OnceFunc(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("pebble output:\n%s", logs)
		}
	})
	p := &pebble{
		dirURL:  "https://" + listen + "/dir",
		mgmt:    "https://" + mgmt,
		apiRoot: apiCA.caFile(),
		stop:    stop,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: poolFromFile(t, apiCA.caFile())},
		}},
	}
	waitFor(t, 10*time.Second, "pebble to start", func() bool {
		_, err := p.root()
		return err == nil
	})
	return p
}

// root fetches the root that signs pebble's issued certificates.
func (p *pebble) root() (*x509.CertPool, error) {
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
		return nil, fmt.Errorf("roots/0: %s", resp.Status)
	}
	return pool, nil
}

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
func acmeConfig(t *testing.T, p *pebble, g *gateway, challenges ...string) Config {
	return Config{
		Mode: ModeACME, ServerName: "dns.dnsward.test", DataDir: t.TempDir(),
		ACME: ACMEConfig{
			Email: "ops@dnsward.test", CA: p.dirURL, CARoot: p.apiRoot, Challenges: challenges,
			HTTPPort: g.httpPort, TLSALPNPort: g.tlsPort,
		},
	}
}

// issuedBy reports whether the server at addr serves name a chain that
// verifies against roots; it returns the leaf when it does.
func issuedBy(addr, name string, roots *x509.CertPool) (*x509.Certificate, bool) {
	st, err := handshake(addr, name, nil)
	if err != nil || len(st.PeerCertificates) == 0 {
		return nil, false
	}
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err = st.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter})
	return st.PeerCertificates[0], err == nil
}
