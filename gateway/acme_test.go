package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/certs"
	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/pebbletest"
)

// The names the ACME tests certify and query. The authority behind the
// gateway answers them; pebble resolves them through the gateway.
const (
	acmeName    = "dns.dnsward.test"
	acmeAdsName = "ads.dnsward.test" // a profile host: on the certificates too
	acmeQuery   = "www.dnsward.test."
	acmeQueryIP = "127.0.0.7"
)

// acmeEnv is one ACME scenario on loopback: an authority that the gateway
// forwards to, pebble resolving through the gateway's plain DNS listener
// and validating on the gateway's DoH port (TLS-ALPN-01) and HTTP-01 port,
// and the gateway's addresses, chosen before either starts.
type acmeEnv struct {
	auth    *dnstest.Authority
	pebble  *pebbletest.Pebble
	dns     string // plain DNS listener, pebble's -dnsserver
	doh     string // DoH listener = pebble's tlsPort
	dot     string
	metrics string
	http    int // tls.acme.http_port = pebble's httpPort
	dataDir string
	logPath string   // the gateways' logs
	log     *os.File // logPath, appended to by every gateway of the test

	hold atomic.Pointer[chan struct{}] // while set, the certified names get no answer
	held atomic.Int64                  // queries that waited on hold
}

// startACMEEnv starts the authority and pebble, which issues certificates
// valid for validity (0: pebble's default).
func startACMEEnv(t *testing.T, validity time.Duration) *acmeEnv {
	t.Helper()
	e := &acmeEnv{dataDir: dataDir(t), logPath: filepath.Join(t.TempDir(), "gateway.log")}
	var err error
	// Left open: certmagic's retry goroutines may still log for a moment
	// after Shutdown; the garbage collector closes it.
	if e.log, err = os.Create(e.logPath); err != nil {
		t.Fatal(err)
	}
	e.auth = dnstest.StartAuthority(t, []string{
		acmeName + ". 0 IN A 127.0.0.1",
		acmeAdsName + ". 0 IN A 127.0.0.1",
		acmeQuery + " 300 IN A " + acmeQueryIP,
	}, func(name string) time.Duration {
		if h := e.hold.Load(); h != nil && name != acmeQuery {
			e.held.Add(1)
			<-*h
		}
		return 0
	})
	addr := func() string { return "127.0.0.1:" + strconv.Itoa(dnstest.FreePort(t)) }
	e.dns, e.doh, e.dot, e.metrics = addr(), addr(), addr(), addr()
	e.http = dnstest.FreePort(t)
	_, tlsPort, _ := net.SplitHostPort(e.doh)
	port, _ := strconv.Atoi(tlsPort)
	e.pebble = pebbletest.Start(t, e.dns, pebbletest.Options{HTTPPort: e.http, TLSPort: port, Validity: validity})
	return e
}

// dataDir is a data_dir removed at the end of the test. Gateway.Shutdown
// does not wait for certmagic's order goroutines, which may still write to
// it for a moment, so the removal is retried (t.TempDir's is not).
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dnsward-acme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 40 {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Errorf("removing data_dir: %v", err)
	})
	return dir
}

// config is the gateway's YAML for directory URL ca and the challenges
// (YAML flow list, "" for the default: both).
func (e *acmeEnv) config(ca, challenges string) string {
	_, tlsPort, _ := net.SplitHostPort(e.doh)
	return fmt.Sprintf(`
listen:
  dns: [%q]
  doh: [%q]
  dot: [%q]
  metrics: %q
upstreams: [udp://%s]
server_name: %s
data_dir: %s
default_profile: default
profiles:
  default: {}
  ads: {hosts: [%s]}
tls:
  mode: acme
  acme:
    email: ops@dnsward.test
    ca: %s
    ca_root: %s
    challenges: [%s]
    http_port: %d
    tls_alpn_port: %s
`, e.dns, e.doh, e.dot, e.metrics, e.auth.Addr, acmeName, e.dataDir, acmeAdsName,
		ca, e.pebble.APIRoot, challenges, e.http, tlsPort)
}

// start runs a gateway from yaml, logging to e.logPath; the returned stop
// shuts it down (also at the end of the test).
func (e *acmeEnv) start(t *testing.T, yaml string) (stop func()) {
	t.Helper()
	cfg, err := config.Parse("acme.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop = sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("gateway log:\n%s", e.logs(t))
		}
	})
	return stop
}

// logs returns what the gateways logged so far.
func (e *acmeEnv) logs(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(e.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// roots is pebble's issuing root.
func (e *acmeEnv) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	roots, err := e.pebble.Root()
	if err != nil {
		t.Fatal(err)
	}
	return roots
}

// dohQuery asks the DoH listener at addr for acmeQuery A by POST over
// HTTP/2 to https://name:port/dns-query, dialling addr (the test names do
// not resolve on the host) and verifying name against roots. It returns the
// answer and the chain served.
func dohQuery(t *testing.T, addr, name string, roots *x509.CertPool) (*dns.Msg, []*x509.Certificate) {
	t.Helper()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	q := new(dns.Msg)
	q.SetQuestion(acmeQuery, dns.TypeA)
	q.Id = 0 // RFC 8484 §4.1
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	url := "https://" + net.JoinHostPort(name, port) + "/dns-query"
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Post(url, "application/dns-message", bytes.NewReader(wire))
	if err != nil {
		t.Fatalf("DoH %s: %v", url, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Fatalf("DoH %s: %s over %s, want 200 over HTTP/2", url, resp.Status, resp.Proto)
	}
	answer := new(dns.Msg)
	if err := answer.Unpack(body.Bytes()); err != nil {
		t.Fatalf("DoH %s: %v", url, err)
	}
	return answer, resp.TLS.PeerCertificates
}

// checkAnswer fails unless r answers acmeQuery with acmeQueryIP.
func checkAnswer(t *testing.T, r *dns.Msg) {
	t.Helper()
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), acmeQueryIP) {
		t.Fatalf("answer for %s: %v", acmeQuery, r)
	}
}

// metricValue returns the value of the first sample in text whose name and
// labels start with series, and whether there was one.
func metricValue(text, series string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + `[^ ]* (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// TestACMEThroughGateway issues certificates for server_name and a profile
// host from pebble with only one challenge type enabled, answered by the
// gateway's own listeners, while pebble resolves the names through the
// gateway; a DoH client trusting only pebble's root then queries over the
// issued chain.
func TestACMEThroughGateway(t *testing.T) {
	tests := []struct {
		challenge   string
		httpListens bool // the HTTP-01 listener exists
	}{
		{"tls-alpn-01", false},
		{"http-01", true},
	}
	for _, tc := range tests {
		t.Run(tc.challenge, func(t *testing.T) {
			e := startACMEEnv(t, 0)
			e.start(t, e.config(e.pebble.DirURL, tc.challenge))
			if tc.challenge == "tls-alpn-01" {
			}
			roots := e.roots(t)
			for _, name := range []string{acmeName, acmeAdsName} {
				pebbletest.WaitIssued(t, 20*time.Second, e.doh, name, roots, nil)
				pebbletest.WaitIssued(t, 5*time.Second, e.dot, name, roots, nil)
			}
			if e.auth.Queries.Load() == 0 {
				t.Error("pebble's lookups never reached the authority through the gateway")
			}
			for _, name := range []string{acmeName, acmeAdsName} {
				answer, chain := dohQuery(t, e.doh, name, roots)
				checkAnswer(t, answer)
				if len(chain) < 2 {
					t.Errorf("%s: %d certificates served, want the full chain", name, len(chain))
				}
			}

			text := scrape(t, e.metrics)
			if v, ok := metricValue(text, `dnsward_cert_expiry_seconds{name="`+acmeName+`"}`); !ok || v <= 0 {
				t.Errorf("dnsward_cert_expiry_seconds for %s: %v, %v", acmeName, v, ok)
			}
			checks, _ := metricValue(text, `dnsward_acme_http_requests_total{kind="challenge"}`)
			conn, dialErr := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(e.http), time.Second)
			if dialErr == nil {
				conn.Close()
			}
			if listens := dialErr == nil; listens != tc.httpListens {
				t.Errorf("HTTP-01 port open: %v, want %v", listens, tc.httpListens)
			}
			if tc.httpListens && checks < 2 {
				t.Errorf("the HTTP-01 listener answered %v validations, want one per name", checks)
			}
		})
	}
}

// TestACMERenewalKeepsDoTBusy restarts a gateway on a data_dir whose
// certificate is close to expiry, as a rolling update or a second node on
// shared storage does: the gateway serves the stored certificate at once and
// renews it in the background, while a DoT client that connected before the
// renewal keeps querying on its one connection every 50 ms without a failure.
// The renewal is held at pebble's DNS lookup until that client is connected.
func TestACMERenewalKeepsDoTBusy(t *testing.T) {
	e := startACMEEnv(t, 5*time.Minute) // < 5 × certmagic's 10 min check interval: renew now
	yaml := e.config(e.pebble.DirURL, "http-01")
	roots := e.roots(t)
	stop := e.start(t, yaml)
	first := pebbletest.WaitIssued(t, 20*time.Second, e.dot, acmeName, roots, nil)
	stop()

	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	e.hold.Store(&hold)
	defer release() // never leave the authority's handlers blocked
	e.start(t, yaml)
	sameSerial := func(c *x509.Certificate) bool { return c.SerialNumber.Cmp(first.SerialNumber) == 0 }
	pebbletest.WaitIssued(t, 5*time.Second, e.dot, acmeName, roots, sameSerial)

	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.dot,
		&tls.Config{ServerName: acmeName, RootCAs: roots, NextProtos: []string{"dot"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !sameSerial(conn.ConnectionState().PeerCertificates[0]) {
		t.Fatal("the busy connection did not start on the stored certificate")
	}
	var answered atomic.Int64
	busy := make(chan error, 1)
	done := make(chan struct{})
	go func() { busy <- queryLoop(conn, done, 600, &answered) }()

	release() // let pebble resolve the name and validate the renewal
	renewed := pebbletest.WaitIssued(t, 20*time.Second, e.dot, acmeName, roots, func(c *x509.Certificate) bool { return !sameSerial(c) })
	for after := answered.Load() + 5; answered.Load() < after; {
		select {
		case err := <-busy:
			t.Fatalf("busy DoT connection ended after %d answers: %v", answered.Load(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	close(done)
	if e.held.Load() == 0 {
		t.Error("the renewal never waited for the busy connection: pebble's lookup was not held")
	}
	if err := <-busy; err != nil {
		t.Fatalf("busy DoT connection failed after %d answers: %v", answered.Load(), err)
	}
	if renewed.NotBefore.Before(first.NotBefore) {
		t.Errorf("renewed certificate valid from %v, before the first's %v", renewed.NotBefore, first.NotBefore)
	}
	if !strings.Contains(e.logs(t), "renewal=true") {
		t.Error("no log line for the renewal")
	}
	t.Logf("%d DoT answers on one connection across the renewal, none failed", answered.Load())
}

// queryLoop sends acmeQuery on a DoT connection every 50 ms and checks each
// answer, until done closes or max queries were answered; each exchange has
// a 5 s deadline.
func queryLoop(conn *tls.Conn, done <-chan struct{}, max int, answered *atomic.Int64) error {
	dc := &dns.Conn{Conn: conn}
	for i := range max {
		select {
		case <-done:
			return nil
		case <-time.After(50 * time.Millisecond):
		}
		q := new(dns.Msg)
		q.SetQuestion(acmeQuery, dns.TypeA)
		q.Id = uint16(i + 1)
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if err := dc.WriteMsg(q); err != nil {
			return err
		}
		r, err := dc.ReadMsg()
		if err != nil {
			return err
		}
		if r.Id != q.Id || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			return fmt.Errorf("query %d: answer %v", i, r)
		}
		answered.Add(1)
	}
	return nil
}

// TestACMERefusedServesFallback points the gateway at a path where pebble
// has no ACME directory: the gateway starts anyway, DoH serves the
// self-signed fallback (verifiable with the local CA in data_dir), the CA's
// answer is logged and counted, and the HTTP-01 port redirects browsers.
func TestACMERefusedServesFallback(t *testing.T) {
	e := startACMEEnv(t, 0)
	e.start(t, e.config(strings.TrimSuffix(e.pebble.DirURL, "/dir")+"/no-such-directory", ""))

	var errs float64
	waitFor(t, "dnsward_cert_errors_total", func() bool {
		errs, _ = metricValue(scrape(t, e.metrics), `dnsward_cert_errors_total{name="`+acmeName+`"}`)
		return errs > 0
	})
	if !regexp.MustCompile(`msg="certificate order failed.*name=` + acmeName + `.*HTTP 404`).MatchString(e.logs(t)) {
		t.Errorf("no log line with what the CA answered (HTTP 404)")
	}
	fallback := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(e.dataDir, "self_signed", "ca.pem")) // the local CA (certs/doc.go)
	if err != nil || !fallback.AppendCertsFromPEM(caPEM) {
		t.Fatalf("local CA in data_dir: %v", err)
	}
	answer, _ := dohQuery(t, e.doh, acmeName, fallback)
	checkAnswer(t, answer)
	if _, ok := pebbletest.IssuedBy(e.doh, acmeName, e.roots(t)); ok {
		t.Error("a pebble certificate is served although the directory URL is wrong")
	}

	tests := []struct{ path, kind string }{
		{"/dns-query?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB", "redirect"},
		{"/.well-known/acme-challenge/unknown-token", "challenge"}, // no such validation: redirected too
	}
	_, tlsPort, _ := net.SplitHostPort(e.doh)
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range tests {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(e.http)+tc.path, nil)
		req.Host = acmeName
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := "https://" + net.JoinHostPort(acmeName, tlsPort) + tc.path
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("GET %s: %s to %q, want 308 to %q", tc.path, resp.Status, resp.Header.Get("Location"), want)
		}
	}
	text := scrape(t, e.metrics)
	for _, tc := range tests {
		if v, _ := metricValue(text, `dnsward_acme_http_requests_total{kind="`+tc.kind+`"}`); v != 1 {
			t.Errorf("dnsward_acme_http_requests_total{kind=%q} = %v, want 1", tc.kind, v)
		}
	}
}

func TestACMEHTTPAddrs(t *testing.T) {
	tests := []struct {
		name   string
		listen config.Listen
		want   []string
	}{
		{"one DoH address", config.Listen{DoH: []string{"192.0.2.1:443"}}, []string{"192.0.2.1:80"}},
		{"hosts of every encrypted front-end, once each",
			config.Listen{DoH: []string{"192.0.2.1:443"}, DoT: []string{"192.0.2.1:853", "[2001:db8::1]:853"}, DoQ: []string{"192.0.2.2:853"}},
			[]string{"192.0.2.1:80", "[2001:db8::1]:80", "192.0.2.2:80"}},
		{"a wildcard covers the specific addresses",
			config.Listen{DoH: []string{"192.0.2.1:443"}, DoT: []string{"0.0.0.0:853"}, DoQ: []string{"0.0.0.0:853"}},
			[]string{"0.0.0.0:80"}},
		{"plain DNS alone needs no HTTP-01 listener", config.Listen{DNS: []string{"192.0.2.1:53"}}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := acmeHTTPAddrs(tt.listen, 80); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestACMEHTTPPortBusy checks that a taken tls.acme.http_port fails Start
// with the key in the error, before certificate management talks to any CA,
// and leaves no listener of the gateway open.
func TestACMEHTTPPortBusy(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, httpPort, _ := net.SplitHostPort(busy.Addr().String())
	doh := "127.0.0.1:" + strconv.Itoa(dnstest.FreePort(t))
	deadCA := "https://127.0.0.1:" + strconv.Itoa(dnstest.FreePort(t)) + "/dir"
	cfg, err := config.Parse("acme.yaml", []byte(fmt.Sprintf(`
listen: {doh: [%q]}
upstreams: [udp://127.0.0.1:1]
server_name: %s
data_dir: %s
tls: {mode: acme, acme: {ca: %q, challenges: [http-01], http_port: %s}}
`, doh, acmeName, dataDir(t), deadCA, httpPort)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	err = g.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "tls.acme.http_port") {
		t.Fatalf("Start: %v, want an error naming tls.acme.http_port", err)
	}
	if c, err := net.DialTimeout("tcp", doh, time.Second); err == nil {
		c.Close()
		t.Error("the DoH listener stayed open after Start failed")
	}
}

// TestACMEExampleBuilds builds examples/acme.yaml offline (New talks to no
// CA and binds nothing), so its ACME settings pass certs' validation too,
// and checks where its HTTP-01 listener would bind.
func TestACMEExampleBuilds(t *testing.T) {
	cfg, err := config.Load("../examples/acme.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir() // not /var/lib/dnsward
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	if g.acmeHTTP == nil {
		t.Fatal("no HTTP-01 listener built")
	}
	if want := []string{"192.0.2.53:80", "[2001:db8::53]:80"}; !slices.Equal(g.acmeHTTP.addrs, want) {
		t.Errorf("HTTP-01 addresses %q, want %q", g.acmeHTTP.addrs, want)
	}
}

// BenchmarkACMEHTTPHandler compares the HTTP-01 listener's handler (a
// redirect, counted) with certs' handler alone, the baseline.
func BenchmarkACMEHTTPHandler(b *testing.B) {
	m, err := certs.New(certs.Config{
		Mode: certs.ModeACME, ServerName: acmeName, DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler),
		ACME: certs.ACMEConfig{CA: "https://127.0.0.1:1/dir"}, // never contacted: no Start
	})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	a := &acmeHTTP{log: slog.New(slog.DiscardHandler), requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"kind"})}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"certs", m.HTTPHandler(nil)}, {"counted", a.count(m.HTTPHandler(nil))}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "http://"+acmeName+"/dns-query", nil)
			for b.Loop() {
				w := httptest.NewRecorder()
				bc.h.ServeHTTP(w, req)
				if w.Code != http.StatusPermanentRedirect {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
