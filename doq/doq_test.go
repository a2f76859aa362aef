package doq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/frontendtest"
	"github.com/dnsward/dnsward/resolver"
)

func TestConcurrentStreams(t *testing.T) {
	f := start(t, func(c *Config) { c.MaxStreamsPerConn = 50 })
	c := f.dial(t, "dns.test")
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("s%d.example.", i)
			if i%7 == 0 {
				name = "slow" + name
			}
			frame, _ := frontend.Pack(query(name, dns.TypeA), nil)
			out, err := exchangeRaw(c, frame, true)
			if err != nil {
				errs <- err
				return
			}
			var m dns.Msg
			if err := m.Unpack(out[2:]); err != nil {
				errs <- err
				return
			}
			if m.Id != 0 || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != frontendtest.AddrFor(name).String() {
				errs <- fmt.Errorf("%s: answer %v", name, &m)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// closeCode waits for c to be closed by the server and returns the DoQ
// application error code it was closed with.
func closeCode(t *testing.T, c *quic.Conn) uint64 {
	t.Helper()
	select {
	case <-c.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}
	var aerr *quic.ApplicationError
	if err := context.Cause(c.Context()); !errors.As(err, &aerr) || !aerr.Remote {
		t.Fatalf("closed with %v, want a DoQ application error from the server", err)
	}
	return uint64(aerr.ErrorCode)
}

func TestProtocolErrors(t *testing.T) {
	f := start(t, nil)
	frame := func(m *dns.Msg) []byte { b, _ := frontend.Pack(m, nil); return b }
	withID := query("id.example.", dns.TypeA)
	withID.Id = 1234
	keepalive := query("ka.example.", dns.TypeA)
	keepalive.SetEdns0(1232, false)
	keepalive.IsEdns0().Option = append(keepalive.IsEdns0().Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE})
	bare, _ := query("bare.example.", dns.TypeA).Pack()
	bareID, _ := withID.Pack()
	for _, tc := range []struct {
		name string
		send func(*quic.Conn) error
	}{
		{"non-zero message ID", func(c *quic.Conn) error { _, err := exchangeRaw(c, frame(withID), true); return err }},
		{"no length prefix", func(c *quic.Conn) error { _, err := exchangeRaw(c, bare, true); return err }},
		{"no length prefix, non-zero ID", func(c *quic.Conn) error { _, err := exchangeRaw(c, bareID, true); return err }},
		{"trailing bytes", func(c *quic.Conn) error {
			_, err := exchangeRaw(c, append(frame(query("t.example.", dns.TypeA)), 0), true)
			return err
		}},
		{"two queries on one stream", func(c *quic.Conn) error {
			q := frame(query("t.example.", dns.TypeA))
			_, err := exchangeRaw(c, append(q, q...), true)
			return err
		}},
		{"FIN without a query", func(c *quic.Conn) error { _, err := exchangeRaw(c, nil, true); return err }},
		{"keepalive option", func(c *quic.Conn) error { _, err := exchangeRaw(c, frame(keepalive), true); return err }},
		{"unidirectional stream", func(c *quic.Conn) error {
			s, err := c.OpenUniStream()
			if err != nil {
				return err
			}
			s.Write(frame(query("u.example.", dns.TypeA)))
			return s.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.dial(t, "dns.test")
			before := frontendtest.Sum(t, f.Reg, "dnsward_protocol_errors_total")
			tc.send(c)
			if code := closeCode(t, c); code != ProtocolError {
				t.Fatalf("closed with code %#x, want DOQ_PROTOCOL_ERROR", code)
			}
			if got := frontendtest.Sum(t, f.Reg, "dnsward_protocol_errors_total"); got != before+1 {
				t.Fatalf("protocol errors %v → %v, want one more", before, got)
			}
		})
	}
}

// TestUnfinishedStream: a stream whose query never gets its FIN is reset by
// the server after StreamTimeout, and the connection keeps working.
func TestUnfinishedStream(t *testing.T) {
	f := start(t, func(c *Config) { c.StreamTimeout = 300 * time.Millisecond })
	c := f.dial(t, "dns.test")
	for _, partial := range [][]byte{
		func() []byte { b, _ := frontend.Pack(query("nofin.example.", dns.TypeA), nil); return b }(),
		{0, 40, 0, 0}, // a frame that never completes
	} {
		_, err := exchangeRaw(c, partial, false)
		var serr *quic.StreamError
		if !errors.As(err, &serr) || !serr.Remote || serr.ErrorCode != RequestCancelled {
			t.Fatalf("unfinished stream: err = %v, want a reset with DOQ_REQUEST_CANCELLED", err)
		}
	}
	if a := exchange(t, c, query("after.example.", dns.TypeA)); a.Rcode != dns.RcodeSuccess {
		t.Fatalf("query after reset: %s", dns.RcodeToString[a.Rcode])
	}
	if got := testutil.ToFloat64(f.srv.metrics.ProtocolErrors.WithLabelValues("doq", "open", "stream_timeout")); got != 2 {
		t.Fatalf("stream_timeout errors = %v, want 2", got)
	}
}

func TestProfilesAndBlocking(t *testing.T) {
	f := start(t, nil)
	for _, tc := range []struct {
		sni, profile string
		blocked      string
		allowed      string
	}{
		{"dns.test", "open", "", "games.example."},
		{"child.dns.test", "child", "games.example.", "tracker.example."},
		{"ads.dns.test", "ads", "tracker.example.", "games.example."},
		{"unknown.example", "open", "", "tracker.example."}, // unknown SNI → default (cert checked against dns.test)
	} {
		t.Run(tc.sni, func(t *testing.T) {
			conf := f.clientTLS(tc.sni)
			if tc.sni == "unknown.example" {
				conf.ServerName = tc.sni
				conf.VerifyConnection = func(cs tls.ConnectionState) error {
					_, err := cs.PeerCertificates[0].Verify(x509Opts(f, cs))
					return err
				}
				conf.InsecureSkipVerify = true
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := quic.DialAddr(ctx, f.Addr, conf, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseWithError(0, "")
			who := exchange(t, c, query("whoami.test.", dns.TypeTXT))
			if len(who.Answer) != 1 || who.Answer[0].(*dns.TXT).Txt[0] != tc.profile {
				t.Fatalf("profile: %v, want %s", who.Answer, tc.profile)
			}
			if tc.blocked != "" {
				q := query(tc.blocked, dns.TypeA)
				q.SetEdns0(1232, false)
				a := exchange(t, c, q)
				ede, ok := resolver.EDE(a)
				if a.Rcode != dns.RcodeNameError || !ok || ede.InfoCode != resolver.EDEFiltered {
					t.Fatalf("blocked %s: rcode %s EDE %v", tc.blocked, dns.RcodeToString[a.Rcode], ede)
				}
			}
			if a := exchange(t, c, query(tc.allowed, dns.TypeA)); a.Rcode != dns.RcodeSuccess || len(a.Answer) != 1 {
				t.Fatalf("allowed %s: %v", tc.allowed, a)
			}
		})
	}
	for profile, want := range map[string]float64{"child": 1, "ads": 1, "open": 2} {
		if got := testutil.ToFloat64(f.srv.metrics.Connections.WithLabelValues("doq", profile)); got != want {
			t.Errorf("dnsward_connections_total{profile=%q} = %v, want %v", profile, got, want)
		}
	}
}

// TestAnswerShaping: answers beyond the EDNS UDP size are sent whole, padded
// when the query was, and never carry edns-tcp-keepalive.
func TestAnswerShaping(t *testing.T) {
	big := resolver.HandlerFunc(func(_ context.Context, req *resolver.Request) (*dns.Msg, error) {
		m := resolver.NewReply(req.Msg, dns.RcodeSuccess)
		for i := range 40 {
			m.Answer = append(m.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: req.Msg.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
				Txt: []string{strings.Repeat(fmt.Sprint(i%10), 200)},
			})
		}
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE, Timeout: 100})
		return m, nil
	})
	f := start(t, func(c *Config) { c.Handler = big })
	c := f.dial(t, "dns.test")
	for _, padded := range []bool{false, true} {
		q := query("big.example.", dns.TypeTXT)
		q.SetEdns0(512, false)
		if padded {
			q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_PADDING{Padding: make([]byte, 32)})
		}
		frame, _ := frontend.Pack(q, nil)
		wire, err := exchangeRaw(c, frame, true)
		if err != nil {
			t.Fatal(err)
		}
		a := new(dns.Msg)
		if err := a.Unpack(wire[2:]); err != nil {
			t.Fatal(err)
		}
		if a.Truncated || len(a.Answer) != 40 {
			t.Fatalf("truncated=%v, %d records", a.Truncated, len(a.Answer))
		}
		if frontend.HasKeepalive(a) {
			t.Fatal("edns-tcp-keepalive in a DoQ answer")
		}
		if n := len(wire) - 2; (n%frontend.PadBlock == 0) != padded {
			t.Fatalf("padded query=%v, answer %d bytes", padded, n)
		}
	}
}

func Test0RTT(t *testing.T) {
	f := start(t, func(c *Config) { c.Allow0RTT = true })
	conf := f.clientTLS("dns.test")
	conf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	first := f.dial0(t, conf)
	exchange(t, first, query("warm.example.", dns.TypeA))
	time.Sleep(100 * time.Millisecond) // let the session ticket arrive
	first.CloseWithError(0, "")

	c := f.dial0(t, conf)
	notify := query("zone.example.", dns.TypeSOA)
	notify.Opcode = dns.OpcodeNotify
	var wg sync.WaitGroup
	answers := make([]*dns.Msg, 2)
	for i, q := range []*dns.Msg{query("early.example.", dns.TypeA), notify} {
		wg.Go(func() {
			frame, _ := frontend.Pack(q, nil)
			out, err := exchangeRaw(c, frame, true)
			if err != nil || len(out) < 2 {
				t.Errorf("query %d: %v", i, err)
				return
			}
			answers[i] = new(dns.Msg)
			if err := answers[i].Unpack(out[2:]); err != nil {
				t.Errorf("query %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	safe, unsafe := answers[0], answers[1]
	if !c.ConnectionState().Used0RTT {
		t.Fatal("0-RTT was not used")
	}
	if len(safe.Answer) != 1 || unsafe.Opcode != dns.OpcodeNotify {
		t.Fatalf("answers: %v / %v", safe, unsafe)
	}
	// The server counts the connection when its side of the handshake
	// completes, which may come after the 0-RTT answers: wait for it.
	zero := f.srv.qm.zeroRTT
	for deadline := time.Now().Add(2 * time.Second); testutil.ToFloat64(zero.WithLabelValues("connection")) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutil.ToFloat64(zero.WithLabelValues("connection")); got != 1 {
		t.Errorf("0-RTT connections = %v, want 1", got)
	}
	// Whether a query is read before the handshake completes depends on
	// timing; replaySafe is tested on its own. Only the NOTIFY may wait.
	if deferred := testutil.ToFloat64(zero.WithLabelValues("query_deferred")); deferred > 1 {
		t.Errorf("deferred = %v: only the NOTIFY may be deferred", deferred)
	}
}

func (f *fixture) dial0(t *testing.T, conf *tls.Config) *quic.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := quic.DialAddrEarly(ctx, f.Addr, conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseWithError(0, "") })
	return c
}

func TestRetryAndConnLimit(t *testing.T) {
	f := start(t, func(c *Config) {
		c.AlwaysRetry = true
		c.Conns = frontendtest.Conns(t, 1)
	})
	c := f.dial(t, "dns.test")
	if a := exchange(t, c, query("retry.example.", dns.TypeA)); len(a.Answer) != 1 {
		t.Fatalf("answer after Retry: %v", a)
	}
	if got := testutil.ToFloat64(f.srv.qm.handshakes.WithLabelValues("ok")); got != 1 {
		t.Fatalf("handshakes ok = %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if c2, err := quic.DialAddr(ctx, f.Addr, f.clientTLS("dns.test"), nil); err == nil {
		c2.CloseWithError(0, "")
		t.Fatal("second connection from one address accepted with a bound of 1")
	}
}

func TestConfigErrors(t *testing.T) {
	frontendtest.ConfigErrors(t, "doq", config, New, map[string]func(*Config){
		"negative stream timeout": func(c *Config) { c.StreamTimeout = -1 },
		"negative streams":        func(c *Config) { c.MaxStreamsPerConn = -1 },
	})
}

// TestExcessiveLoad: beyond MaxInflight queries server-wide, streams are
// reset with DOQ_EXCESSIVE_LOAD.
func TestExcessiveLoad(t *testing.T) {
	f := start(t, func(c *Config) {
		c.MaxInflight = 2
		next := c.Handler
		c.Handler = resolver.HandlerFunc(func(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
			time.Sleep(time.Second) // hold the two slots while the others arrive
			return next.ServeDNS(ctx, req)
		})
	})
	c := f.dial(t, "dns.test")
	var wg sync.WaitGroup
	codes := make(chan uint64, 6)
	for i := range 6 {
		wg.Go(func() {
			frame, _ := frontend.Pack(query(fmt.Sprintf("load%d.example.", i), dns.TypeA), nil)
			_, err := exchangeRaw(c, frame, true)
			var serr *quic.StreamError
			switch {
			case err == nil:
				codes <- NoError
			case errors.As(err, &serr) && serr.Remote:
				codes <- uint64(serr.ErrorCode)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(codes)
	count := map[uint64]int{}
	for c := range codes {
		count[c]++
	}
	if count[NoError] < 2 || count[ExcessiveLoad] == 0 || count[NoError]+count[ExcessiveLoad] != 6 {
		t.Fatalf("outcomes by code: %v", count)
	}
}

func TestRetryUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		always      bool
		above       int
		handshaking int64
		want        bool
	}{
		{false, 0, 100, false},
		{true, 0, 0, true},
		{false, 10, 9, false},
		{false, 10, 10, true},
	} {
		s := &Server{cfg: Config{AlwaysRetry: tc.always, RetryAbove: tc.above}}
		s.handshaking.Store(tc.handshaking)
		if got := s.verifySource(nil); got != tc.want {
			t.Errorf("%+v: Retry = %v", tc, got)
		}
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
		addr      string
		sni, want string
	}{
		{addrs[0].String(), "", "open"},
		{addrs[1].String(), "", "child"},
		{addrs[1].String(), "other.test", "child"},
		{addrs[1].String(), "ads.dns.test", "ads"},
		{addrs[0].String(), "annas-phone.child.dns.test", "child"}, // a client ID under a profile host
		{addrs[2].String(), "", "open"},
	} {
		t.Run(tc.addr+"/"+tc.sni, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := quic.DialAddr(ctx, tc.addr, f.clientTLS(tc.sni), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseWithError(0, "")
			a := exchange(t, c, query("whoami.test.", dns.TypeTXT))
			if len(a.Answer) != 1 || a.Answer[0].(*dns.TXT).Txt[0] != tc.want {
				t.Fatalf("profile %v, want %s", a.Answer, tc.want)
			}
		})
	}
}

// TestMalformedClientID: a malformed client ID in the TLS name is refused
// during the handshake (CRYPTO_ERROR with TLS's internal_error alert), and
// the server goes on serving.
func TestMalformedClientID(t *testing.T) {
	f := start(t, nil)
	for _, sni := range []string{"annas_phone.child.dns.test", "-x.child.dns.test", "dns-query.child.dns.test"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := quic.DialAddr(ctx, f.Addr, f.clientTLS(sni), nil)
		cancel()
		var te *quic.TransportError
		if !errors.As(err, &te) || te.ErrorCode != quic.TransportErrorCode(0x100+80) {
			t.Fatalf("%s: %v, want CRYPTO_ERROR 0x150 (internal_error)", sni, err)
		}
	}
	c := f.dial(t, "annas-phone.child.dns.test")
	if a := exchange(t, c, query("whoami.test.", dns.TypeTXT)); len(a.Answer) != 1 || a.Answer[0].(*dns.TXT).Txt[0] != "child" {
		t.Fatalf("after refusals: %v", a.Answer)
	}
}

// TestMalformed: an unparsable query with ID 0 is answered FORMERR and a
// response sent as a query is not answered; the connection goes on.
func TestMalformed(t *testing.T) {
	f := start(t, nil)
	c := f.dial(t, "dns.test")
	garbage := []byte{0, 14, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff}
	out, err := exchangeRaw(c, garbage, true)
	if err != nil {
		t.Fatal(err)
	}
	var a dns.Msg
	if err := a.Unpack(out[2:]); err != nil || a.Rcode != dns.RcodeFormatError || a.Id != 0 {
		t.Fatalf("garbage: %v (%v)", &a, err)
	}
	resp := query("r.example.", dns.TypeA)
	resp.Response = true
	frame, _ := frontend.Pack(resp, nil)
	_, err = exchangeRaw(c, frame, true)
	var serr *quic.StreamError
	if !errors.As(err, &serr) || serr.ErrorCode != RequestCancelled {
		t.Fatalf("response as query: err %v, want the stream reset with DOQ_REQUEST_CANCELLED", err)
	}
	if a := exchange(t, c, query("after.example.", dns.TypeA)); a.Rcode != dns.RcodeSuccess {
		t.Fatalf("after: %s", dns.RcodeToString[a.Rcode])
	}
}

// TestIdleTimeout: the server drops a connection idle for IdleTimeout (QUIC
// idle timeouts close silently, so the server's own gauge is what shows it).
func TestIdleTimeout(t *testing.T) {
	f := start(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	c := f.dial(t, "dns.test")
	exchange(t, c, query("idle.example.", dns.TypeA))
	active := f.srv.metrics.Active.WithLabelValues("doq")
	if got := testutil.ToFloat64(active); got != 1 {
		t.Fatalf("active connections %v, want 1", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(active) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := testutil.ToFloat64(active); got != 0 {
		t.Fatalf("idle connection still open on the server (%v active)", got)
	}
}

// TestStatelessReset: with a reset key, a client still using a connection
// the server dropped learns it at once from a stateless reset.
func TestStatelessReset(t *testing.T) {
	var key quic.StatelessResetKey
	copy(key[:], "0123456789abcdef0123456789abcdef")
	f := start(t, func(c *Config) {
		c.IdleTimeout = 300 * time.Millisecond
		c.StatelessResetKey = &key
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := quic.DialAddr(ctx, f.Addr, f.clientTLS("dns.test"), &quic.Config{MaxIdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseWithError(0, "")
	exchange(t, c, query("reset.example.", dns.TypeA))
	active := f.srv.metrics.Active.WithLabelValues("doq")
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(active) != 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	frame, _ := frontend.Pack(query("after.example.", dns.TypeA), nil)
	if _, err := exchangeRaw(c, frame, true); err == nil {
		t.Fatal("query on a dropped connection answered")
	}
	select {
	case <-c.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client connection still open")
	}
	var reset *quic.StatelessResetError
	if err := context.Cause(c.Context()); !errors.As(err, &reset) {
		t.Fatalf("connection ended with %v, want a stateless reset", err)
	}
}

// TestRateLimited: a handler refusing with resolver.ErrLimited makes the
// stream reset with DOQ_EXCESSIVE_LOAD; other queries are answered.
func TestRateLimited(t *testing.T) {
	f := start(t, func(c *Config) {
		c.Handler = frontendtest.FailName(c.Handler, "limited.example.", resolver.ErrLimited)
	})
	c := f.dial(t, "dns.test")
	frame, _ := frontend.Pack(query("limited.example.", dns.TypeA), nil)
	_, err := exchangeRaw(c, frame, true)
	var serr *quic.StreamError
	if !errors.As(err, &serr) || !serr.Remote || serr.ErrorCode != ExcessiveLoad {
		t.Fatalf("err = %v, want a reset with DOQ_EXCESSIVE_LOAD", err)
	}
	if a := exchange(t, c, query("fine.example.", dns.TypeA)); a.Rcode != dns.RcodeSuccess {
		t.Fatalf("next query: %s", dns.RcodeToString[a.Rcode])
	}
}
