package doh

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dnsward/dnsward/resolver"
	"github.com/miekg/dns"
)

// staticAnswer answers every query with one A record, like a cache hit.
var staticAnswer = resolver.HandlerFunc(func(_ context.Context, req *resolver.Request) (*dns.Msg, error) {
	m := resolver.NewReply(req.Msg, dns.RcodeSuccess)
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: req.Msg.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
		A: net.IPv4(127, 0, 0, 1)}}
	return m, nil
})

// BenchmarkRoundTrip measures one GET /dns-query round trip on loopback per
// engine (HTTP/2 and HTTP/3, Config.HTTP2 and HTTP3) and HTTP version
// (client and server in this process, so allocs/op counts both; the client
// is the same for both engines), beside plain DNS over UDP with miekg/dns as
// the baseline.
func BenchmarkRoundTrip(b *testing.B) {
	for _, e := range []string{HTTP2Builtin, HTTP2Stdlib} {
		env := startServer(b, func(c *Config) { c.Handler, c.HTTP2, c.HTTP3 = staticAnswer, e, e })
		addr := env.srv.TLSAddrs()[0]
		url := dohURL("https", hostPort("dns.test", addr), "/dns-query", query(b, "a.test.", dns.TypeA, 0, 0))
		for _, v := range []httpVersion{h1, h2, h3} {
			b.Run(e+"/"+string(v), func(b *testing.B) {
				c := env.client(b, v, addr)
				get := func() {
					resp, err := c.Get(url)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatal(resp.Status)
					}
				}
				get() // connect outside the timed loop
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					get()
				}
			})
		}
	}
	b.Run("udp-baseline", func(b *testing.B) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
			m, _ := staticAnswer.ServeDNS(context.Background(), &resolver.Request{Msg: q})
			_ = w.WriteMsg(m)
		})}
		go func() { _ = srv.ActivateAndServe() }()
		defer srv.Shutdown()
		conn, err := (&dns.Client{Timeout: 2 * time.Second}).Dial(pc.LocalAddr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		q := new(dns.Msg).SetQuestion("a.test.", dns.TypeA)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := conn.WriteMsg(q); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.ReadMsg(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHandler measures the server side alone: decode, resolve (static),
// pack and write, for GET and POST.
func BenchmarkHandler(b *testing.B) {
	srv, err := New(Config{Handler: staticAnswer, Profiles: testProfiles(b)})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	wire := query(b, "a.test.", dns.TypeA, 0, 0)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		b.Run(method, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var req *http.Request
				if method == http.MethodGet {
					req = httptest.NewRequest(method, dohURL("https", "dns.test", "/dns-query", wire), nil)
				} else {
					req = httptest.NewRequest(method, "https://dns.test/dns-query", bytes.NewReader(wire))
					req.Header.Set("Content-Type", mediaDNSMessage)
				}
				req.TLS = &tls.ConnectionState{ServerName: "dns.test"}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
