package doh

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/resolver"
	"golang.org/x/net/http2"
)

// TestH2OversizedFrameHeader: a frame header beyond the MAX_FRAME_SIZE we
// advertise (the default 16384) is a FRAME_SIZE_ERROR at once; 9 bytes must
// not make the server allocate (and keep) a 16 MiB read buffer.
func TestH2OversizedFrameHeader(t *testing.T) {
	env, _ := startH2Server(t, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const conns = 8
	cs := make([]*h2Client, conns)
	for i := range cs {
		c := dialH2(t, env, []http2.Setting{})
		c.t = t
		c.until("SETTINGS ACK", func(f frame) bool { return f.typ == http2.FrameSettings && f.ack })
		// frame header only: length 2^24-1, unknown type 0xfa, stream 0
		hdr := []byte{0xff, 0xff, 0xff, 0xfa, 0, 0, 0, 0, 0}
		if _, err := c.conn.Write(hdr); err != nil {
			t.Fatal(err)
		}
		cs[i] = c
	}
	time.Sleep(300 * time.Millisecond)
	runtime.ReadMemStats(&after)
	// A 16 MiB buffer each would be 128 MiB; the bound leaves room for the
	// rest of the process.
	if grew := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) >> 20; grew >= 32 {
		t.Fatalf("heap grew %d MiB for %d nine-byte frame headers", grew, conns)
	}
	_ = cs[0].conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	f, ok := cs[0].next()
	if !ok || f.typ != http2.FrameGoAway || f.code != http2.ErrCodeFrameSize {
		t.Fatalf("got %v %v (ok=%v), want GOAWAY FRAME_SIZE_ERROR", f.typ, f.code, ok)
	}
}

// panicReplayer panics in Replay, which runs on the connection's reader.
type panicReplayer struct{ resolver.Handler }

var _ resolver.Replayer = panicReplayer{}

func (panicReplayer) Replay(*resolver.Request, []byte, []byte) ([]byte, uint32, bool) {
	panic("boom")
}
func (panicReplayer) Sent(*resolver.Request, []byte, []byte) {}

// TestH2PanicOnReader: a panic on the connection's reader (here in Replay)
// resets that stream; it must not wedge the connection, whose lock the
// reader holds.
func TestH2PanicOnReader(t *testing.T) {
	env := startServer(t, func(c *Config) { c.Handler = panicReplayer{resolver.HandlerFunc(staticAnswer)} })
	c := dialH2(t, env, []http2.Setting{})
	c.t = t
	c.get(1, "a.test.")
	_ = c.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatal("connection wedged: no RST/GOAWAY/close 3s after a panic on the reader")
			}
			return // closed: fine
		}
		if f.Header().Type == http2.FrameRSTStream || f.Header().Type == http2.FrameGoAway {
			return
		}
	}
}

// TestH2ParkedAnswerExpires: an answer waiting for flow-control window that
// a client never grants is reset after the write timeout, not kept forever.
func TestH2ParkedAnswerExpires(t *testing.T) {
	env, _ := startH2Server(t, func(c *Config) {
		c.IdleTimeout, c.ReadTimeout, c.QueryTimeout = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	})
	c := dialH2(t, env, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 0}})
	c.t = t
	c.get(1, "big.test.")
	_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatal("answer parked on a zero window for 2s, 5x the write timeout: nothing bounds it")
			}
			return
		}
		if f.Header().Type == http2.FrameGoAway || f.Header().Type == http2.FrameRSTStream {
			return
		}
	}
}

// TestH2PingDoesNotDefeatIdle: PINGs do not keep a connection with no
// streams alive past IdleTimeout.
func TestH2PingDoesNotDefeatIdle(t *testing.T) {
	env, _ := startH2Server(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	c := dialH2(t, env, []http2.Setting{})
	c.t = t
	deadline := time.Now().Add(1500 * time.Millisecond)
	go func() {
		for time.Now().Before(deadline) {
			if c.fr.WritePing(false, [8]byte{}) != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	_ = c.conn.SetReadDeadline(deadline)
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("no GOAWAY within 5x IdleTimeout while only PINGs were sent (err %v)", err)
		}
		if f.Header().Type == http2.FrameGoAway {
			return
		}
	}
}

// TestH2ShutdownMidHeaderBlock: Shutdown while the reader waits for a
// CONTINUATION still finishes the in-flight stream rather than failing the
// read and closing the connection.
func TestH2ShutdownMidHeaderBlock(t *testing.T) {
	env, h := startH2Server(t, nil)
	c := dialH2(t, env, []http2.Setting{})
	c.t = t
	c.get(1, "slow.test.")
	h.waitEntered(t, 1)
	b := c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query?dns=AAAB")
	c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: b[:3], EndStream: true}))
	time.Sleep(100 * time.Millisecond)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = env.srv.Shutdown(ctx)
	}()
	c.until("GOAWAY", func(f frame) bool { return f.typ == http2.FrameGoAway })
	c.check(c.fr.WriteContinuation(3, true, b[3:]))
	close(h.gate)
	for {
		f, ok := c.next()
		if !ok {
			t.Fatal("connection closed before in-flight stream 1 was answered")
		}
		if f.stream == 1 && f.end {
			return
		}
	}
}

// TestH2ContinuationFloodEndsConnection: a header block is decoded past
// MaxHeaderBytes (to refuse only its stream), but not without end: once
// its encoded size passes 4×MaxHeaderBytes the connection ends instead
// (CVE-2023-45288).
func TestH2ContinuationFloodEndsConnection(t *testing.T) {
	env, _ := startH2Server(t, func(c *Config) { c.MaxHeaderBytes = 4 << 10 })
	c := dialH2(t, env, []http2.Setting{})
	c.t = t
	big := strings.Repeat("a", 3<<10)
	c.check(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true,
		BlockFragment: c.block(":method", "GET", ":scheme", "https", ":authority", "dns.test", ":path", "/dns-query", "x-a", big)}))
	for i := range 10 { // 33 KB in all; the connection must end past 16 KB
		if c.fr.WriteContinuation(1, false, c.block(fmt.Sprintf("x-%d", i), big)) != nil {
			break // closed already
		}
	}
	if f := c.goAway(); f.code != http2.ErrCodeProtocol {
		t.Fatalf("GOAWAY %v, want PROTOCOL_ERROR", f.code)
	}
}
