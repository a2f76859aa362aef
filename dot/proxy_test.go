package dot

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/dnsward/dnsward/internal/frontendtest"

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
	f := start(t, func(c *Config) {
		c.ProxyProtocol = true
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		c.Conns = frontendtest.Conns(t, 1)
	})
	hdr := func(client string) *clientaddr.Header {
		return &clientaddr.Header{Command: clientaddr.Proxy, Source: netip.MustParseAddrPort(client),
			Destination: netip.MustParseAddrPort("198.51.100.1:853")}
	}
	for _, client := range []string{"192.0.2.7:1000", "192.0.2.8:1000"} {
		if _, _, err := f.dialProxied(t, hdr(client)); err != nil {
			t.Fatalf("first connection of %s: %v", client, err)
		}
	}
	if _, _, err := f.dialProxied(t, hdr("192.0.2.7:1001")); err == nil {
		t.Fatal("second connection of 192.0.2.7 accepted with a bound of 1")
	}
}
