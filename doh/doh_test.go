package doh

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/resolver"
)

func TestProfilesOverEveryVersion(t *testing.T) { forEachEngine(t, testProfilesOverEveryVersion) }

func testProfilesOverEveryVersion(t *testing.T, engine string) {
	env := startServer(t, func(c *Config) { c.HTTP2, c.HTTP3, c.Addrs = engine, engine, append(c.Addrs, "127.0.0.3:0") })
	main, local := env.srv.TLSAddrs()[0], env.srv.TLSAddrs()[1]
	tests := []struct {
		name      string
		addr      netip.AddrPort
		host      string // URL host: SNI and Host header
		path      string
		qname     string
		profile   string
		wantA     string // "" → NXDOMAIN blocked with EDE 17
		wantCache string
	}{
		{"default path", main, "dns.test", "/dns-query", "a.test.", "unfiltered", "127.0.0.1", "max-age=300"},
		{"profile path", main, "dns.test", "/ads", "a.test.", "ads", "127.0.0.1", "max-age=300"},
		{"profile path with dns-query", main, "dns.test", "/ads/dns-query", "a.test.", "ads", "127.0.0.1", "max-age=300"},
		{"second profile path", main, "dns.test", "/child", "short.test.", "child", "127.0.0.2", "max-age=30"},
		{"host selects", main, "ads.dns.test", "/dns-query", "a.test.", "ads", "127.0.0.1", "max-age=300"},
		{"host selects and blocks", main, "ads.dns.test", "/dns-query", "ads.example.", "ads", "", "max-age=0"},
		{"path blocks", main, "dns.test", "/ads", "ads.example.", "ads", "", "max-age=0"},
		{"path beats host", main, "ads.dns.test", "/child", "a.test.", "child", "127.0.0.1", "max-age=300"},
		{"default does not block", main, "dns.test", "/dns-query", "ads.example.", "unfiltered", "192.0.2.1", "max-age=600"},
		{"local address selects", local, "127.0.0.3", "/dns-query", "ads.example.", "child", "", "max-age=0"},
	}
	for _, v := range []httpVersion{h1, h2, h3} {
		clients := map[netip.AddrPort]*http.Client{main: env.client(t, v, main), local: env.client(t, v, local)}
		for _, tt := range tests {
			for i, method := range []string{http.MethodGet, http.MethodPost} {
				t.Run(string(v)+"/"+tt.name+"/"+method, func(t *testing.T) {
					id := uint16(i * 4242) // GET uses ID 0, as RFC 8484 recommends
					wire := query(t, tt.qname, dns.TypeA, id, 0)
					resp, body := getOrPost(t, clients[tt.addr], method, hostPort(tt.host, tt.addr), tt.path, wire)
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("status %d: %s", resp.StatusCode, body)
					}
					if got := resp.ProtoMajor; strconv.Itoa(got) != string(v)[5:6] {
						t.Fatalf("served over HTTP/%d", got)
					}
					checkHeader(t, resp, "Content-Type", "application/dns-message")
					checkHeader(t, resp, "Cache-Control", tt.wantCache)
					wantAltSvc := `h3=":` + strconv.Itoa(int(tt.addr.Port())) + `"; ma=86400`
					if v == h3 {
						wantAltSvc = ""
					}
					checkHeader(t, resp, "Alt-Svc", wantAltSvc)
					m := unpack(t, body)
					if m.Id != id {
						t.Fatalf("ID %d, want %d echoed", m.Id, id)
					}
					if tt.wantA != "" {
						if got := firstA(m); got != tt.wantA {
							t.Fatalf("answer %q, want %s: %v", got, tt.wantA, m)
						}
					} else {
						ede, ok := resolver.EDE(m)
						if m.Rcode != dns.RcodeNameError || !ok || ede.InfoCode != resolver.EDEFiltered {
							t.Fatalf("want NXDOMAIN with EDE 17, got %v", m)
						}
					}
					last := env.fwd.lastRequest()
					if last.Profile.Name != tt.profile {
						t.Fatalf("profile %q, want %q", last.Profile.Name, tt.profile)
					}
					wantTransport := map[httpVersion]transport.Kind{h1: transport.DoH1, h2: transport.DoH2, h3: transport.DoH3}[v]
					if last.Transport != wantTransport || last.ServerName != tt.host {
						t.Fatalf("transport %v server name %q, want %v %q", last.Transport, last.ServerName, wantTransport, tt.host)
					}
					if !last.Client.Addr().IsLoopback() || last.Client.Port() == 0 {
						t.Fatalf("client %v, want the loopback socket address", last.Client)
					}
				})
			}
		}
	}
}

func TestAnswerHandling(t *testing.T) { forEachEngine(t, testAnswerHandling) }

func testAnswerHandling(t *testing.T, engine string) {
	env := startServer(t, onEngine(engine))
	addr := env.srv.TLSAddrs()[0]
	c := env.client(t, h2, addr)
	host := hostPort("dns.test", addr)
	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		wantRcode int
		wantCache string
		check     func(t *testing.T, m *dns.Msg)
	}{
		{"nxdomain is 200 cached for the SOA minimum", "nope.test.", dns.TypeA, dns.RcodeNameError, "max-age=120", nil},
		{"nodata cached for the SOA minimum", "a.test.", dns.TypeAAAA, dns.RcodeSuccess, "max-age=120", nil},
		{"servfail is 200 never stored", "fail.test.", dns.TypeA, dns.RcodeServerFailure, "no-store", nil},
		{"truncated answer replaced by servfail", "tc.test.", dns.TypeA, dns.RcodeServerFailure, "no-store", func(t *testing.T, m *dns.Msg) {
			if m.Truncated {
				t.Fatal("TC relayed")
			}
		}},
		{"large answer arrives whole", "big.test.", dns.TypeTXT, dns.RcodeSuccess, "max-age=60", func(t *testing.T, m *dns.Msg) {
			if len(m.Answer) != 40 || m.Truncated {
				t.Fatalf("%d records, TC=%v", len(m.Answer), m.Truncated)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := getOrPost(t, c, http.MethodGet, host, "/dns-query", query(t, tt.qname, tt.qtype, 0, 0))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			checkHeader(t, resp, "Cache-Control", tt.wantCache)
			m := unpack(t, body)
			if m.Rcode != tt.wantRcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.wantRcode])
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestPadding(t *testing.T) { forEachEngine(t, testPadding) }

func testPadding(t *testing.T, engine string) {
	env := startServer(t, onEngine(engine))
	addr := env.srv.TLSAddrs()[0]
	tests := []struct {
		name   string
		qname  string
		pad    int
		padded bool
	}{
		{"padded query small answer", "a.test.", 100, true},
		{"padded query large answer", "big.test.", 100, true},
		{"padded nxdomain", "nope.test.", 7, true},
		{"unpadded query", "a.test.", 0, false},
	}
	for _, v := range []httpVersion{h2, h3} {
		c := env.client(t, v, addr)
		for _, tt := range tests {
			t.Run(string(v)+"/"+tt.name, func(t *testing.T) {
				qtype := dns.TypeA
				if tt.qname == "big.test." {
					qtype = dns.TypeTXT
				}
				_, body := getOrPost(t, c, http.MethodPost, hostPort("dns.test", addr), "/dns-query", query(t, tt.qname, qtype, 0, tt.pad))
				m := unpack(t, body)
				hasPad := false
				if opt := m.IsEdns0(); opt != nil {
					for _, o := range opt.Option {
						hasPad = hasPad || o.Option() == dns.EDNS0PADDING
					}
				}
				if hasPad != tt.padded {
					t.Fatalf("padding option present=%v, want %v", hasPad, tt.padded)
				}
				if tt.padded && len(body)%resolver.ResponsePaddingBlock != 0 {
					t.Fatalf("padded answer is %d bytes, not a multiple of %d", len(body), resolver.ResponsePaddingBlock)
				}
			})
		}
	}
}

func checkHeader(t *testing.T, resp *http.Response, key, want string) {
	t.Helper()
	if got := resp.Header.Get(key); got != want {
		t.Fatalf("%s: %q, want %q", key, got, want)
	}
}

// checkDate fails unless resp carries a Date header within a few seconds of
// now (RFC 9110 §6.6.1: an origin server with a clock sends one).
func checkDate(t *testing.T, resp *http.Response) {
	t.Helper()
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil || time.Since(d).Abs() > 5*time.Second {
		t.Fatalf("Date %q: %v, want about now", resp.Header.Get("Date"), err)
	}
}
