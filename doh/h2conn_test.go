package doh

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/dnsward/dnsward/internal/frontendtest"
)

// h2StreamWindow is the builtin engine's INITIAL_WINDOW_SIZE: one maximal DoH body.
const h2StreamWindow = 65535

// TestH2SettingsAndPing: the server's SETTINGS carry the configured limits,
// ours are acknowledged, and a PING comes back acknowledged with its data.
func TestH2SettingsAndPing(t *testing.T) {
	env, _ := startH2Server(t, func(c *Config) { c.MaxStreams, c.MaxHeaderBytes = 7, 8<<10 })
	c := dialH2(t, env, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1 << 20}})
	f := c.until("SETTINGS", func(f frame) bool { return f.typ == http2.FrameSettings && !f.ack })
	for id, want := range map[http2.SettingID]uint32{
		http2.SettingMaxConcurrentStreams: 7,
		http2.SettingInitialWindowSize:    h2StreamWindow,
		http2.SettingMaxHeaderListSize:    8 << 10,
	} {
		if got, ok := f.setting[id]; !ok || got != want {
			t.Errorf("%v = %d (sent: %v), want %d", id, got, ok, want)
		}
	}
	c.until("SETTINGS ACK", func(f frame) bool { return f.typ == http2.FrameSettings && f.ack })
	data := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	c.check(c.fr.WritePing(false, data))
	if p := c.until("PING ACK", func(f frame) bool { return f.typ == http2.FramePing }); !p.ack || p.ping != data {
		t.Fatalf("PING answered with ack=%v data=%v", p.ack, p.ping)
	}
	c.get(1, "a.test.")
	if status, body := c.response(1); status != "200" || firstA(unpack(t, body)) != "127.0.0.1" {
		t.Fatalf("GET: %s %x", status, body)
	}
}

// TestH2ProtocolErrors drives the stream state machine and frame rules of
// RFC 9113 into errors: connection errors end with GOAWAY and that code,
// stream errors reset the stream and leave the connection serving.
func TestH2ProtocolErrors(t *testing.T) {
	env, h := startH2Server(t, nil)
	tests := []struct {
		name       string
		noSettings bool
		send       func(c *h2Client)
		goAway     http2.ErrCode // a connection error, or
		rst        http2.ErrCode // a stream error on stream 1
	}{
		{"first frame not SETTINGS", true, func(c *h2Client) { c.check(c.fr.WritePing(false, [8]byte{})) }, http2.ErrCodeProtocol, 0},
		{"DATA on idle stream", false, func(c *h2Client) { c.check(c.fr.WriteData(5, true, []byte("x"))) }, http2.ErrCodeProtocol, 0},
		{"HEADERS on even stream", false, func(c *h2Client) { c.get(2, "a.test.") }, http2.ErrCodeProtocol, 0},
		{"stream ID going backwards", false, func(c *h2Client) {
			c.get(5, "a.test.")
			c.response(5)
			c.get(3, "a.test.")
		}, http2.ErrCodeProtocol, 0},
		{"CONTINUATION interleaved", false, func(c *h2Client) {
			b := c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query?dns=AAAB")
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:3], EndStream: true}))
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: b, EndStream: true, EndHeaders: true}))
		}, http2.ErrCodeProtocol, 0},
		{"RST_STREAM on idle stream", false, func(c *h2Client) { c.check(c.fr.WriteRSTStream(7, http2.ErrCodeCancel)) }, http2.ErrCodeProtocol, 0},
		{"connection window overflow", false, func(c *h2Client) { c.check(c.fr.WriteWindowUpdate(0, 1<<31-1)) }, http2.ErrCodeFlowControl, 0},
		{"invalid MAX_FRAME_SIZE", false, func(c *h2Client) {
			c.check(c.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 100}))
		}, http2.ErrCodeProtocol, 0},
		{"PUSH_PROMISE from a client", false, func(c *h2Client) {
			c.check(c.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: c.block(":method", "GET"), EndHeaders: true}))
		}, http2.ErrCodeProtocol, 0},
		{"DATA after END_STREAM", false, func(c *h2Client) {
			c.get(1, "slow.test.")
			h.waitEntered(t, 1)
			c.check(c.fr.WriteData(1, true, []byte("x")))
		}, 0, http2.ErrCodeStreamClosed},
		{"missing :path", false, func(c *h2Client) {
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
				BlockFragment: c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test")}))
		}, 0, http2.ErrCodeProtocol},
		{"connection-specific header", false, func(c *h2Client) {
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
				BlockFragment: c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query", "connection", "keep-alive")}))
		}, 0, http2.ErrCodeProtocol},
		{"content-length mismatch", false, func(c *h2Client) {
			c.post(1, "content-length", "10")
			c.check(c.fr.WriteData(1, true, []byte("abc")))
		}, 0, http2.ErrCodeProtocol},
		{"upper-case header name", false, func(c *h2Client) {
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
				BlockFragment: c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query", "X-Up", "1")}))
		}, 0, http2.ErrCodeProtocol},
		{"pseudo-header after a regular one", false, func(c *h2Client) {
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
				BlockFragment: c.block(":method", "GET", ":scheme", "https", "accept", "*/*", ":authority", "dns.test", ":path", "/dns-query")}))
		}, 0, http2.ErrCodeProtocol},
		{"duplicate :path", false, func(c *h2Client) {
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
				BlockFragment: c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query", ":path", "/ads")}))
		}, 0, http2.ErrCodeProtocol},
		{"header value with a newline", false, func(c *h2Client) {
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
				BlockFragment: c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query", "accept", "a\nb")}))
		}, 0, http2.ErrCodeProtocol},
		{"CONTINUATION after an invalid header", false, func(c *h2Client) {
			b := c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query", "X-Up", "1")
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b, EndStream: true}))
			c.check(c.fr.WriteContinuation(1, true, c.block("accept", "*/*")))
		}, http2.ErrCodeProtocol, 0},
		{"HEADERS on stream 0", false, func(c *h2Client) {
			c.check(c.fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 0, []byte{0x82}))
		}, http2.ErrCodeProtocol, 0},
		{"HEADERS padding beyond the payload", false, func(c *h2Client) {
			c.check(c.fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersPadded|http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, []byte{10, 0x82}))
		}, http2.ErrCodeProtocol, 0},
		{"HEADERS too short for its priority", false, func(c *h2Client) {
			c.check(c.fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersPriority|http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, []byte{0, 0}))
		}, http2.ErrCodeFrameSize, 0},
		{"HEADERS depending on its own stream", false, func(c *h2Client) {
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
				Priority:      http2.PriorityParam{StreamDep: 1, Weight: 15},
				BlockFragment: c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query", "x-indexed", "v")}))
		}, 0, http2.ErrCodeProtocol},
		{"HPACK garbage", false, func(c *h2Client) {
			c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff, 0xff}}))
		}, http2.ErrCodeCompression, 0},
		{"stream window overflow", false, func(c *h2Client) {
			c.get(1, "slow.test.")
			h.waitEntered(t, 1)
			c.check(c.fr.WriteWindowUpdate(1, 1<<31-1))
		}, 0, http2.ErrCodeFlowControl},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var settings []http2.Setting
			if tt.noSettings {
				settings = nil
			} else {
				settings = []http2.Setting{}
			}
			c := dialH2(t, env, settings)
			c.t = t
			tt.send(c)
			if tt.goAway != 0 {
				if f := c.goAway(); f.code != tt.goAway {
					t.Fatalf("GOAWAY %v, want %v", f.code, tt.goAway)
				}
				return
			}
			f := c.until("RST_STREAM", func(f frame) bool { return f.typ == http2.FrameRSTStream || f.typ == http2.FrameGoAway })
			if f.typ != http2.FrameRSTStream || f.stream != 1 || f.code != tt.rst {
				t.Fatalf("got %v on stream %d with %v, want RST_STREAM %v on stream 1", f.typ, f.stream, f.code, tt.rst)
			}
			c.get(101, "a.test.") // the connection still serves
			if status, _ := c.response(101); status != "200" {
				t.Fatalf("after the stream error: status %s", status)
			}
		})
	}
}

// TestH2HeaderBlockInFragments: a request whose header block spans a
// HEADERS frame and two CONTINUATION frames is served.
func TestH2HeaderBlockInFragments(t *testing.T) {
	env, _ := startH2Server(t, nil)
	c := dialH2(t, env, []http2.Setting{})
	c.t = t
	path := dohURL("", "", "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0))[len("://"):]
	b := c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", path, "accept", "application/dns-message")
	c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:5], EndStream: true}))
	c.check(c.fr.WriteContinuation(1, false, b[5:9]))
	c.check(c.fr.WriteContinuation(1, true, b[9:]))
	if status, body := c.response(1); status != "200" || firstA(unpack(t, body)) != "127.0.0.1" {
		t.Fatalf("status %s, body %x", status, body)
	}
}

// TestH2HeadersPaddedWithPriority: a HEADERS frame with padding and a
// priority (RFC 9113 §6.2) is served like any other.
func TestH2HeadersPaddedWithPriority(t *testing.T) {
	env, _ := startH2Server(t, nil)
	c := dialH2(t, env, []http2.Setting{})
	c.t = t
	path := dohURL("", "", "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0))[len("://"):]
	c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true, PadLength: 200,
		Priority:      http2.PriorityParam{StreamDep: 0, Exclusive: true, Weight: 200},
		BlockFragment: c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", path)}))
	if status, body := c.response(1); status != "200" || firstA(unpack(t, body)) != "127.0.0.1" {
		t.Fatalf("status %s, body %x", status, body)
	}
}

// TestH2PeerHeaderTableSize: answers stay decodable by a client whose
// SETTINGS_HEADER_TABLE_SIZE is 0 from the start, or shrinks mid-connection
// and grows back (RFC 7541 §4.2: the server signals each change).
func TestH2PeerHeaderTableSize(t *testing.T) {
	env, _ := startH2Server(t, nil)
	tests := []struct {
		name  string
		sizes []uint32 // the client's table size for each run of requests
	}{
		{"zero from the start", []uint32{0}},
		{"shrinks and grows back", []uint32{4096, 40, 0, 4096}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialH2(t, env, []http2.Setting{{ID: http2.SettingHeaderTableSize, Val: tt.sizes[0]}})
			c.t = t
			dec := hpack.NewDecoder(tt.sizes[0], nil)
			c.fr.ReadMetaHeaders = dec
			id := uint32(1)
			for i, size := range tt.sizes {
				if i > 0 {
					c.check(c.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: size}))
					c.until("SETTINGS ack", func(f frame) bool { return f.typ == http2.FrameSettings && f.ack })
					dec.SetAllowedMaxDynamicTableSize(size)
				}
				for range 5 {
					c.get(id, "a.test.")
					if status, body := c.response(id); status != "200" || firstA(unpack(t, body)) != "127.0.0.1" {
						t.Fatalf("table size %d, stream %d: status %s", size, id, status)
					}
					id += 2
				}
			}
		})
	}
}

// TestH2IgnoredFrames: PRIORITY and frames of unknown type are ignored.
func TestH2IgnoredFrames(t *testing.T) {
	env, _ := startH2Server(t, nil)
	c := dialH2(t, env, []http2.Setting{})
	c.check(c.fr.WritePriority(3, http2.PriorityParam{StreamDep: 1, Weight: 10}))
	c.check(c.fr.WriteRawFrame(0xfa, 0, 0, []byte("unknown extension")))
	c.check(c.fr.WriteRawFrame(0xfb, 0, 9, nil))
	c.get(1, "a.test.")
	if status, _ := c.response(1); status != "200" {
		t.Fatalf("status %s", status)
	}
}

// TestH2FlowControl: the server never sends beyond the windows the client
// grants, a large answer goes out in pieces as the client opens its window,
// and request bodies beyond one window get their window back.
func TestH2FlowControl(t *testing.T) {
	env, _ := startH2Server(t, nil)
	t.Run("large answer over a tiny window", func(t *testing.T) {
		for _, step := range []uint32{100, 7000} {
			c := dialH2(t, env, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: step}})
			c.t = t
			c.until("SETTINGS ACK", func(f frame) bool { return f.typ == http2.FrameSettings && f.ack })
			c.get(1, "big.test.")
			stream, conn := int64(step), int64(65535) // granted so far
			var body []byte
			status := ""
			for done := false; !done; {
				f := c.until("the answer", func(f frame) bool { return f.stream == 1 })
				switch f.typ {
				case http2.FrameHeaders:
					status = f.status
				case http2.FrameData:
					body = append(body, f.data...)
					if int64(len(body)) > stream || int64(len(body)) > conn {
						t.Fatalf("window %d: %d bytes sent, window granted %d (connection %d)", step, len(body), stream, conn)
					}
				default:
					t.Fatalf("unexpected %v", f.typ)
				}
				done = f.end
				if !done && int64(len(body)) == stream { // the server must wait for us
					c.check(c.fr.WriteWindowUpdate(1, step))
					c.check(c.fr.WriteWindowUpdate(0, step))
					stream, conn = stream+int64(step), conn+int64(step)
				}
			}
			m := unpack(t, body)
			if status != "200" || len(m.Answer) != 230 || len(body) < 60000 {
				t.Fatalf("window %d: status %s, %d bytes, %d records", step, status, len(body), len(m.Answer))
			}
		}
	})
	t.Run("POST body in several DATA frames", func(t *testing.T) {
		c := dialH2(t, env, []http2.Setting{})
		wire := query(t, "a.test.", dns.TypeA, 0, 0)
		c.post(1)
		for _, part := range [][]byte{wire[:5], wire[5:12], wire[12:]} {
			c.check(c.fr.WriteData(1, false, part))
		}
		c.check(c.fr.WriteData(1, true, nil))
		got := int64(0)
		status, body := "", []byte(nil)
		for done := false; !done; {
			f := c.until("the answer", func(f frame) bool { return f.stream == 1 || f.typ == http2.FrameWindowUpdate })
			switch f.typ {
			case http2.FrameWindowUpdate:
				if f.stream == 1 {
					got += int64(f.incr)
				}
			case http2.FrameHeaders:
				status = f.status
			case http2.FrameData:
				body = append(body, f.data...)
			}
			done = f.stream == 1 && f.end
		}
		if status != "200" || firstA(unpack(t, body)) != "127.0.0.1" {
			t.Fatalf("status %s, answer %x", status, body)
		}
		if got != int64(len(wire)) {
			t.Fatalf("stream window given back: %d bytes, want %d", got, len(wire))
		}
	})
	t.Run("POST body beyond the stream window", func(t *testing.T) {
		c := dialH2(t, env, []http2.Setting{})
		c.post(1)
		window, sent, total := int64(h2StreamWindow), int64(0), int64(MaxMessageSize+5000)
		chunk := make([]byte, 16384)
		for {
			for sent < total && sent < window {
				n := min(int64(len(chunk)), total-sent, window-sent)
				c.check(c.fr.WriteData(1, sent+n == total, chunk[:n]))
				sent += n
			}
			f := c.until("a window update or answer", func(f frame) bool { return f.stream == 1 })
			switch f.typ {
			case http2.FrameWindowUpdate:
				window += int64(f.incr)
				continue
			case http2.FrameHeaders:
				if f.status != "413" {
					t.Fatalf("status %s, want 413", f.status)
				}
			default:
				t.Fatalf("unexpected %v %v", f.typ, f.code)
			}
			break
		}
		if window <= h2StreamWindow {
			t.Fatal("the server never gave stream window back")
		}
	})
}

// TestH2StreamLimit: streams beyond MAX_CONCURRENT_STREAMS are refused with
// REFUSED_STREAM; those within the limit are answered.
func TestH2StreamLimit(t *testing.T) {
	env, h := startH2Server(t, func(c *Config) { c.MaxStreams = 2 })
	c := dialH2(t, env, []http2.Setting{})
	c.get(1, "slow.test.")
	c.get(3, "slow.test.")
	h.waitEntered(t, 2)
	c.get(5, "a.test.")
	if f := c.until("RST_STREAM", func(f frame) bool { return f.stream == 5 }); f.typ != http2.FrameRSTStream || f.code != http2.ErrCodeRefusedStream {
		t.Fatalf("stream 5: %v %v, want RST_STREAM REFUSED_STREAM", f.typ, f.code)
	}
	close(h.gate)
	for id, status := range c.statuses(1, 3) {
		if status != "200" {
			t.Fatalf("stream %d: status %s", id, status)
		}
	}
	c.get(7, "a.test.")
	if status, _ := c.response(7); status != "200" {
		t.Fatalf("after the limit: status %s", status)
	}
}

// TestH2ResetCancels: RST_STREAM from the client cancels the request's
// context, and the connection goes on.
func TestH2ResetCancels(t *testing.T) {
	env, h := startH2Server(t, nil)
	c := dialH2(t, env, []http2.Setting{})
	c.get(1, "slow.test.")
	h.waitEntered(t, 1)
	c.check(c.fr.WriteRSTStream(1, http2.ErrCodeCancel))
	select {
	case <-h.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's context was not cancelled")
	}
	c.get(3, "a.test.")
	if status, _ := c.response(3); status != "200" {
		t.Fatalf("status %s", status)
	}
}

// TestH2Timeouts: an idle connection gets GOAWAY NO_ERROR and is closed; a
// request whose body never comes is answered 400 after ReadTimeout.
func TestH2Timeouts(t *testing.T) {
	env, _ := startH2Server(t, func(c *Config) {
		c.IdleTimeout, c.ReadTimeout = 300*time.Millisecond, 300*time.Millisecond
	})
	t.Run("idle", func(t *testing.T) {
		env, _ := startH2Server(t, func(c *Config) { c.IdleTimeout = time.Second })
		c := dialH2(t, env, []http2.Setting{})
		c.t = t
		time.Sleep(600 * time.Millisecond) // the idle time counts from the last answer, not from the connection's start
		c.get(1, "a.test.")
		c.response(1)
		answered := time.Now()
		if f := c.goAway(); f.code != http2.ErrCodeNo || f.lastID != 1 {
			t.Fatalf("GOAWAY %v last stream %d, want NO_ERROR 1", f.code, f.lastID)
		}
		// Sooner: the clock ran from the connection's start; twice the
		// timeout: it started late.
		if d := time.Since(answered); d < 900*time.Millisecond || d > 1700*time.Millisecond {
			t.Fatalf("GOAWAY %v after the answer, want about the 1s IdleTimeout", d)
		}
	})
	t.Run("body never sent", func(t *testing.T) {
		c := dialH2(t, env, []http2.Setting{})
		c.t = t
		c.post(1)
		if status, _ := c.response(1); status != "400" {
			t.Fatalf("status %s, want 400", status)
		}
	})
}

// TestH2GracefulShutdown: Shutdown sends GOAWAY NO_ERROR naming the last
// stream, refuses new streams, answers the one in flight, then closes.
func TestH2GracefulShutdown(t *testing.T) {
	env, h := startH2Server(t, nil)
	c := dialH2(t, env, []http2.Setting{})
	c.get(1, "slow.test.")
	h.waitEntered(t, 1)
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- env.srv.Shutdown(ctx)
	}()
	if f := c.until("GOAWAY", func(f frame) bool { return f.typ == http2.FrameGoAway }); f.code != http2.ErrCodeNo || f.lastID != 1 {
		t.Fatalf("GOAWAY %v last stream %d, want NO_ERROR 1", f.code, f.lastID)
	}
	c.get(3, "a.test.")
	if f := c.until("RST_STREAM", func(f frame) bool { return f.stream == 3 }); f.code != http2.ErrCodeRefusedStream {
		t.Fatalf("new stream after GOAWAY: %v %v", f.typ, f.code)
	}
	close(h.gate)
	if status, _ := c.response(1); status != strconv.Itoa(http.StatusOK) {
		t.Fatalf("in-flight stream: status %s", status)
	}
	for {
		if _, ok := c.next(); !ok {
			break
		}
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

// TestH2ResetRatio: a connection whose client resets most of the streams it
// opens is told to calm down (before its queue of waiting requests fills),
// while one resetting a few streams is served on.
func TestH2ResetRatio(t *testing.T) {
	tests := []struct {
		name       string
		qname      string
		streams    int
		resetEvery int
		calm       bool
	}{
		{"rapid reset of slow requests", "slow.test.", 300, 1, true},
		{"one stream in ten reset", "a.test.", 600, 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			env, h := startH2Server(t, func(c *Config) { c.MaxStreams, c.Metrics = 100, reg })
			c := dialH2(t, env, []http2.Setting{})
			c.t = t
			frames := make(chan frame, 1)
			go func() {
				defer close(frames)
				for {
					f, ok := c.next()
					if !ok {
						return
					}
					if f.typ == http2.FrameGoAway {
						frames <- f
					}
				}
			}()
			path := dohURL("", "", "/dns-query", query(t, tt.qname, dns.TypeA, 0, 0))[len("://"):]
			block := c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", path)
			for i := range tt.streams { // until the server hangs up
				id := uint32(2*i + 1)
				if c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndStream: true, EndHeaders: true, BlockFragment: block}) != nil {
					break
				}
				if i%tt.resetEvery == 0 && c.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
					break
				}
			}
			if n := len(h.entered); n > 100 {
				t.Fatalf("%d slow handlers started, MaxStreams is 100", n)
			}
			if !tt.calm {
				_ = c.fr.WriteGoAway(0, http2.ErrCodeNo, nil)
			}
			f, ok := <-frames
			switch {
			case tt.calm && (!ok || f.code != http2.ErrCodeEnhanceYourCalm):
				t.Fatalf("no GOAWAY ENHANCE_YOUR_CALM (got %v, %v)", f.code, ok)
			case !tt.calm && ok && f.code == http2.ErrCodeEnhanceYourCalm:
				t.Fatal("told to calm down for a few resets")
			}
			if got := metricValue(t, reg, "dnsward_doh_http2_errors_total", "conn_ENHANCE_YOUR_CALM_too_many_early_resets"); (got > 0) != tt.calm {
				t.Fatalf("flood defence counted %v times", got)
			}
		})
	}
}

// TestH2RepliesShareRecords: browsers write each request in a TLS record of
// its own, and one read of the socket often carries several. The engine
// reads every request the TLS layer already holds before it writes, so the
// replayed answers to requests that arrived together share records, where
// writing whenever the current record ran out gave each answer its own.
func TestH2RepliesShareRecords(t *testing.T) {
	h := frontendtest.NewCounting(t)
	env := startServer(t, func(c *Config) { c.Handler = h })
	c, rc := dialH2Records(t, env)
	c.get(1, "share.example.") // later repeats are replayed
	if status, _ := c.response(1); status != "200" {
		t.Fatalf("first answer: status %s", status)
	}
	const n = 32
	var ids []uint32
	before := rc.Records()
	rc.Hold()
	for i := range n {
		ids = append(ids, uint32(3+2*i))
		c.get(ids[i], "share.example.")
	}
	if err := rc.Release(); err != nil {
		t.Fatal(err)
	}
	for id, status := range c.statuses(ids...) {
		if status != "200" {
			t.Fatalf("stream %d: status %s", id, status)
		}
	}
	if got := rc.Records() - before; got > n/4 {
		t.Errorf("%d answers came in %d TLS records, want at most %d", n, got, n/4)
	}
}
