package plain

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/resolver"
	"github.com/dnsward/dnsward/resolver/upstream"
)

// startServer runs the plain listener with the real resolver chain in front
// of an in-test authoritative server.
func startServer(t testing.TB, auth *dnstest.Authority, mod func(*Config)) *Server {
	t.Helper()
	cfg := testConfig(t, auth)
	if mod != nil {
		mod(&cfg)
	}
	return run(t, cfg)
}

// run starts a plain listener with cfg and shuts it down when the test ends.
func run(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

// testConfig is a listener config on a free loopback port in front of the
// real resolver chain, forwarding to auth.
func testConfig(t testing.TB, auth *dnstest.Authority) Config {
	return chainConfig(t, auth, func(u resolver.Upstream) resolver.Upstream { return u })
}

// chainConfig is testConfig with the chain forwarding to wrap(upstream).
func chainConfig(t testing.TB, auth *dnstest.Authority, wrap func(resolver.Upstream) resolver.Upstream) Config {
	t.Helper()
	up, err := upstream.New("udp://"+auth.Addr, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	h, err := resolver.New(resolver.Config{Upstream: wrap(up), Cache: &resolver.CacheConfig{Size: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := resolver.NewProfiles("default", []*resolver.Profile{{Name: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	return Config{Addrs: []string{"127.0.0.1:0"}, Handler: h, Profiles: profiles, UDPSockets: 2}
}

func manyRecords(n int) []string {
	zone := []string{"www.example. 300 IN A 127.0.0.1"}
	for i := 0; i < 4; i++ {
		zone = append(zone, fmt.Sprintf("mid.example. 300 IN TXT \"%s\"", strings.Repeat(fmt.Sprint(i), 200)))
	}
	for i := 0; i < n; i++ {
		zone = append(zone, fmt.Sprintf("big.example. 300 IN TXT \"%s\"", strings.Repeat(fmt.Sprint(i%10), 200)))
	}
	return zone
}

func TestUDPAnswers(t *testing.T) {
	auth := dnstest.StartAuthority(t, manyRecords(10), nil)
	s := startServer(t, auth, nil)
	addr := s.UDPAddrs()[0].String()

	tests := []struct {
		name      string
		build     func() *dns.Msg
		wantRcode int
		wantTC    bool
		wantAns   int
	}{
		{"A record", func() *dns.Msg { m := new(dns.Msg); m.SetQuestion("www.example.", dns.TypeA); return m }, dns.RcodeSuccess, false, 1},
		{"NXDOMAIN", func() *dns.Msg { m := new(dns.Msg); m.SetQuestion("nope.example.", dns.TypeA); return m }, dns.RcodeNameError, false, 0},
		{"big answer without EDNS truncated", func() *dns.Msg { m := new(dns.Msg); m.SetQuestion("big.example.", dns.TypeTXT); return m }, dns.RcodeSuccess, true, -1},
		{"answer over 1232 bytes truncated despite EDNS 4096", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("big.example.", dns.TypeTXT)
			m.SetEdns0(4096, false)
			return m
		}, dns.RcodeSuccess, true, -1},
		{"answer under 1232 bytes fits with EDNS", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("mid.example.", dns.TypeTXT)
			m.SetEdns0(1232, false)
			return m
		}, dns.RcodeSuccess, false, 4},
		{"CHAOS class refused", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("version.bind.", dns.TypeTXT)
			m.Question[0].Qclass = dns.ClassCHAOS
			return m
		}, dns.RcodeRefused, false, 0},
		{"no question is FORMERR", func() *dns.Msg { m := new(dns.Msg); m.Id = 7; return m }, dns.RcodeFormatError, false, 0},
		{"two questions is FORMERR", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("www.example.", dns.TypeA)
			m.Question = append(m.Question, m.Question[0])
			return m
		}, dns.RcodeFormatError, false, 0},
		{"NOTIFY opcode is NOTIMP", func() *dns.Msg { m := new(dns.Msg); m.SetNotify("example."); return m }, dns.RcodeNotImplemented, false, 0},
		{"EDNS version 1 is BADVERS", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("www.example.", dns.TypeA)
			m.SetEdns0(1232, false)
			m.IsEdns0().SetVersion(1)
			return m
		}, dns.RcodeBadVers, false, 0},
		{"localhost answered locally", func() *dns.Msg { m := new(dns.Msg); m.SetQuestion("localhost.", dns.TypeA); return m }, dns.RcodeSuccess, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &dns.Client{Net: "udp", UDPSize: 65535, Timeout: 3 * time.Second}
			q := tt.build()
			resp, _, err := c.Exchange(q, addr)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Rcode != tt.wantRcode || resp.Truncated != tt.wantTC {
				t.Fatalf("rcode %s TC %v, want %s TC %v", dns.RcodeToString[resp.Rcode], resp.Truncated, dns.RcodeToString[tt.wantRcode], tt.wantTC)
			}
			if resp.Id != q.Id {
				t.Fatalf("ID %d, want %d", resp.Id, q.Id)
			}
			if tt.wantAns >= 0 && len(resp.Answer) != tt.wantAns {
				t.Fatalf("%d answers, want %d", len(resp.Answer), tt.wantAns)
			}
		})
	}
}

func TestUDPBadPackets(t *testing.T) {
	auth := dnstest.StartAuthority(t, manyRecords(0), nil)
	s := startServer(t, auth, nil)
	conn, err := net.Dial("udp", s.UDPAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp := new(dns.Msg)
	resp.SetQuestion("www.example.", dns.TypeA)
	resp.Response = true
	respWire, _ := resp.Pack()
	tests := []struct {
		name      string
		wire      []byte
		wantReply bool
		wantRcode int
	}{
		{"shorter than a header: dropped", []byte{1, 2, 3}, false, 0},
		{"QR set: dropped", respWire, false, 0},
		{"garbage after header: FORMERR", append([]byte{0xab, 0xcd, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 0xff, 0xff), true, dns.RcodeFormatError},
		{"two OPT records: FORMERR (RFC 6891 §6.1.1)", twoOPTQuery, true, dns.RcodeFormatError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn.Write(tt.wire)
			conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			buf := make([]byte, 512)
			n, err := conn.Read(buf)
			if !tt.wantReply {
				if err == nil {
					t.Fatalf("got a %d-byte reply, want none", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := new(dns.Msg)
			if err := m.Unpack(buf[:n]); err != nil {
				t.Fatal(err)
			}
			if m.Rcode != tt.wantRcode || m.Id != 0xabcd {
				t.Fatalf("rcode %d id %x", m.Rcode, m.Id)
			}
		})
	}
	// The server still answers after the bad input.
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	if _, _, err := (&dns.Client{}).Exchange(q, s.UDPAddrs()[0].String()); err != nil {
		t.Fatal(err)
	}
}

// twoOPTQuery is "www.example. A" with ID 0xabcd and two OPT records,
// built by hand: miekg/dns would not pack it so.
var twoOPTQuery = []byte{
	0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 2, // header: RD, QDCOUNT 1, ARCOUNT 2
	3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1, // www.example. A IN
	0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0, // OPT: root, size 1232, no flags, no options
	0, 0, 41, 0x10, 0x00, 0, 0, 0x80, 0, 0, 0, // OPT: root, size 4096, DO
}

// TestTCPPipelinedOutOfOrder sends 100 queries on one connection without
// waiting; the upstream delays even-numbered names, so answers can only
// arrive in a different order if the server answers them concurrently.
func TestTCPPipelinedOutOfOrder(t *testing.T) {
	var zone []string
	for i := 0; i < 100; i++ {
		zone = append(zone, fmt.Sprintf("n%d.example. 300 IN A 127.0.0.%d", i, i%250+1))
	}
	auth := dnstest.StartAuthority(t, zone, func(name string) time.Duration {
		var i int
		fmt.Sscanf(name, "n%d.", &i)
		if i%2 == 0 {
			return 100 * time.Millisecond
		}
		return 0
	})
	s := startServer(t, auth, nil)
	conn, err := net.Dial("tcp", s.TCPAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var all []byte
	for i := 0; i < 100; i++ {
		q := new(dns.Msg)
		q.SetQuestion(fmt.Sprintf("n%d.example.", i), dns.TypeA)
		q.Id = uint16(i)
		b, _ := q.Pack()
		all = binary.BigEndian.AppendUint16(all, uint16(len(b)))
		all = append(all, b...)
	}
	if _, err := conn.Write(all); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var order []uint16
	seen := map[uint16]bool{}
	for len(order) < 100 {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			t.Fatalf("after %d answers: %v", len(order), err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatal(err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("n%d.example.", m.Id)
		if m.Question[0].Name != want || len(m.Answer) != 1 {
			t.Fatalf("answer ID %d is for %s with %d records", m.Id, m.Question[0].Name, len(m.Answer))
		}
		seen[m.Id] = true
		order = append(order, m.Id)
	}
	if len(seen) != 100 {
		t.Fatalf("%d distinct answers, want 100", len(seen))
	}
	inOrder := true
	for i, id := range order {
		if id != uint16(i) {
			inOrder = false
		}
	}
	if inOrder {
		t.Fatal("answers arrived in query order; expected the delayed ones last")
	}
}

func TestTCPIdleConnectionReleased(t *testing.T) {
	auth := dnstest.StartAuthority(t, manyRecords(0), nil)
	s := startServer(t, auth, func(c *Config) { c.TCPIdleTimeout = 200 * time.Millisecond })
	before := runtime.NumGoroutine()
	var conns []net.Conn
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", s.TCPAddrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte{0, 40, 1}) // half a frame, then silence
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("server did not close an idle half-open connection: %v", err)
		}
		c.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Fatalf("%d goroutines after idle connections closed, %d before", n, before)
	}
}

// TestStartPortTaken: a fixed port whose UDP side another socket holds
// fails Start with an error naming the address, and leaves the TCP side
// free again; port 0 finds a port free on both.
func TestStartPortTaken(t *testing.T) {
	auth := dnstest.StartAuthority(t, manyRecords(0), nil)
	// The kernel picks the held UDP port; now and then that number is
	// taken for TCP on loopback too, which fails Start before UDP: pick again.
	for attempt := 0; ; attempt++ {
		held, err := net.ListenPacket("udp", "127.0.0.1:0") // no SO_REUSEPORT: ours cannot join it
		if err != nil {
			t.Fatal(err)
		}
		addr := held.LocalAddr().String()
		cfg := testConfig(t, auth)
		cfg.Addrs = []string{addr}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Start()
		held.Close()
		if err != nil && strings.Contains(err.Error(), "plain: tcp "+addr) && attempt < 5 {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "plain: udp "+addr) {
			t.Fatalf("Start on a taken UDP port: %v, want an error naming udp %s", err, addr)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("the TCP side was left bound: %v", err)
		}
		l.Close()
		break
	}
	s := startServer(t, auth, nil)
	if u, tc := s.UDPAddrs()[0], s.TCPAddrs()[0]; u.Port() == 0 || u.Port() != tc.Port() {
		t.Fatalf("port 0: UDP %v and TCP %v, want one free port for both", u, tc)
	}
}
