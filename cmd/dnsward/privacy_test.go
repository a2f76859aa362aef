package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/dnsward/dnsward/gateway"
	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/internal/dnstest"
)

// privacyClients are the client addresses the privacy test sends from and
// then looks for in every output.
func privacyClients() []netip.Addr {
	var out []netip.Addr
	for i := 2; i <= 40; i++ {
		out = append(out, netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}))
	}
	return append(out, netip.IPv6Loopback())
}

// TestPrivacy: clients on 127.0.0.2 … 127.0.0.40 and ::1 send traffic over
// every transport (answered, blocked, rate-limited, malformed queries, ECS
// carrying their own address, failed TLS handshakes); then the stderr log,
// the JSON log, the dnstap file, /metrics, /debug/limits, `dnsward xdp
// stats`, `dnsward stats` and every file under data_dir are searched for those addresses,
// as text and as raw 4/16-byte forms. With the default client mode there
// must be none; with raw there must be some, so the search can fail.
func TestPrivacy(t *testing.T) {
	for _, mode := range []string{"pseudonym", "truncate", "none", "raw"} {
		t.Run(mode, func(t *testing.T) {
			hits := privacyRun(t, mode)
			if mode == "raw" && len(hits) == 0 {
				t.Fatal("raw mode: no client address found anywhere: the search cannot fail")
			}
			if mode != "raw" && len(hits) > 0 {
				t.Fatalf("client addresses found:\n%s", strings.Join(hits, "\n"))
			}
		})
	}
}

func privacyRun(t *testing.T, mode string) []string {
	auth := dnstest.StartAuthority(t, []string{"www.example. 300 IN A 192.0.2.1", "evil.example. 300 IN A 192.0.2.66"}, nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "malware.hosts"), []byte("0.0.0.0 evil.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := func() string { return strconv.Itoa(dnstest.FreePort(t)) }
	dnsP, dohP, tlsP, metricsP := port(), port(), port(), port()
	dataDir := filepath.Join(dir, "data")
	tap, jsonl := filepath.Join(dir, "tap.fstrm"), filepath.Join(dir, "queries.jsonl")
	yaml := fmt.Sprintf(`
listen:
  dns: ["127.0.0.1:%[1]s", "[::1]:%[1]s"]
  doh: ["127.0.0.1:%[2]s", "[::1]:%[2]s"]
  dot: ["127.0.0.1:%[3]s", "[::1]:%[3]s"]
  doq: ["127.0.0.1:%[3]s", "[::1]:%[3]s"]
  metrics: "127.0.0.1:%[4]s"
upstreams: [udp://%[5]s]
data_dir: %[6]s
lists:
  malware: [malware.hosts]
profiles:
  protective: {paths: [/dns-query], block: [malware]}
rate_limit: {qps: 1, burst: 3}
query_log:
  client: %[7]s
  sinks:
    - dnstap: file://%[8]s
    - json: %[9]s
`, dnsP, dohP, tlsP, metricsP, auth.Addr, dataDir, mode, tap, jsonl)
	cfgFile := filepath.Join(dir, "dnsward.yaml")
	os.WriteFile(cfgFile, []byte(yaml), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	g, err := gateway.New(cfg, slog.New(slog.NewTextHandler(&lockedWriter{w: &stderr}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			g.Shutdown(ctx)
		}
	}
	t.Cleanup(stop)
	pem, err := os.ReadFile(g.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)

	for i, src := range privacyClients() {
		host := "127.0.0.1"
		if src.Is6() {
			host = "::1"
		}
		c := &privacyClient{src: src, roots: roots}
		kinds := []string{"udp", "tcp", "dot", "doh", "doh3", "doq"}
		if !src.Is6() {
			kinds = kinds[i%len(kinds) : i%len(kinds)+1]
		}
		for _, kind := range kinds {
			p := map[string]string{"udp": dnsP, "tcp": dnsP, "dot": tlsP, "doh": dohP, "doh3": dohP, "doq": tlsP}[kind]
			addr := net.JoinHostPort(host, p)
			for _, name := range []string{"www.example.", "evil.example.", "www.example.", "www.example.", "www.example.", "www.example."} {
				c.ask(kind, addr, name) // the last ones go over the rate limit
			}
			c.malformed(kind, addr)
		}
		c.close()
	}
	get := func(path string) []byte {
		resp, err := http.Get("http://127.0.0.1:" + metricsP + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	outputs := map[string][]byte{"/metrics": get("/metrics"), "/debug/limits": get("/debug/limits")}
	m := "127.0.0.1:" + metricsP
	for _, args := range [][]string{{"xdp", "stats", "--metrics", m}, {"xdp", "stats", "--metrics", m, "--json"},
		{"stats", "--metrics", m}, {"stats", "--metrics", m, "--json"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		outputs["dnsward "+strings.Join(args, " ")] = out.Bytes()
	}
	stop() // flushes the query log
	outputs["stderr log"] = stderr.Bytes()
	for _, f := range []string{tap, jsonl} {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v (%d bytes): the query log wrote nothing", f, err, len(b))
		}
		outputs[f] = b
	}
	filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			outputs[p] = b
		}
		return nil
	})
	if !bytes.Contains(outputs["stderr log"], []byte("handshake")) {
		t.Errorf("the log shows no failed TLS handshake: the test did not exercise them")
	}
	// The server's own addresses are not clients'.
	server := regexp.MustCompile(`\[::1\]:(` + strings.Join([]string{dnsP, dohP, tlsP}, "|") + `)\b`)
	var hits []string
	for name, b := range outputs {
		hits = append(hits, findClients(name, server.ReplaceAll(b, []byte("<server>")))...)
	}
	return hits
}

var (
	v4Text = regexp.MustCompile(`\b127\.0\.0\.(\d{1,3})\b`)
	v6Text = regexp.MustCompile(`(^|[^0-9A-Za-z:])::1($|[^0-9A-Za-z:])`)
)

// findClients lists where b holds a privacy client's address.
func findClients(name string, b []byte) []string {
	var hits []string
	for _, m := range v4Text.FindAllSubmatch(b, -1) {
		if n, _ := strconv.Atoi(string(m[1])); n >= 2 && n <= 40 {
			hits = append(hits, fmt.Sprintf("%s: %s as text", name, m[0]))
		}
	}
	if v6Text.Match(b) {
		hits = append(hits, name+": ::1 as text")
	}
	for _, a := range privacyClients() {
		if bytes.Contains(b, a.AsSlice()) {
			hits = append(hits, fmt.Sprintf("%s: %s as %d raw bytes", name, a, a.BitLen()/8))
		}
	}
	return hits
}

// lockedWriter serialises the log's writes to a buffer.
type lockedWriter struct {
	mu chan struct{}
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	if l.mu == nil {
		l.mu = make(chan struct{}, 1)
	}
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.w.Write(p)
}

// privacyClient sends queries from one source address.
type privacyClient struct {
	src   netip.Addr
	roots *x509.CertPool
	quic  []*net.UDPConn
}

func (c *privacyClient) query(name string) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	q.SetEdns0(1232, false)
	ecs := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 32, Address: c.src.AsSlice()}
	if c.src.Is6() {
		ecs.Family, ecs.SourceNetmask = 2, 128
	}
	q.IsEdns0().Option = append(q.IsEdns0().Option, ecs)
	return q
}

func (c *privacyClient) tlsConfig(alpn ...string) *tls.Config {
	return &tls.Config{RootCAs: c.roots, ServerName: "localhost", NextProtos: alpn}
}

func (c *privacyClient) dialer() *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: c.src.AsSlice()}, Timeout: time.Second}
}

// quicTransport is a QUIC transport on a UDP socket bound to the source.
func (c *privacyClient) quicTransport() *quic.Transport {
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: c.src.AsSlice()})
	if err != nil {
		panic(err)
	}
	c.quic = append(c.quic, u)
	return &quic.Transport{Conn: u}
}

// ask sends one query of kind to addr; errors (rate limits) are expected.
func (c *privacyClient) ask(kind, addr, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	q := c.query(name)
	switch kind {
	case "udp", "tcp", "dot":
		cl := &dns.Client{Net: map[string]string{"udp": "udp", "tcp": "tcp", "dot": "tcp-tls"}[kind], Timeout: 300 * time.Millisecond}
		cl.Dialer = c.dialer()
		if kind == "udp" {
			cl.Dialer.LocalAddr = &net.UDPAddr{IP: c.src.AsSlice()}
		}
		if kind == "dot" {
			cl.TLSConfig = c.tlsConfig()
		}
		cl.ExchangeContext(ctx, q, addr)
	case "doh", "doh3":
		var rt http.RoundTripper = &http.Transport{TLSClientConfig: c.tlsConfig(), ForceAttemptHTTP2: true, DialContext: c.dialer().DialContext}
		if kind == "doh3" {
			tr := c.quicTransport()
			rt = &http3.Transport{TLSClientConfig: c.tlsConfig(), Dial: func(ctx context.Context, a string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
				ua, err := net.ResolveUDPAddr("udp", a)
				if err != nil {
					return nil, err
				}
				return tr.DialEarly(ctx, ua, tc, qc)
			}}
		}
		wire, _ := q.Pack()
		req, _ := http.NewRequestWithContext(ctx, "POST", "https://"+addr+"/dns-query", bytes.NewReader(wire))
		req.Header.Set("Content-Type", "application/dns-message")
		if resp, err := (&http.Client{Transport: rt}).Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if t, ok := rt.(interface{ Close() error }); ok {
			t.Close()
		}
	case "doq":
		ua, _ := net.ResolveUDPAddr("udp", addr)
		conn, err := c.quicTransport().Dial(ctx, ua, c.tlsConfig("doq"), nil)
		if err != nil {
			return
		}
		defer conn.CloseWithError(0, "")
		s, err := conn.OpenStreamSync(ctx)
		if err != nil {
			return
		}
		q.Id = 0
		wire, _ := q.Pack()
		s.Write(binary.BigEndian.AppendUint16(nil, uint16(len(wire))))
		s.Write(wire)
		s.Close()
		io.ReadAll(s)
	}
}

// malformed sends what is not a DNS query (plain DNS), or fails a TLS
// handshake (a client that does not trust the certificate).
func (c *privacyClient) malformed(kind, addr string) {
	switch kind {
	case "udp", "tcp":
		conn, err := c.dialer().Dial(kind, addr)
		if kind == "udp" {
			conn, err = (&net.Dialer{LocalAddr: &net.UDPAddr{IP: c.src.AsSlice()}}).Dial("udp", addr)
		}
		if err != nil {
			return
		}
		defer conn.Close()
		junk := []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff")
		if kind == "tcp" {
			junk = append([]byte{0, byte(len(junk))}, junk...)
		}
		conn.SetDeadline(time.Now().Add(300 * time.Millisecond))
		conn.Write(junk)
		conn.Read(make([]byte, 512))
	case "dot", "doh":
		conn, err := tls.DialWithDialer(c.dialer(), "tcp", addr, &tls.Config{ServerName: "localhost"}) // untrusted
		if err == nil {
			conn.Close()
		}
	case "doh3", "doq":
		ua, _ := net.ResolveUDPAddr("udp", addr)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		alpn := "doq"
		if kind == "doh3" {
			alpn = "h3"
		}
		if conn, err := c.quicTransport().Dial(ctx, ua, &tls.Config{ServerName: "localhost", NextProtos: []string{alpn}}, nil); err == nil {
			conn.CloseWithError(0, "")
		}
	}
}

func (c *privacyClient) close() {
	for _, u := range c.quic {
		u.Close()
	}
}
