package doh

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/quicvarint"
)

// startH3 starts a server with the builtin HTTP/3 engine.
func startH3(t *testing.T, mod func(*Config)) *testEnv {
	return startServer(t, func(c *Config) {
		c.HTTP3 = HTTP3Builtin
		if mod != nil {
			mod(c)
		}
	})
}

// TestH3ControlStream: the client's control stream must open with SETTINGS,
// exactly once, with no HTTP/2 setting in it, and must stay open (RFC 9114
// §6.2.1, §7.2.4); each breach closes the connection with its error code.
func TestH3ControlStream(t *testing.T) {
	for _, tt := range []struct {
		name   string
		frames [][]byte
		close  bool // end the control stream
		want   int64
	}{
		{"GOAWAY first", [][]byte{h3Frame(0x07, quicvarint.Append(nil, 0))}, false, 0x010a},
		{"unknown frame first", [][]byte{h3Frame(0x21, []byte("x"))}, false, 0x010a},
		{"SETTINGS twice", [][]byte{h3Settings(), h3Settings()}, false, 0x0105},
		{"DATA on the control stream", [][]byte{h3Settings(), h3Frame(0x00, []byte("x"))}, false, 0x0105},
		{"HTTP/2 frame type", [][]byte{h3Settings(), h3Frame(0x06, make([]byte, 8))}, false, 0x0105},
		{"HTTP/2 setting", [][]byte{h3Settings(0x04, 100)}, false, 0x0109},
		{"repeated setting", [][]byte{h3Settings(0x06, 100, 0x06, 100)}, false, 0x0109},
		{"control stream closed", [][]byte{h3Settings()}, true, 0x0104},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dialH3(t, startH3(t, nil))
			str := c.uni(0x00, tt.frames...)
			if tt.close {
				_ = str.Close()
			}
			if got := c.closedWith(); got != tt.want {
				t.Fatalf("connection closed with %#x, want %#x", got, tt.want)
			}
		})
	}
}

// TestH3CriticalStreams: a client has at most one control, QPACK encoder
// and QPACK decoder stream (a second is H3_STREAM_CREATION_ERROR), and
// closing or resetting one is H3_CLOSED_CRITICAL_STREAM (RFC 9114 §6.2,
// RFC 9204 §4.2).
func TestH3CriticalStreams(t *testing.T) {
	for _, typ := range []uint64{0x00, 0x02, 0x03} {
		var first []byte
		if typ == 0x00 {
			first = h3Settings()
		}
		for _, tt := range []struct {
			name string
			act  func(c *h3Raw, str *quic.SendStream)
			want int64
		}{
			{"second", func(c *h3Raw, _ *quic.SendStream) { c.uni(typ, first) }, 0x0103},
			{"closed", func(_ *h3Raw, str *quic.SendStream) { _ = str.Close() }, 0x0104},
			{"reset", func(_ *h3Raw, str *quic.SendStream) { str.CancelWrite(0x010c) }, 0x0104},
		} {
			t.Run(fmt.Sprintf("%s stream type %#x", tt.name, typ), func(t *testing.T) {
				c := dialH3(t, startH3(t, nil))
				if typ != 0x00 {
					c.uni(0x00, h3Settings())
				}
				str := c.uni(typ, first)
				time.Sleep(20 * time.Millisecond) // the first arrives first
				tt.act(c, str)
				if got := c.closedWith(); got != tt.want {
					t.Fatalf("connection closed with %#x, want %#x", got, tt.want)
				}
			})
		}
	}
}

// TestH3ServerSettings: the engine's SETTINGS turn the QPACK dynamic table
// off and announce MaxHeaderBytes as MAX_FIELD_SECTION_SIZE.
func TestH3ServerSettings(t *testing.T) {
	c := dialH3(t, startH3(t, func(c *Config) { c.MaxHeaderBytes = 5000 }))
	_, s := c.serverControl()
	if v, ok := s[0x01]; !ok || v != 0 {
		t.Errorf("QPACK_MAX_TABLE_CAPACITY %d (sent %v), want 0", v, ok)
	}
	if v, ok := s[0x07]; !ok || v != 0 {
		t.Errorf("QPACK_BLOCKED_STREAMS %d (sent %v), want 0", v, ok)
	}
	if s[0x06] != 5000 {
		t.Errorf("MAX_FIELD_SECTION_SIZE %d, want 5000", s[0x06])
	}
}

// TestH3MalformedRequests: a malformed request (RFC 9114 §4.1.2: a bad
// field name or value, §4.3.1: missing or misplaced pseudo-headers, no
// :authority nor Host, several Hosts or one that is not :authority) is
// reset with H3_MESSAGE_ERROR and the connection goes on serving; Host
// alone, or equal to :authority, is fine.
func TestH3MalformedRequests(t *testing.T) {
	env := startH3(t, nil)
	c := dialH3(t, env)
	c.uni(0x00, h3Settings())
	wire := query(t, "a.test.", dns.TypeA, 0, 0)
	good := getFields(wire)
	without := func(name string) []string {
		var f []string
		for i := 0; i < len(good); i += 2 {
			if good[i] != name {
				f = append(f, good[i], good[i+1])
			}
		}
		return f
	}
	for _, tt := range []struct {
		name   string
		fields []string
	}{
		{"no :path", without(":path")},
		{"no :method", without(":method")},
		{"no :scheme", without(":scheme")},
		{"uppercase name", append(append([]string(nil), good...), "X-Upper", "1")},
		{"unknown pseudo-header", append([]string{":protocol", "x"}, good...)},
		{"pseudo-header after a regular one", append(append([]string(nil), good...), ":status", "200")},
		{"connection-specific field", append(append([]string(nil), good...), "connection", "close")},
		{"repeated :path", append(append([]string(nil), good[:8]...), append([]string{":path", "/x"}, good[8:]...)...)},
		{"CR LF in a value", append(append([]string(nil), good...), "x-a", "1\r\nx-b: 2")},
		{"NUL in a value", append(append([]string(nil), good...), "x-a", "a\x00b")},
		{":authority and host differ", append(append([]string(nil), good...), "host", "other.test")},
		{"two host fields", append(without(":authority"), "host", "dns.test", "host", "dns.test")},
		{"neither :authority nor host", without(":authority")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.request(h3Headers(tt.fields...))
			if got := streamCode(r.err); got != 0x010e {
				t.Fatalf("got %v %v, want a reset with H3_MESSAGE_ERROR", r.fields, r.err)
			}
		})
	}
	t.Run("content-length that is not the body's", func(t *testing.T) {
		f := []string{":method", "POST", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query",
			"content-type", "application/dns-message", "content-length", "5"}
		r := c.request(h3Headers(f...), h3Frame(0x00, wire))
		if got := streamCode(r.err); got != 0x010e {
			t.Fatalf("got %v %v, want a reset with H3_MESSAGE_ERROR", r.fields, r.err)
		}
	})
	for _, fields := range [][]string{good, append(without(":authority"), "host", "dns.test"), append(good, "host", "dns.test")} {
		if r := c.request(h3Headers(fields...)); r.err != nil || r.fields[":status"] != "200" {
			t.Fatalf("a good request after the malformed ones (%q): %v %v", fields, r.fields, r.err)
		}
	}
}

// TestH3UnknownIgnored: frames of unknown types on a request stream and
// unidirectional streams of unknown types are ignored (RFC 9114 §6.2, §9),
// as are QPACK streams and trailers.
func TestH3UnknownIgnored(t *testing.T) {
	c := dialH3(t, startH3(t, nil))
	c.uni(0x00, h3Settings(0x21, 7), h3Frame(0x21, []byte("grease")), h3Frame(0x07, quicvarint.Append(nil, 0)))
	c.uni(0x21, []byte("an unknown stream type"))
	c.uni(0x02)
	c.uni(0x03)
	wire := query(t, "a.test.", dns.TypeA, 0, 0)
	post := []string{":method", "POST", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query",
		"content-type", "application/dns-message", "accept", "application/dns-message"}
	r := c.request(h3Frame(0x21, []byte("before")), h3Headers(post...), h3Frame(0x40, nil),
		h3Frame(0x00, wire[:5]), h3Frame(0x1f*3+0x21, []byte("between")), h3Frame(0x00, wire[5:]),
		h3Headers("x-trailer", "1"))
	if r.err != nil || r.fields[":status"] != "200" || r.fields["content-type"] != "application/dns-message" {
		t.Fatalf("got %v %v, want 200", r.fields, r.err)
	}
	if m := unpack(t, r.body); m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 {
		t.Fatalf("answer %v", m)
	}
}

// TestH3FrameOutOfPlace: DATA before HEADERS, or a control frame on a
// request stream, is H3_FRAME_UNEXPECTED for the whole connection.
func TestH3FrameOutOfPlace(t *testing.T) {
	for _, tt := range []struct {
		name  string
		frame []byte
	}{
		{"DATA before HEADERS", h3Frame(0x00, []byte("x"))},
		{"SETTINGS", h3Settings()},
		{"HTTP/2 PING", h3Frame(0x06, make([]byte, 8))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dialH3(t, startH3(t, nil))
			c.request(tt.frame, h3Headers(getFields(query(t, "a.test.", dns.TypeA, 0, 0))...))
			if got := c.closedWith(); got != 0x0105 {
				t.Fatalf("connection closed with %#x, want H3_FRAME_UNEXPECTED", got)
			}
		})
	}
}

// TestH3DynamicTableReference: a field section that refers to the QPACK
// dynamic table, which the engine announced it has none of, is
// QPACK_DECOMPRESSION_FAILED (RFC 9204 §2.2.3).
func TestH3DynamicTableReference(t *testing.T) {
	for _, tt := range []struct {
		name    string
		section []byte
	}{
		{"Required Insert Count 1", []byte{0x02, 0x00, 0xd1}},
		{"dynamic indexed field", []byte{0x00, 0x00, 0x80}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dialH3(t, startH3(t, nil))
			c.request(h3Frame(0x01, tt.section))
			if got := c.closedWith(); got != 0x0200 {
				t.Fatalf("connection closed with %#x, want QPACK_DECOMPRESSION_FAILED", got)
			}
		})
	}
}

// TestH3Limits: a POST body beyond MaxBody is 413 and a field section
// beyond MaxHeaderBytes 431, on a connection that goes on serving.
func TestH3Limits(t *testing.T) {
	c := dialH3(t, startH3(t, func(c *Config) { c.MaxBody, c.MaxHeaderBytes = 512, 1024 }))
	post := []string{":method", "POST", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query",
		"content-type", "application/dns-message"}
	if r := c.request(h3Headers(post...), h3Frame(0x00, make([]byte, 300)), h3Frame(0x00, make([]byte, 300))); r.fields[":status"] != "413" {
		t.Errorf("600-byte body: %v %v, want 413", r.fields, r.err)
	}
	big := append(getFields(query(t, "a.test.", dns.TypeA, 0, 0)), "x-filler", strings.Repeat("x", 2000))
	if r := c.request(h3Headers(big...)); r.fields[":status"] != "431" {
		t.Errorf("2 KB of fields: %v %v, want 431", r.fields, r.err)
	}
	if r := c.request(h3Headers(getFields(query(t, "a.test.", dns.TypeA, 0, 0))...)); r.fields[":status"] != "200" {
		t.Errorf("a good request after: %v %v", r.fields, r.err)
	}
}

// TestH3GoAwayAtShutdown: Shutdown sends GOAWAY on the control stream, the
// request in flight is answered, one sent after the GOAWAY is rejected
// (H3_REQUEST_REJECTED, safe to retry elsewhere), and the connection then
// closes with H3_NO_ERROR.
func TestH3GoAwayAtShutdown(t *testing.T) {
	g := &gatedHandler{gate: make(chan struct{})}
	defer g.open()
	env := startH3(t, func(c *Config) { g.next, c.Handler = c.Handler, g })
	c := dialH3(t, env)
	ctl, _ := c.serverControl()
	got := make(chan h3Response, 1)
	go func() { got <- c.request(h3Headers(getFields(query(t, "a.test.", dns.TypeA, 0, 0))...)) }()
	for i := 0; i < 500 && g.cur.Load() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- env.srv.Shutdown(ctx)
	}()
	typ, err := quicvarint.Read(ctl)
	if err != nil || typ != 0x07 {
		t.Fatalf("control stream: frame %#x, %v; want GOAWAY", typ, err)
	}
	n, _ := quicvarint.Read(ctl)
	p := make([]byte, n)
	_, _ = ctl.Read(p)
	if id, _, err := quicvarint.Parse(p); err != nil || id != 4 {
		t.Errorf("GOAWAY names stream %d (%v), want 4: the one in flight is served", id, err)
	}
	if r := c.request(h3Headers(getFields(query(t, "b.test.", dns.TypeA, 0, 0))...)); streamCode(r.err) != 0x010b {
		t.Errorf("request after GOAWAY: %v %v, want a reset with H3_REQUEST_REJECTED", r.fields, r.err)
	}
	g.open()
	if r := <-got; r.err != nil || r.fields[":status"] != "200" {
		t.Fatalf("in-flight request: %v %v", r.fields, r.err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if got := c.closedWith(); got != 0x0100 {
		t.Fatalf("connection closed with %#x, want H3_NO_ERROR", got)
	}
}

// TestH3POSTAndHEAD: a POST in one DATA frame gets the chain's answer; a
// HEAD (405 on a DoH endpoint) gets the headers without the body.
func TestH3POSTAndHEAD(t *testing.T) {
	c := dialH3(t, startH3(t, nil))
	wire := query(t, "a.test.", dns.TypeA, 7, 0)
	post := []string{":method", "POST", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query",
		"content-type", "application/dns-message", "accept", "application/dns-message"}
	r := c.request(h3Headers(post...), h3Frame(0x00, wire))
	if r.err != nil || r.fields[":status"] != "200" || unpack(t, r.body).Id != 7 {
		t.Fatalf("POST: %v %v", r.fields, r.err)
	}
	head := append([]string{":method", "HEAD"}, getFields(wire)[2:]...)
	r = c.request(h3Headers(head...))
	if r.err != nil || r.fields[":status"] != "405" || r.fields["content-length"] == "0" || len(r.body) != 0 {
		t.Fatalf("HEAD: %v %q %v", r.fields, r.body, r.err)
	}
}

// TestH3IdleTimeout: a connection without requests for IdleTimeout gets
// GOAWAY and is closed with H3_NO_ERROR, even while QUIC keep-alives hold the transport
// open; one with a request in flight is not.
func TestH3IdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	g := &gatedHandler{gate: make(chan struct{})}
	defer g.open()
	env := startH3(t, func(c *Config) { g.next, c.Handler, c.IdleTimeout = c.Handler, g, idle })
	keepAlive := &quic.Config{KeepAlivePeriod: idle / 4}
	busy := dialH3With(t, env, keepAlive)
	got := make(chan h3Response, 1)
	go func() { got <- busy.request(h3Headers(getFields(query(t, "a.test.", dns.TypeA, 0, 0))...)) }()
	c := dialH3With(t, env, keepAlive)
	start := time.Now()
	ctl, _ := c.serverControl()
	if typ, err := quicvarint.Read(ctl); err != nil || typ != 0x07 {
		t.Fatalf("idle connection's control stream: frame %#x, %v; want GOAWAY", typ, err)
	}
	if code := c.closedWith(); code != 0x0100 {
		t.Fatalf("idle connection closed with %#x, want H3_NO_ERROR", code)
	}
	if d := time.Since(start); d < idle/2 || d > 10*idle {
		t.Errorf("idle connection closed after %v, IdleTimeout is %v", d, idle)
	}
	if busy.qc.Context().Err() != nil {
		t.Fatal("the connection with a request in flight was closed as idle")
	}
	g.open()
	if r := <-got; r.err != nil || r.fields[":status"] != "200" {
		t.Fatalf("request in flight: %v %v", r.fields, r.err)
	}
}
