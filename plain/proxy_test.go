package plain

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/metricstest"
	"github.com/dnsward/dnsward/ratelimit"
	"github.com/dnsward/dnsward/resolver"
)

// seenBy records the client and profile of the last query by its name.
type seenBy struct {
	next resolver.Handler
	mu   sync.Mutex
	seen map[string]resolver.Request
}

func (s *seenBy) ServeDNS(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
	s.mu.Lock()
	s.seen[req.Msg.Question[0].Name] = *req
	s.mu.Unlock()
	return s.next.ServeDNS(ctx, req)
}

func (s *seenBy) get(name string) (resolver.Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.seen[name]
	return r, ok
}

// TestProxyProtocol: with ProxyProtocol, a trusted proxy's datagrams and
// TCP connections carry a PROXY v2 header whose client is the one the
// chain and the UDP rate limit see, and whose destination chooses the
// profile; answers go back to the proxy. A trusted proxy without a header
// and anybody else with one are refused and counted.
func TestProxyProtocol(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"www.example. 300 IN A 192.0.2.1"}, nil)
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	client, denied := netip.MustParseAddrPort("192.0.2.7:5300"), netip.MustParseAddrPort("192.0.2.66:5300")
	front := netip.MustParseAddrPort("198.51.100.5:53")
	hdr := func(src netip.AddrPort) *clientaddr.Header {
		return &clientaddr.Header{Command: clientaddr.Proxy, Source: src, Destination: front}
	}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		hdr     *clientaddr.Header
		want    string // the client the chain sees: "socket", a header's source, or "" (refused)
		profile string
		reason  string // counted rejection
	}{
		{"trusted proxy", loopback, hdr(client), client.String(), "front", ""},
		{"trusted health check (LOCAL)", loopback, &clientaddr.Header{Command: clientaddr.Local}, "socket", "default", ""},
		{"trusted proxy without header", loopback, nil, "", "", clientaddr.ReasonMissing},
		{"untrusted peer's header", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, hdr(client), "", "", clientaddr.ReasonUntrusted},
		{"untrusted peer without header", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, nil, "socket", "default", ""},
		{"denied client behind the proxy", loopback, hdr(denied), "", "", ""},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			if network == "tcp" && tt.hdr != nil && tt.hdr.Source == denied {
				continue // TCP queries are rate-limited by the chain's admission step, not here
			}
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				reg := prometheus.NewRegistry()
				var rec *seenBy
				s := startServer(t, auth, func(c *Config) {
					rec = &seenBy{next: c.Handler, seen: map[string]resolver.Request{}}
					c.Handler = rec
					c.ProxyProtocol, c.TrustedProxies, c.Registry = true, tt.trusted, reg
					profiles, err := resolver.NewProfiles("default", []*resolver.Profile{{Name: "default"}, {Name: "front", Addrs: []netip.Addr{front.Addr()}}})
					if err != nil {
						t.Fatal(err)
					}
					c.Profiles = profiles
					// No LimitUDP (as under XDP): a relayed client is still charged here.
					lim, err := ratelimit.New(ratelimit.Config{Limits: ratelimit.Limits{QPS: 100, Burst: 100, Deny: []netip.Prefix{netip.PrefixFrom(denied.Addr(), 32)}}})
					if err != nil {
						t.Fatal(err)
					}
					c.Limiter = lim
				})
				var addr string
				if network == "udp" {
					addr = s.UDPAddrs()[0].String()
				} else {
					addr = s.TCPAddrs()[0].String()
				}
				conn, err := net.Dial(network, addr)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				var prefix []byte
				if tt.hdr != nil {
					if prefix, err = tt.hdr.AppendBinary(nil); err != nil {
						t.Fatal(err)
					}
				}
				q := new(dns.Msg)
				q.SetQuestion("www.example.", dns.TypeA)
				wire, err := q.Pack()
				if err != nil {
					t.Fatal(err)
				}
				dc := &dns.Conn{Conn: conn}
				if network == "udp" {
					_, err = conn.Write(append(prefix, wire...)) // one datagram: header, then the query
				} else {
					if _, err = conn.Write(prefix); err == nil {
						err = dc.WriteMsg(q)
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				conn.SetReadDeadline(time.Now().Add(time.Second))
				resp, err := dc.ReadMsg()
				if tt.want == "" {
					if err == nil {
						t.Fatalf("refused query answered: %v", resp)
					}
				} else {
					if err != nil || len(resp.Answer) != 1 {
						t.Fatalf("no answer: %v, %v", resp, err)
					}
					req, _ := rec.get("www.example.")
					want := tt.want
					if want == "socket" {
						want = conn.LocalAddr().String()
					}
					if req.Client.String() != want || req.Profile.Name != tt.profile {
						t.Fatalf("chain saw client %v, profile %s; want %s, %s", req.Client, req.Profile.Name, want, tt.profile)
					}
				}
				for _, r := range []string{clientaddr.ReasonUntrusted, clientaddr.ReasonMissing, clientaddr.ReasonMalformed} {
					want := 0.0
					if r == tt.reason {
						want = 1
					}
					if got := metricstest.Value(t, reg, "dnsward_proxy_header_rejected_total", "transport", network, "reason", r); got != want {
						t.Errorf("rejected{%s,%s} = %v, want %v", network, r, got, want)
					}
				}
			})
		}
	}
}

// TestProxiedConnsPerClient: a client a trusted proxy relays over TCP is
// held to max_conns_per_prefix as itself, even when its address lies in
// trusted_proxies (an office behind dnsdist); the proxy's own connections
// (LOCAL headers) count only in the total.
func TestProxiedConnsPerClient(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"www.example. 300 IN A 192.0.2.1"}, nil)
	conns, err := ratelimit.NewConns(ratelimit.ConnsConfig{Limits: ratelimit.Limits{MaxConns: 1, MaxConnsTotal: 100}})
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, auth, func(c *Config) {
		c.ProxyProtocol, c.TrustedProxies = true, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		c.Conns = conns
	})
	// open sends h on a new connection and reports whether a query on it is answered.
	open := func(h clientaddr.Header) bool {
		conn, err := net.Dial("tcp", s.TCPAddrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		prefix, err := h.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		q := new(dns.Msg)
		q.SetQuestion("www.example.", dns.TypeA)
		dc := &dns.Conn{Conn: conn}
		if _, err := conn.Write(prefix); err != nil {
			return false
		}
		if err := dc.WriteMsg(q); err != nil {
			return false
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		resp, err := dc.ReadMsg()
		return err == nil && len(resp.Answer) == 1
	}
	office := func(port uint16) clientaddr.Header {
		return clientaddr.Header{Command: clientaddr.Proxy, Source: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.9"), port),
			Destination: netip.MustParseAddrPort("127.0.0.1:53")}
	}
	if !open(clientaddr.Header{Command: clientaddr.Local}) || !open(clientaddr.Header{Command: clientaddr.Local}) {
		t.Fatal("the proxy's own connections were refused: they count only in the total")
	}
	if !open(office(5300)) {
		t.Fatal("the relayed client's first connection was refused")
	}
	if open(office(5301)) {
		t.Fatal("the relayed client's second connection was admitted past max_conns_per_prefix 1")
	}
}
