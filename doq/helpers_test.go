package doq

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/dnsward/dnsward/dot/framing"
	"github.com/dnsward/dnsward/dot/framing/framingtest"
	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/testpki"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"
)

type fixture struct {
	srv  *Server
	pki  *testpki.PKI
	addr string
	reg  *prometheus.Registry
}

// start runs a DoQ server on 127.0.0.1:0 with the test profiles and a handler
// forwarding to an in-test upstream.
func start(t testing.TB, mutate func(*Config)) *fixture {
	t.Helper()
	pki := testpki.New(t, framingtest.Names...)
	up := framingtest.StartUpstream(t)
	reg := prometheus.NewRegistry()
	cfg := Config{
		Addrs:    []string{"127.0.0.1:0"},
		TLS:      pki.Server,
		Handler:  &framingtest.Handler{Upstream: up.Addr, Delay: 100 * time.Millisecond},
		Profiles: framingtest.Profiles(t),
		Logger:   slog.New(slog.DiscardHandler),
		Metrics:  reg,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	dnstest.Run(t, srv, err)
	return &fixture{srv: srv, pki: pki, addr: srv.Addrs()[0].String(), reg: reg}
}

func (f *fixture) clientTLS(sni string) *tls.Config { return f.pki.Client(sni, ALPN) }

func (f *fixture) dial(t testing.TB, sni string) *quic.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := quic.DialAddr(ctx, f.addr, f.clientTLS(sni), &quic.Config{})
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
	frame, err := framing.Pack(q, nil)
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
