package dot

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/dnstest"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/frontendtest"
	"github.com/dnsward/dnsward/resolver"
)

// TestKdigProfiles asks kdig (verifying the chain against the root only) which
// profile each server name selects.
func TestKdigProfiles(t *testing.T) {
	dnstest.NeedBinary(t, "kdig", "knot-dnsutils")
	f := start(t, nil)
	_, port, _ := net.SplitHostPort(f.Addr)
	for _, tc := range []struct {
		sni, want string
	}{
		{"dns.test", "open"},
		{"child.dns.test", "child"},
		{"ads.dns.test", "ads"},
		{"other.test", "open"},                  // unknown SNI → default
		{"annas-phone.child.dns.test", "child"}, // a client ID under a profile host
	} {
		t.Run(tc.sni, func(t *testing.T) {
			out, err := exec.Command("kdig", "+tls", "+tls-hostname="+tc.sni, "+tls-ca="+f.PKI.CAFile,
				"@127.0.0.1", "-p", port, "+short", "+time=5", "+retry=0", "whoami.test", "TXT").CombinedOutput()
			if err != nil {
				t.Fatalf("kdig: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != `"`+tc.want+`"` {
				t.Fatalf("profile = %s, want %q", got, tc.want)
			}
		})
	}
	t.Run("malformed client ID", func(t *testing.T) {
		out, err := exec.Command("kdig", "+tls", "+tls-hostname=annas_phone.child.dns.test", "+tls-ca="+f.PKI.CAFile,
			"@127.0.0.1", "-p", port, "+short", "+time=5", "+retry=0", "whoami.test", "TXT").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "handshake failed") {
			t.Fatalf("kdig with a malformed client ID in the TLS name: %v\n%s", err, out)
		}
	})
	t.Run("name not in certificate", func(t *testing.T) {
		out, err := exec.Command("kdig", "+tls", "+tls-hostname=evil.example", "+tls-ca="+f.PKI.CAFile,
			"@127.0.0.1", "-p", port, "+short", "+time=5", "+retry=0", "whoami.test", "TXT").CombinedOutput()
		if err == nil && strings.Contains(string(out), `"open"`) {
			t.Fatalf("kdig accepted a certificate not valid for the name:\n%s", out)
		}
	})
}

// TestPipelinedOutOfOrder sends 200 queries in one write; slow names are
// answered last, every answer matches its query.
func TestPipelinedOutOfOrder(t *testing.T) {
	f := start(t, func(c *Config) { c.MaxInflightPerConn = 256 })
	c := f.dial(t, "dns.test")
	const n = 200
	names := map[uint16]string{}
	var qs []*dns.Msg
	for i := range n {
		name := fmt.Sprintf("q%d.example.", i)
		if i%10 == 0 {
			name = fmt.Sprintf("slow%d.example.", i)
		}
		q := query(name, dns.TypeA)
		q.Id = uint16(i + 1)
		names[q.Id] = name
		qs = append(qs, q)
	}
	c.send(qs...)
	var order []uint16
	for range n {
		a := c.recv()
		name, ok := names[a.Id]
		if !ok {
			t.Fatalf("answer with unknown or repeated ID %d", a.Id)
		}
		delete(names, a.Id)
		if len(a.Answer) != 1 || a.Answer[0].(*dns.A).A.String() != frontendtest.AddrFor(name).String() {
			t.Fatalf("answer for %s: %v", name, a.Answer)
		}
		order = append(order, a.Id)
	}
	if order[0] == 1 {
		t.Fatalf("first answer is the (slow) first query: answers were not reordered")
	}
}

func TestKeepaliveAndIdleTimeout(t *testing.T) {
	f := start(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	c := f.dial(t, "dns.test")
	q := query("a.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE})
	c.send(q)
	a := c.recv()
	var got *dns.EDNS0_TCP_KEEPALIVE
	if opt := a.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if k, ok := o.(*dns.EDNS0_TCP_KEEPALIVE); ok {
				got = k
			}
		}
	}
	if got == nil || got.Timeout != 3 {
		t.Fatalf("keepalive option = %+v, want timeout 3 (300 ms)", got)
	}
	if !c.closed(3 * time.Second) {
		t.Fatal("idle connection not closed")
	}

	plain := f.dial(t, "dns.test")
	plain.send(query("b.example.", dns.TypeA))
	if a := plain.recv(); frontend.HasKeepalive(a) {
		t.Fatal("keepalive advertised to a query that did not carry the option")
	}
}

// TestHalfOpenReleased: clients that stall in the handshake or mid-frame and
// never close do not hold server goroutines beyond the timeouts.
func TestHalfOpenReleased(t *testing.T) {
	f := start(t, func(c *Config) {
		c.IdleTimeout = 300 * time.Millisecond
		c.HandshakeTimeout = 300 * time.Millisecond
	})
	before := runtime.NumGoroutine()
	var keep []net.Conn
	for range 5 {
		nc, err := net.Dial("tcp", f.Addr) // never handshakes
		if err != nil {
			t.Fatal(err)
		}
		keep = append(keep, nc)
		c := f.dial(t, "dns.test")
		c.tc.Write([]byte{0, 40, 1, 2}) // a frame that never completes
		keep = append(keep, c.tc)
	}
	defer func() {
		for _, c := range keep {
			c.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines, %d before the stalled clients\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestFraming(t *testing.T) {
	f := start(t, nil)
	response := query("r.example.", dns.TypeA)
	response.Response = true
	packedResponse, _ := response.Pack()
	const (
		closed  = iota // the connection is closed
		formerr        // answered FORMERR, the connection goes on
		silent         // not answered, the connection goes on
	)
	for _, tc := range []struct {
		name string
		raw  []byte // written as is
		want int
	}{
		{"zero length", []byte{0, 0}, closed},
		{"shorter than a header", []byte{0, 5, 1, 2, 3, 4, 5}, closed},
		{"garbage after header", append([]byte{0, 14, 0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 0xff, 0xff), formerr},
		{"a response", mustFrame(t, packedResponse), silent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.dial(t, "dns.test")
			before := frontendtest.Sum(t, f.Reg, "dnsward_protocol_errors_total")
			defer func() {
				if frontendtest.Sum(t, f.Reg, "dnsward_protocol_errors_total") != before+1 {
					t.Error("protocol error not counted")
				}
			}()
			if _, err := c.tc.Write(tc.raw); err != nil {
				t.Fatal(err)
			}
			switch tc.want {
			case closed:
				if !c.closed(3 * time.Second) {
					t.Fatal("connection not closed")
				}
				return
			case formerr:
				a := c.recv()
				if a.Rcode != dns.RcodeFormatError || a.Id != uint16(tc.raw[2])<<8|uint16(tc.raw[3]) {
					t.Fatalf("got rcode %s id %d", dns.RcodeToString[a.Rcode], a.Id)
				}
			}
			after := query("after.example.", dns.TypeA)
			after.Id = 4242
			c.send(after) // the connection survives; a silent drop sends nothing before this
			if a := c.recv(); a.Rcode != dns.RcodeSuccess || a.Id != 4242 {
				t.Fatalf("query after the bad one: %s id %d", dns.RcodeToString[a.Rcode], a.Id)
			}
		})
	}
}

func mustFrame(t *testing.T, b []byte) []byte {
	out, err := frontend.AppendFrame(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPadding(t *testing.T) {
	f := start(t, nil)
	c := f.dial(t, "dns.test")
	for _, padded := range []bool{true, false} {
		q := query("pad.example.", dns.TypeA)
		q.SetEdns0(1232, false)
		if padded {
			q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_PADDING{Padding: make([]byte, 100)})
		}
		c.send(q)
		c.tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		raw, err := frontend.ReadFrame(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if gotPadded := len(raw)%frontend.PadBlock == 0; gotPadded != padded {
			t.Fatalf("query padded=%v: answer of %d bytes", padded, len(raw))
		}
	}
}

func TestBlockedPerProfile(t *testing.T) {
	f := start(t, nil)
	for _, tc := range []struct {
		sni, name string
		blocked   bool
	}{
		{"child.dns.test", "games.example.", true},
		{"dns.test", "games.example.", false},
		{"ads.dns.test", "tracker.example.", true},
		{"child.dns.test", "tracker.example.", false},
	} {
		t.Run(tc.sni+"/"+tc.name, func(t *testing.T) {
			c := f.dial(t, tc.sni)
			q := query(tc.name, dns.TypeA)
			q.SetEdns0(1232, false)
			c.send(q)
			a := c.recv()
			ede, hasEDE := resolver.EDE(a)
			if tc.blocked {
				if a.Rcode != dns.RcodeNameError || !hasEDE || ede.InfoCode != resolver.EDEFiltered {
					t.Fatalf("blocked name: rcode %s, EDE %v", dns.RcodeToString[a.Rcode], ede)
				}
				return
			}
			if a.Rcode != dns.RcodeSuccess || hasEDE || len(a.Answer) != 1 {
				t.Fatalf("allowed name: %v", a)
			}
		})
	}
	for profile, want := range map[string]float64{"child": 2, "ads": 1, "open": 1} {
		if got := testutil.ToFloat64(f.srv.metrics.Connections.WithLabelValues("dot", profile)); got != want {
			t.Errorf("dnsward_connections_total{profile=%q} = %v, want %v", profile, got, want)
		}
	}
}

func TestSessionResumption(t *testing.T) {
	f := start(t, nil)
	conf := f.PKI.Client("dns.test", ALPN)
	conf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i, wantResumed := range []bool{false, true} {
		tc, err := tls.Dial("tcp", f.Addr, conf)
		if err != nil {
			t.Fatal(err)
		}
		c := &client{t: t, tc: tc, br: newReader(tc)}
		c.send(query("resume.example.", dns.TypeA))
		c.recv() // reading processes the session ticket
		if got := tc.ConnectionState().DidResume; got != wantResumed {
			t.Fatalf("connection %d: DidResume = %v", i, got)
		}
		tc.Close()
	}
}

func TestConnsPerClient(t *testing.T) {
	f := start(t, func(c *Config) { c.Conns = frontendtest.Conns(t, 2) })
	f.dial(t, "dns.test")
	f.dial(t, "dns.test")
	_, err := tls.Dial("tcp", f.Addr, f.PKI.Client("dns.test", ALPN))
	if err == nil {
		t.Fatal("third connection from one address was accepted")
	}
}

func TestConfigErrors(t *testing.T) {
	ok := frontendtest.ConfigErrors(t, "dot", config, New, map[string]func(*Config){
		"negative idle":                          func(c *Config) { c.IdleTimeout = -1 },
		"idle too long":                          func(c *Config) { c.IdleTimeout = 2 * time.Hour },
		"invalid trusted proxy":                  func(c *Config) { c.TrustedProxies = []netip.Prefix{{}} },
		"proxy protocol without trusted proxies": func(c *Config) { c.ProxyProtocol = true },
	})
	if _, err := New(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

// TestDrop: a query the handler drops (resolver.ErrDrop) gets no answer and
// the connection goes on.
func TestDrop(t *testing.T) {
	f := start(t, func(c *Config) { c.Handler = frontendtest.FailName(c.Handler, "drop.example.", resolver.ErrDrop) })
	c := f.dial(t, "dns.test")
	drop, keep := query("drop.example.", dns.TypeA), query("keep.example.", dns.TypeA)
	drop.Id, keep.Id = 1, 2
	c.send(drop, keep)
	if a := c.recv(); a.Id != 2 {
		t.Fatalf("answer id %d, want only the kept query's", a.Id)
	}
	if !c.closedOrSilent(300 * time.Millisecond) {
		t.Fatal("an answer was sent for the dropped query")
	}
}

// TestInflightBound: no more than MaxInflightPerConn queries of one
// connection reach the handler at once, and all are answered.
func TestInflightBound(t *testing.T) {
	var now, peak atomic.Int32
	f := start(t, func(c *Config) {
		c.MaxInflightPerConn = 4
		next := c.Handler
		c.Handler = resolver.HandlerFunc(func(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
			n := now.Add(1)
			defer now.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			return next.ServeDNS(ctx, req)
		})
	})
	c := f.dial(t, "dns.test")
	var qs []*dns.Msg
	for i := range 24 {
		q := query(fmt.Sprintf("slow%d.example.", i), dns.TypeA)
		q.Id = uint16(i)
		qs = append(qs, q)
	}
	c.send(qs...)
	for range qs {
		c.recv()
	}
	if p := peak.Load(); p != 4 {
		t.Fatalf("peak concurrency %d, want 4", p)
	}
}

// TestProfileByLocalAddress: without a matching SNI the local address picks
// the profile; a known SNI wins over it; IPv6 loopback is served too.
func TestProfileByLocalAddress(t *testing.T) {
	f := start(t, func(c *Config) {
		c.Addrs = []string{"127.0.0.1:0", frontendtest.ChildAddr.String() + ":0", "[::1]:0"}
	})
	addrs := f.srv.Addrs()
	for _, tc := range []struct {
		addr      net.Addr
		sni, want string
	}{
		{addrs[0], "", "open"},
		{addrs[1], "", "child"},
		{addrs[1], "other.test", "child"}, // unknown SNI: the address decides
		{addrs[1], "ads.dns.test", "ads"}, // known SNI first
		{addrs[2], "", "open"},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.addr, tc.sni), func(t *testing.T) {
			conf := f.PKI.Client(tc.sni, ALPN)
			tc2, err := tls.Dial("tcp", tc.addr.String(), conf)
			if err != nil {
				t.Fatal(err)
			}
			defer tc2.Close()
			c := &client{t: t, tc: tc2, br: newReader(tc2)}
			c.send(query("whoami.test.", dns.TypeTXT))
			a := c.recv()
			if len(a.Answer) != 1 || a.Answer[0].(*dns.TXT).Txt[0] != tc.want {
				t.Fatalf("profile %v, want %s", a.Answer, tc.want)
			}
		})
	}
}
