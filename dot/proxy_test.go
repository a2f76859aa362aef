package dot

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/frontendtest"
	"github.com/dnsward/dnsward/internal/metricstest"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/resolver"
)

// clientRecorder remembers the Request.Client of every query by its name.
type clientRecorder struct {
	next resolver.Handler
	mu   sync.Mutex
	seen map[string]netip.AddrPort
}

func (r *clientRecorder) ServeDNS(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
	r.mu.Lock()
	r.seen[req.Msg.Question[0].Name] = req.Client
	r.mu.Unlock()
	return r.next.ServeDNS(ctx, req)
}

func (r *clientRecorder) client(name string) netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[name]
}

// dialProxied opens a TCP connection, sends hdr (if any) and then speaks TLS.
func (f *fixture) dialProxied(t *testing.T, hdr *clientaddr.Header) (*client, netip.AddrPort, error) {
	t.Helper()
	nc, err := net.Dial("tcp", f.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if hdr != nil {
		b, err := hdr.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	tc := tls.Client(nc, f.PKI.Client("dns.test", ALPN))
	if err := tc.Handshake(); err != nil {
		return nil, netip.AddrPort{}, err
	}
	return &client{t: t, tc: tc, br: bufio.NewReader(tc)}, nc.LocalAddr().(*net.TCPAddr).AddrPort(), nil
}

// hdr is a trusted proxy's PROXY v2 header naming client.
func hdr(client string) *clientaddr.Header {
	return &clientaddr.Header{Command: clientaddr.Proxy, Source: netip.MustParseAddrPort(client),
		Destination: netip.MustParseAddrPort("198.51.100.1:853")}
}

// startProxyBound starts a server that reads PROXY v2 from loopback and
// admits one connection per client.
func startProxyBound(t *testing.T) *fixture {
	return start(t, func(c *Config) {
		c.ProxyProtocol = true
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		c.Conns = frontendtest.Conns(t, 1)
	})
}

// TestProxyProtocol: with ProxyProtocol, a trusted proxy's PROXY v2 header
// names the client the handler sees; untrusted peers, LOCAL headers and
// servers without the option keep the socket address.
func TestProxyProtocol(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	real := netip.MustParseAddrPort("192.0.2.7:4242")
	for _, tc := range []struct {
		name    string
		pp      bool
		trusted []netip.Prefix
		hdr     *clientaddr.Header
		header  bool // want the header's source, else the socket address
	}{
		{"trusted proxy", true, loopback, &clientaddr.Header{Command: clientaddr.Proxy, Source: real}, true},
		{"trusted proxy, IPv6 client", true, loopback, &clientaddr.Header{Command: clientaddr.Proxy, Source: netip.MustParseAddrPort("[2001:db8::7]:53000")}, true},
		{"trusted proxy health check (LOCAL)", true, loopback, &clientaddr.Header{Command: clientaddr.Local}, false},
		{"untrusted peer without header", true, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, nil, false},
		{"option off", false, nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec *clientRecorder
			f := start(t, func(c *Config) {
				c.ProxyProtocol, c.TrustedProxies = tc.pp, tc.trusted
				rec = &clientRecorder{next: c.Handler, seen: map[string]netip.AddrPort{}}
				c.Handler = rec
			})
			if tc.hdr != nil && tc.hdr.Command == clientaddr.Proxy {
				tc.hdr.Destination = netip.MustParseAddrPort("198.51.100.1:853")
				if tc.hdr.Source.Addr().Is6() {
					tc.hdr.Destination = netip.MustParseAddrPort("[2001:db8::1]:853")
				}
			}
			c, local, err := f.dialProxied(t, tc.hdr)
			if err != nil {
				t.Fatal(err)
			}
			c.send(query("who.example.", dns.TypeA))
			if a := c.recv(); a.Rcode != dns.RcodeSuccess {
				t.Fatalf("rcode %s", dns.RcodeToString[a.Rcode])
			}
			want := local
			if tc.header {
				want = tc.hdr.Source
			}
			if got := rec.client("who.example."); got != want {
				t.Fatalf("Request.Client = %v, want %v", got, want)
			}
		})
	}
}

// TestProxyProtocolConnLimit: the connection bound counts the clients a trusted
// proxy names, not the proxy.
func TestProxyProtocolConnLimit(t *testing.T) {
	f := startProxyBound(t)
	for _, client := range []string{"192.0.2.7:1000", "192.0.2.8:1000"} {
		if _, _, err := f.dialProxied(t, hdr(client)); err != nil {
			t.Fatalf("first connection of %s: %v", client, err)
		}
	}
	if _, _, err := f.dialProxied(t, hdr("192.0.2.7:1001")); err == nil {
		t.Fatal("second connection of 192.0.2.7 accepted with a bound of 1")
	}
}

// dialInside speaks TLS to f, then sends before (before the handshake) and
// inside (as the first bytes inside TLS, as dnsdist does) when set.
func (f *fixture) dialInside(t *testing.T, before, inside *clientaddr.Header) *client {
	t.Helper()
	c, _, err := f.dialProxied(t, before)
	if err != nil {
		t.Fatal(err)
	}
	if inside != nil {
		b, err := inside.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.tc.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestProxyProtocolInsideTLS: a trusted proxy that sends no header before
// the handshake must send it as the first bytes inside TLS; its client is
// then the one the handler sees. A trusted proxy with no header at all, a
// second header, and a header inside TLS from anyone else close the
// connection, counted by reason.
func TestProxyProtocolInsideTLS(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	for _, tc := range []struct {
		name           string
		trusted        []netip.Prefix
		before, inside *clientaddr.Header
		want           string // the client the handler sees; "" → closed
		reason         string
	}{
		{"header inside TLS", loopback, nil, hdr("192.0.2.7:4242"), "192.0.2.7:4242", ""},
		{"LOCAL inside TLS", loopback, nil, &clientaddr.Header{Command: clientaddr.Local}, "socket", ""},
		{"trusted proxy without any header", loopback, nil, nil, "", clientaddr.ReasonMissing},
		{"a second header inside TLS", loopback, hdr("192.0.2.7:4242"), hdr("192.0.2.8:4242"), "", clientaddr.ReasonUntrusted},
		{"untrusted peer's header inside TLS", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, nil, hdr("192.0.2.7:4242"), "", clientaddr.ReasonUntrusted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec *clientRecorder
			f := start(t, func(c *Config) {
				c.ProxyProtocol, c.TrustedProxies = true, tc.trusted
				rec = &clientRecorder{next: c.Handler, seen: map[string]netip.AddrPort{}}
				c.Handler = rec
			})
			c := f.dialInside(t, tc.before, tc.inside)
			c.send(query("who.example.", dns.TypeA))
			if tc.want == "" {
				if !c.closed(5 * time.Second) {
					t.Fatal("connection not closed")
				}
			} else {
				if a := c.recv(); a.Rcode != dns.RcodeSuccess {
					t.Fatalf("rcode %s", dns.RcodeToString[a.Rcode])
				}
				want := tc.want
				if want == "socket" {
					want = c.tc.LocalAddr().String()
				}
				if got := rec.client("who.example."); got.String() != want {
					t.Fatalf("Request.Client = %v, want %v", got, want)
				}
			}
			for _, r := range []string{clientaddr.ReasonUntrusted, clientaddr.ReasonMissing, clientaddr.ReasonMalformed} {
				want := 0.0
				if r == tc.reason {
					want = 1
				}
				if got := metricstest.Value(t, f.Reg, "dnsward_proxy_header_rejected_total", "transport", "dot", "reason", r); got != want {
					t.Errorf("rejected{%s} = %v, want %v", r, got, want)
				}
			}
		})
	}
}

// TestProxyProtocolInsideConnLimit: a connection whose header comes inside
// TLS is admitted for the client it names, not for the proxy.
func TestProxyProtocolInsideConnLimit(t *testing.T) {
	f := startProxyBound(t)
	for _, client := range []string{"192.0.2.7:1000", "192.0.2.8:1000"} {
		c := f.dialInside(t, nil, hdr(client))
		c.send(query("who.example.", dns.TypeA))
		if a := c.recv(); a.Rcode != dns.RcodeSuccess {
			t.Fatalf("%s: rcode %s", client, dns.RcodeToString[a.Rcode])
		}
	}
	c := f.dialInside(t, nil, hdr("192.0.2.7:1001"))
	c.send(query("who.example.", dns.TypeA))
	if !c.closed(5 * time.Second) {
		t.Fatal("second connection of 192.0.2.7 served with a bound of 1")
	}
}
