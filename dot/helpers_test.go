package dot

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/frontendtest"
)

type fixture struct {
	*frontendtest.Env
	srv *Server
}

// start runs a DoT server on 127.0.0.1:0 with the test profiles and a handler
// forwarding to an in-test upstream.
func start(t testing.TB, mutate func(*Config)) *fixture {
	t.Helper()
	e, srv := frontendtest.Start(t, 200*time.Millisecond, config, mutate, New)
	return &fixture{Env: e, srv: srv}
}

// client is a raw DoT client: frames in, frames out, no hidden logic.
type client struct {
	t  *testing.T
	tc *tls.Conn
	br *bufio.Reader
}

func (f *fixture) dial(t *testing.T, sni string) *client {
	t.Helper()
	tc, err := tls.Dial("tcp", f.Addr, f.PKI.Client(sni, ALPN))
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
		b, err := frontend.Pack(m, nil)
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
	raw, err := frontend.ReadFrame(c.br, nil)
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

// config is a Config made of e's fields.
func config(e *frontendtest.Env) Config {
	return Config{Addrs: e.Addrs, TLS: e.TLS, Handler: e.Handler, Profiles: e.Profiles, Logger: e.Logger, Metrics: e.Reg}
}
