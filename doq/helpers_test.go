package doq

import (
	"context"
	"crypto/tls"
	"io"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/frontendtest"
)

type fixture struct {
	*frontendtest.Env
	srv *Server
}

// start runs a DoQ server on 127.0.0.1:0 with the test profiles and a handler
// forwarding to an in-test upstream.
func start(t testing.TB, mutate func(*Config)) *fixture {
	t.Helper()
	e, srv := frontendtest.Start(t, 100*time.Millisecond, config, mutate, New)
	return &fixture{Env: e, srv: srv}
}

func (f *fixture) clientTLS(sni string) *tls.Config { return f.PKI.Client(sni, ALPN) }

func (f *fixture) dial(t testing.TB, sni string) *quic.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := quic.DialAddr(ctx, f.Addr, f.clientTLS(sni), &quic.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseWithError(NoError, "") })
	return c
}

// exchange sends raw (already framed or not, as given) on a new stream,
// closes it and returns what the server sent back.
func exchangeRaw(c *quic.Conn, raw []byte, fin bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	str, err := c.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	str.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := str.Write(raw); err != nil {
		return nil, err
	}
	if fin {
		str.Close()
	}
	return io.ReadAll(str)
}

// exchange sends one query the RFC 9250 way and parses the answer.
func exchange(t testing.TB, c *quic.Conn, q *dns.Msg) *dns.Msg {
	t.Helper()
	frame, err := frontend.Pack(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exchangeRaw(c, frame, true)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if len(out) < 2 || int(out[0])<<8|int(out[1]) != len(out)-2 {
		t.Fatalf("answer framing: %d bytes, prefix %x", len(out), out[:min(2, len(out))])
	}
	m := new(dns.Msg)
	if err := m.Unpack(out[2:]); err != nil {
		t.Fatal(err)
	}
	return m
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.Id = 0
	return m
}

// config is a Config made of e's fields.
func config(e *frontendtest.Env) Config {
	return Config{Addrs: e.Addrs, TLS: e.TLS, Handler: e.Handler, Profiles: e.Profiles, Logger: e.Logger, Metrics: e.Reg}
}
