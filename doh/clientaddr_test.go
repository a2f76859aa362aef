package doh

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/frontendtest"
	"github.com/quic-go/quic-go"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/clientaddr"
)

func TestClientAddress(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		pp      bool   // Config.ProxyProtocol
		proxy   bool   // send a PROXY v2 header naming 192.0.2.7:4242
		xff     string // X-Forwarded-For to send
		want    string // "" → the socket address
	}{
		{"xff from trusted proxy", loopback, false, false, "198.51.100.9", "198.51.100.9:0"},
		{"xff from untrusted peer ignored", nil, false, false, "198.51.100.9", ""},
		{"proxy v2 from trusted proxy", loopback, true, true, "", "192.0.2.7:4242"},
		{"proxy v2 then xff from the real client ignored", loopback, true, true, "198.51.100.9", "192.0.2.7:4242"},
		{"proxy v2 on, untrusted peer without header", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, true, false, "", ""},
	}
	for _, tt := range tests {
		for _, tlsListener := range []bool{true, false} {
			name := tt.name + map[bool]string{true: "/tls", false: "/plain"}[tlsListener]
			t.Run(name, func(t *testing.T) {
				env := startServer(t, func(c *Config) {
					c.TrustedProxies = tt.trusted
					c.ProxyProtocol = tt.pp
				})
				addr := env.srv.PlainAddrs()[0]
				if tlsListener {
					addr = env.srv.TLSAddrs()[0]
				}
				var local net.Addr
				dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, network, addr.String())
					if err != nil {
						return nil, err
					}
					local = c.LocalAddr()
					if tt.proxy {
						hdr, err := clientaddr.Header{Command: clientaddr.Proxy, Source: netip.MustParseAddrPort("192.0.2.7:4242"),
							Destination: addr}.AppendBinary(nil)
						if err != nil {
							return nil, err
						}
						if _, err := c.Write(hdr); err != nil {
							return nil, err
						}
					}
					return c, nil
				}
				client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
					DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: env.pki.Pool, ServerName: "dns.test"},
				}}
				defer client.CloseIdleConnections()
				scheme := map[bool]string{true: "https", false: "http"}[tlsListener]
				hdr := map[string]string{}
				if tt.xff != "" {
					hdr["X-Forwarded-For"] = tt.xff
				}
				resp, body := exchange(t, client, http.MethodGet, dohURL(scheme, addr.String(), "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0)), nil, hdr)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				want := tt.want
				if want == "" {
					want = local.String()
				}
				if got := env.fwd.lastRequest().Client.String(); got != want {
					t.Fatalf("client %s, want %s", got, want)
				}
			})
		}
	}
}

func TestConnsPerClient(t *testing.T) {
	env := startServer(t, func(c *Config) { c.Conns = frontendtest.Conns(t, 2) })
	addr := env.srv.TLSAddrs()[0]
	conf := &tls.Config{RootCAs: env.pki.Pool, ServerName: "dns.test", NextProtos: []string{"h2"}}
	dial := func() (*tls.Conn, error) {
		d := &tls.Dialer{Config: conf, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
		c, err := d.DialContext(context.Background(), "tcp", addr.String())
		if err != nil {
			return nil, err
		}
		return c.(*tls.Conn), nil
	}
	var open []*tls.Conn
	defer func() {
		for _, c := range open {
			_ = c.Close()
		}
	}()
	for i := range 2 {
		c, err := dial()
		if err != nil {
			t.Fatalf("connection %d within the bound refused: %v", i+1, err)
		}
		open = append(open, c)
	}
	if c, err := dial(); err == nil {
		_ = c.Close()
		t.Fatal("third connection from the same client accepted")
	}
	_ = open[0].Close()
	open = open[1:]
	// The freed slot is released once the server notices the close.
	var err error
	for range 50 {
		var c *tls.Conn
		if c, err = dial(); err == nil {
			open = append(open, c)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("slot not released after close: %v", err)
	}
}

// TestConnsPerClientQUIC: over HTTP/3 the connection bound applies when the
// first packet arrives, so a refused client gets no handshake at all, and
// TCP and QUIC connections share the one bound.
func TestConnsPerClientQUIC(t *testing.T) { forEachEngine(t, testConnsPerClientQUIC) }

func testConnsPerClientQUIC(t *testing.T, engine string) {
	env := startServer(t, func(c *Config) {
		onEngine(engine)(c)
		c.Conns = frontendtest.Conns(t, 2)
	})
	addr := env.srv.TLSAddrs()[0]
	tc, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: env.pki.Pool, ServerName: "dns.test", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	dial := func() (*quic.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return quic.DialAddr(ctx, addr.String(), &tls.Config{RootCAs: env.pki.Pool, ServerName: "dns.test", NextProtos: []string{"h3"}}, nil)
	}
	qc, err := dial()
	if err != nil {
		t.Fatalf("second connection (QUIC) within the bound refused: %v", err)
	}
	defer qc.CloseWithError(0, "")
	if c, err := dial(); err == nil {
		c.CloseWithError(0, "")
		t.Fatal("third connection (QUIC) of the client completed its handshake")
	}
}

// TestConnsPerRelayedClient: a client a trusted proxy relays with a PROXY
// v2 header is held to the per-client connection bound as itself, even
// when its address lies in trusted_proxies; the proxy's own connections
// (LOCAL headers) count only in the total.
func TestConnsPerRelayedClient(t *testing.T) {
	env := startServer(t, func(c *Config) {
		c.Conns = frontendtest.Conns(t, 1)
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		c.ProxyProtocol = true
	})
	addr := env.srv.TLSAddrs()[0]
	// dial opens a connection carrying h and reports whether its TLS
	// handshake completes (a refused connection is closed at accept).
	dial := func(h clientaddr.Header) bool {
		c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		hdr, err := h.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(hdr); err != nil {
			return false
		}
		tc := tls.Client(c, &tls.Config{RootCAs: env.pki.Pool, ServerName: "dns.test", NextProtos: []string{"h2"}})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		return tc.Handshake() == nil
	}
	local := clientaddr.Header{Command: clientaddr.Local}
	relayed := func(port uint16) clientaddr.Header {
		return clientaddr.Header{Command: clientaddr.Proxy, Source: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.9"), port), Destination: addr}
	}
	if !dial(local) || !dial(local) {
		t.Fatal("the proxy's own connections were refused: they count only in the total")
	}
	if !dial(relayed(4242)) {
		t.Fatal("the relayed client's first connection was refused")
	}
	if dial(relayed(4243)) {
		t.Fatal("the relayed client's second connection was admitted past the per-client bound of 1")
	}
}
