package doh

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/frontendtest"
	"github.com/dnsward/dnsward/resolver"
	"github.com/miekg/dns"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Client speaks raw HTTP/2 frames to the server, to drive it where Go's
// client never goes.
type h2Client struct {
	t    *testing.T
	conn *tls.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
}

// dialH2 connects with ALPN h2, sends the preface and, unless settings is
// nil, a SETTINGS frame with them.
func dialH2(t *testing.T, env *testEnv, settings []http2.Setting) *h2Client {
	t.Helper()
	conn, err := tls.Dial("tcp", env.srv.TLSAddrs()[0].String(), h2ClientTLS(env))
	if err != nil {
		t.Fatal(err)
	}
	return newH2Client(t, conn, settings)
}

// dialH2Records is dialH2 (with default settings) over a connection that
// counts the TLS records the server sends and can hold the client's writes.
func dialH2Records(t *testing.T, env *testEnv) (*h2Client, *frontendtest.RecordConn) {
	t.Helper()
	raw, err := net.Dial("tcp", env.srv.TLSAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	rc := &frontendtest.RecordConn{Conn: raw}
	conn := tls.Client(rc, h2ClientTLS(env))
	if err := conn.Handshake(); err != nil {
		raw.Close()
		t.Fatal(err)
	}
	return newH2Client(t, conn, []http2.Setting{}), rc
}

func h2ClientTLS(env *testEnv) *tls.Config {
	return &tls.Config{RootCAs: env.pki.Pool, ServerName: "dns.test", NextProtos: []string{"h2"}}
}

// newH2Client sends the preface on conn and, unless settings is nil, a
// SETTINGS frame with them.
func newH2Client(t *testing.T, conn *tls.Conn, settings []http2.Setting) *h2Client {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := &h2Client{t: t, conn: conn, fr: http2.NewFramer(conn, conn)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.hbuf)
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if settings != nil {
		c.check(c.fr.WriteSettings(settings...))
	}
	return c
}

func (c *h2Client) check(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

// block HPACK-encodes header fields given as name, value pairs.
func (c *h2Client) block(kv ...string) []byte {
	c.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		c.check(c.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]}))
	}
	return bytes.Clone(c.hbuf.Bytes())
}

// get sends a GET for name on stream id.
func (c *h2Client) get(id uint32, name string) {
	c.t.Helper()
	path := dohURL("", "", "/dns-query", query(c.t, name, dns.TypeA, 0, 0))[len("://"):]
	c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndStream: true, EndHeaders: true,
		BlockFragment: c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", path)}))
}

// post opens a POST on stream id; the body follows as DATA.
func (c *h2Client) post(id uint32, extra ...string) {
	c.t.Helper()
	kv := append([]string{":method", "POST", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query",
		"content-type", "application/dns-message"}, extra...)
	c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, BlockFragment: c.block(kv...)}))
}

// frame is a copy of what the tests look at in a frame.
type frame struct {
	typ     http2.FrameType
	stream  uint32
	end     bool
	status  string
	data    []byte
	code    http2.ErrCode
	lastID  uint32
	incr    uint32
	ack     bool
	setting map[http2.SettingID]uint32
	ping    [8]byte
}

// next reads the next frame; ok is false once the connection ends.
func (c *h2Client) next() (frame, bool) {
	f, err := c.fr.ReadFrame()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatal("no frame from the server in time")
		}
		return frame{}, false
	}
	out := frame{typ: f.Header().Type, stream: f.Header().StreamID}
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		out.end, out.status = f.StreamEnded(), f.PseudoValue("status")
	case *http2.DataFrame:
		out.end, out.data = f.StreamEnded(), bytes.Clone(f.Data())
	case *http2.RSTStreamFrame:
		out.code = f.ErrCode
	case *http2.GoAwayFrame:
		out.code, out.lastID = f.ErrCode, f.LastStreamID
	case *http2.WindowUpdateFrame:
		out.incr = f.Increment
	case *http2.SettingsFrame:
		out.ack, out.setting = f.IsAck(), map[http2.SettingID]uint32{}
		_ = f.ForeachSetting(func(s http2.Setting) error { out.setting[s.ID] = s.Val; return nil })
	case *http2.PingFrame:
		out.ack, out.ping = f.IsAck(), f.Data
	}
	return out, true
}

// until reads frames until match accepts one; it fails if the connection
// ends first.
func (c *h2Client) until(what string, match func(frame) bool) frame {
	c.t.Helper()
	for {
		f, ok := c.next()
		if !ok {
			c.t.Fatalf("connection ended before %s", what)
		}
		if match(f) {
			return f
		}
	}
}

// response reads stream id's answer: its status and whole body.
func (c *h2Client) response(id uint32) (string, []byte) {
	c.t.Helper()
	var status string
	var body []byte
	for {
		f := c.until("the answer", func(f frame) bool { return f.stream == id || f.typ == http2.FrameGoAway })
		switch f.typ {
		case http2.FrameHeaders:
			status = f.status
		case http2.FrameData:
			body = append(body, f.data...)
		case http2.FrameRSTStream:
			c.t.Fatalf("stream %d reset: %v", id, f.code)
		case http2.FrameGoAway:
			c.t.Fatalf("GOAWAY %v before the answer", f.code)
		}
		if f.end {
			return status, body
		}
	}
}

// statuses reads frames until the given streams have ended and returns
// their statuses.
func (c *h2Client) statuses(ids ...uint32) map[uint32]string {
	c.t.Helper()
	got := map[uint32]string{}
	for open := len(ids); open > 0; {
		f := c.until("the answers", func(f frame) bool { return slices.Contains(ids, f.stream) })
		if f.typ == http2.FrameRSTStream {
			c.t.Fatalf("stream %d reset: %v", f.stream, f.code)
		}
		if f.typ == http2.FrameHeaders {
			got[f.stream] = f.status
		}
		if f.end {
			open--
		}
	}
	return got
}

// goAway reads until GOAWAY and then the end of the connection.
func (c *h2Client) goAway() frame {
	c.t.Helper()
	f := c.until("GOAWAY", func(f frame) bool { return f.typ == http2.FrameGoAway })
	for {
		if _, ok := c.next(); !ok {
			return f
		}
	}
}

// h2TestHandler answers slow.test. only when opened (or cancelled),
// big.test. with about 60 KB of TXT records and anything else at once.
type h2TestHandler struct {
	gate      chan struct{}
	entered   chan struct{}
	cancelled chan struct{}
}

func newH2TestHandler() *h2TestHandler {
	return &h2TestHandler{gate: make(chan struct{}), entered: make(chan struct{}, 64), cancelled: make(chan struct{}, 64)}
}

func (h *h2TestHandler) ServeDNS(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
	switch req.Msg.Question[0].Name {
	case "slow.test.":
		h.entered <- struct{}{}
		select {
		case <-h.gate:
		case <-ctx.Done():
			h.cancelled <- struct{}{}
			return nil, ctx.Err()
		case <-time.After(10 * time.Second): // bound for a broken test
		}
	case "big.test.":
		m := resolver.NewReply(req.Msg, dns.RcodeSuccess)
		for range 230 {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: "big.test.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
				Txt: []string{strings.Repeat("x", 250)}})
		}
		return m, nil
	}
	return staticAnswer(ctx, req)
}

// waitEntered waits until n slow requests are in the handler.
func (h *h2TestHandler) waitEntered(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-h.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("slow request never reached the handler")
		}
	}
}

// startH2Server starts a server answering through an h2TestHandler.
func startH2Server(t *testing.T, mod func(*Config)) (*testEnv, *h2TestHandler) {
	t.Helper()
	h := newH2TestHandler()
	t.Cleanup(func() {
		select {
		case <-h.gate:
		default:
			close(h.gate)
		}
	})
	env := startServer(t, func(c *Config) {
		c.Handler = h
		if mod != nil {
			mod(c)
		}
	})
	return env, h
}
