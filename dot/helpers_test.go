package dot

import (
	"bufio"
	"crypto/tls"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/dnsward/dnsward/dot/framing"
	"github.com/dnsward/dnsward/dot/framing/framingtest"
	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/testpki"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

type fixture struct {
	srv  *Server
	pki  *testpki.PKI
	addr string
	up   *framingtest.Upstream
	reg  *prometheus.Registry
}

// start runs a DoT server on 127.0.0.1:0 with the test profiles and a handler
// forwarding to an in-test upstream.
func start(t testing.TB, mutate func(*Config)) *fixture {
	t.Helper()
	pki := testpki.New(t, framingtest.Names...)
	up := framingtest.StartUpstream(t)
	reg := prometheus.NewRegistry()
	cfg := Config{
		Addrs:    []string{"127.0.0.1:0"},
		TLS:      pki.Server,
		Handler:  &framingtest.Handler{Upstream: up.Addr, Delay: 200 * time.Millisecond},
		Profiles: framingtest.Profiles(t),
		Logger:   slog.New(slog.DiscardHandler),
		Metrics:  reg,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	dnstest.Run(t, srv, err)
	return &fixture{srv: srv, pki: pki, addr: srv.Addrs()[0].String(), up: up, reg: reg}
}

// client is a raw DoT client: frames in, frames out, no hidden logic.
type client struct {
	t  *testing.T
	tc *tls.Conn
	br *bufio.Reader
}

func (f *fixture) dial(t *testing.T, sni string) *client {
	t.Helper()
	tc, err := tls.Dial("tcp", f.addr, f.pki.Client(sni, ALPN))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	if got := tc.ConnectionState().NegotiatedProtocol; got != ALPN {
		t.Fatalf("ALPN = %q, want %q", got, ALPN)
	}
	return &client{t: t, tc: tc, br: bufio.NewReader(tc)}
}

func (c *client) send(msgs ...*dns.Msg) {
	c.t.Helper()
	var out []byte
	for _, m := range msgs {
		b, err := framing.Pack(m, nil)
		if err != nil {
			c.t.Fatal(err)
		}
		out = append(out, b...)
	}
	if _, err := c.tc.Write(out); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) recv() *dns.Msg {
	c.t.Helper()
	c.tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	raw, err := framing.ReadFrame(c.br, nil)
	if err != nil {
		c.t.Fatalf("read answer: %v", err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		c.t.Fatalf("unpack answer: %v", err)
	}
	return m
}

// closed reports whether the server closes the connection within d.
func (c *client) closed(d time.Duration) bool {
	c.tc.SetReadDeadline(time.Now().Add(d))
	_, err := c.br.ReadByte()
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	return m
}

func newReader(tc *tls.Conn) *bufio.Reader { return bufio.NewReader(tc) }

// closedOrSilent reports whether nothing arrives within d.
func (c *client) closedOrSilent(d time.Duration) bool {
	c.tc.SetReadDeadline(time.Now().Add(d))
	_, err := c.br.ReadByte()
	return err != nil
}
