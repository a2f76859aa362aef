package doh

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/testpki"
	"github.com/dnsward/dnsward/resolver"
	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"
)

// startAuthority serves a small zone over UDP and TCP on loopback and
// returns its address. Names: a.test (A 127.0.0.1, TTL 300), short.test (A,
// TTL 30), ads.example (A 192.0.2.1), big.test (TXT too large for UDP),
// fail.test (SERVFAIL); anything else is NXDOMAIN with the zone's SOA
// (minimum 120 s).
func startAuthority(t testing.TB) string {
	t.Helper()
	zone := []string{
		"test. 3600 IN SOA ns.test. admin.test. 1 7200 900 1209600 120",
		"a.test. 300 IN A 127.0.0.1",
		"short.test. 30 IN A 127.0.0.2",
		"ads.example. 600 IN A 192.0.2.1",
	}
	for i := range 40 {
		zone = append(zone, "big.test. 60 IN TXT \"record "+strings.Repeat("x", 20)+string(rune('a'+i%26))+"\"")
	}
	auth := dnstest.StartAuthority(t, zone, nil)
	auth.SetRcode("fail.test.", dns.RcodeServerFailure)
	return auth.Addr
}

// blockList is a resolver.Policy blocking a fixed set of names.
type blockList map[string]resolver.Verdict

func (b blockList) Check(name string, _ uint16) resolver.Verdict { return b[name] }

// forwarder is the test's resolver.Handler: the profile's policy, then the
// authority over UDP with a TCP retry on truncation. It records the last
// request it saw. "tc.test." returns a truncated answer, as a buggy chain might.
type forwarder struct {
	upstream string
	mu       sync.Mutex
	last     resolver.Request
	calls    int
}

func (f *forwarder) ServeDNS(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
	f.mu.Lock()
	f.last, f.calls = *req, f.calls+1
	f.mu.Unlock()
	q := req.Msg
	if len(q.Question) != 1 {
		return resolver.NewReply(q, dns.RcodeFormatError), nil
	}
	name := strings.ToLower(q.Question[0].Name)
	if name == "tc.test." {
		m := resolver.NewReply(q, dns.RcodeSuccess)
		m.Truncated = true
		return m, nil
	}
	if req.Profile.Policy != nil {
		if v := req.Profile.Policy.Check(name, q.Question[0].Qtype); v.Action == resolver.ActionBlock {
			m := resolver.NewReply(q, dns.RcodeNameError)
			resolver.AddEDE(q, m, v.EDE, v.Category)
			return m, nil
		}
	}
	up := q.Copy()
	up.Id = dns.Id()
	up.RecursionDesired = true
	for _, network := range []string{"udp", "tcp"} {
		resp, _, err := (&dns.Client{Net: network, Timeout: 2 * time.Second}).ExchangeContext(ctx, up, f.upstream)
		if err != nil {
			return nil, err
		}
		if !resp.Truncated {
			resp.Id, resp.RecursionAvailable = q.Id, true
			return resp, nil
		}
	}
	return nil, context.DeadlineExceeded
}

func (f *forwarder) lastRequest() resolver.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// testProfiles: "unfiltered" (default), "ads" (/ads, ads.dns.test, blocks
// ads.example with EDE 17) and "child" (/child, local address 127.0.0.3).
func testProfiles(t testing.TB) *resolver.Profiles {
	t.Helper()
	ads := blockList{"ads.example.": {Action: resolver.ActionBlock, Category: "ads", EDE: resolver.EDEFiltered}}
	ps, err := resolver.NewProfiles("unfiltered", []*resolver.Profile{
		{Name: "unfiltered"},
		{Name: "ads", Paths: []string{"/ads"}, Hosts: []string{"ads.dns.test"}, Policy: ads},
		{Name: "child", Paths: []string{"/child"}, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.3")}, Policy: ads},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// testEnv is a running Server with its authority, forwarder and PKI.
type testEnv struct {
	srv *Server
	fwd *forwarder
	pki *testpki.PKI
}

// startServer starts a Server on loopback; mod adjusts the config first.
func startServer(t testing.TB, mod func(*Config)) *testEnv {
	t.Helper()
	pki := testpki.New(t, "dns.test", "ads.dns.test", "localhost", "127.0.0.1", "127.0.0.3", "::1")
	fwd := &forwarder{upstream: startAuthority(t)}
	cfg := Config{
		Addrs:          []string{"127.0.0.1:0"},
		PlainAddrs:     []string{"127.0.0.1:0"},
		TLS:            pki.Server,
		Handler:        fwd,
		Profiles:       testProfiles(t),
		MaxHeaderBytes: 128 << 10,
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	dnstest.Run(t, srv, err)
	return &testEnv{srv: srv, fwd: fwd, pki: pki}
}

// forEachEngine runs test once per engine: builtin and stdlib, each for
// both HTTP/2 and HTTP/3 (Config.HTTP2, Config.HTTP3).
func forEachEngine(t *testing.T, test func(t *testing.T, engine string)) {
	for _, e := range []string{HTTP2Builtin, HTTP2Stdlib} {
		t.Run(e, func(t *testing.T) { test(t, e) })
	}
}

// onEngine is a startServer config change that picks the HTTP/2 and HTTP/3 engines.
func onEngine(engine string) func(*Config) {
	return func(c *Config) { c.HTTP2, c.HTTP3 = engine, engine }
}

// httpVersion names the client kinds the tests use.
type httpVersion string

const (
	h1 httpVersion = "HTTP/1.1"
	h2 httpVersion = "HTTP/2"
	h3 httpVersion = "HTTP/3"
)

// client returns an HTTP client of the given version that sends every
// request, whatever its URL host, to addr (so Host and SNI can vary).
func (e *testEnv) client(t testing.TB, v httpVersion, addr netip.AddrPort) *http.Client {
	t.Helper()
	tlsConf := &tls.Config{RootCAs: e.pki.Pool}
	var rt http.RoundTripper
	switch v {
	case h1:
		rt = &http.Transport{
			TLSClientConfig: tlsConf,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr.String())
			},
			TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}, // no HTTP/2
		}
	case h2:
		rt = &http2.Transport{
			TLSClientConfig: tlsConf,
			DialTLSContext: func(ctx context.Context, network, _ string, cfg *tls.Config) (net.Conn, error) {
				return (&tls.Dialer{Config: cfg}).DialContext(ctx, network, addr.String())
			},
		}
	case h3:
		rt = &http3.Transport{
			TLSClientConfig: tlsConf,
			Dial: func(ctx context.Context, _ string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
				return quic.DialAddrEarly(ctx, addr.String(), tlsCfg, cfg)
			},
		}
	}
	t.Cleanup(func() {
		if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
		if c, ok := rt.(*http3.Transport); ok {
			_ = c.Close()
		}
	})
	return &http.Client{Transport: rt, Timeout: 10 * time.Second}
}
