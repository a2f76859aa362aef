package doh

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsward/dnsward/resolver"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// gatedHandler counts concurrent calls; while gated it holds every call
// (ignoring cancellation, like a slow upstream) until released.
type gatedHandler struct {
	next        resolver.Handler
	gate        chan struct{}
	release     sync.Once
	calls, cur  atomic.Int64
	maxInFlight atomic.Int64
}

func (g *gatedHandler) ServeDNS(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
	g.calls.Add(1)
	n := g.cur.Add(1)
	defer g.cur.Add(-1)
	for m := g.maxInFlight.Load(); n > m && !g.maxInFlight.CompareAndSwap(m, n); m = g.maxInFlight.Load() {
	}
	select {
	case <-g.gate:
	case <-time.After(10 * time.Second): // bound for a broken test
	}
	return g.next.ServeDNS(ctx, req)
}

func (g *gatedHandler) open() { g.release.Do(func() { close(g.gate) }) }

// TestHTTP2StreamFlood opens and immediately resets many streams on one
// HTTP/2 connection (CVE-2023-44487 "rapid reset"). Handlers never run more
// than MaxStreams at once, the flooding connection is told to go away, and
// other clients are served afterwards.
func TestHTTP2StreamFlood(t *testing.T) {
	const maxStreams, floodStreams = 8, 2000
	tests := []struct {
		name      string
		gated     bool // handlers hold their slot despite the reset
		wantCalls int64
	}{
		{"slow handlers", true, maxStreams},
		{"fast handlers", false, floodStreams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			g := &gatedHandler{gate: make(chan struct{})}
			if !tt.gated {
				g.open()
			}
			defer g.open()
			env := startServer(t, func(c *Config) {
				g.next = c.Handler
				c.Handler, c.MaxStreams, c.Metrics = g, maxStreams, reg
			})
			addr := env.srv.TLSAddrs()[0]
			conn, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: env.pki.Pool, ServerName: "dns.test", NextProtos: []string{"h2"}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
				t.Fatal(err)
			}
			fr := http2.NewFramer(conn, conn)
			if err := fr.WriteSettings(); err != nil {
				t.Fatal(err)
			}
			var hb bytes.Buffer
			enc := hpack.NewEncoder(&hb)
			path := dohURL("", "", "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0))[len("://"):]
			for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "dns.test"}, {":path", path}} {
				_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
			}
			sent := 0
			for i := range floodStreams {
				id := uint32(2*i + 1)
				if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
					break // the server closed the connection
				}
				if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
					break
				}
				sent++
			}
			// Handlers that hold their slots leave resets queued until the
			// server gives up on the connection; fast ones may keep up.
			if calm := readUntilGoAway(t, conn, fr); tt.gated && !calm {
				t.Fatalf("no GOAWAY ENHANCE_YOUR_CALM after %d reset streams", sent)
			}
			if m := g.maxInFlight.Load(); m > maxStreams {
				t.Fatalf("%d handlers ran at once, MaxStreams is %d", m, maxStreams)
			}
			if c := g.calls.Load(); c > tt.wantCalls || c > int64(sent) {
				t.Fatalf("%d handler calls for %d streams sent, want at most %d", c, sent, tt.wantCalls)
			}
			defences := metricValue(t, reg, "dnsward_doh_http2_errors_total", "conn_ENHANCE_YOUR_CALM_too_many_early_resets") +
				metricValue(t, reg, "dnsward_doh_http2_errors_total", "conn_ENHANCE_YOUR_CALM_queue_full")
			if tt.gated && defences == 0 {
				t.Fatal("flood defence not counted")
			}
			g.open()
			c := env.client(t, h2, addr)
			for range 5 {
				resp, body := getOrPost(t, c, http.MethodGet, hostPort("dns.test", addr), "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0))
				if resp.StatusCode != http.StatusOK || firstA(unpack(t, body)) != "127.0.0.1" {
					t.Fatalf("query after the flood failed: %d", resp.StatusCode)
				}
			}
		})
	}
}

// readUntilGoAway reads frames until the connection ends and reports whether
// a GOAWAY with ENHANCE_YOUR_CALM came.
func readUntilGoAway(t *testing.T, conn *tls.Conn, fr *http2.Framer) bool {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for range 100000 {
		f, err := fr.ReadFrame()
		if err != nil {
			return false // closed without GOAWAY, or stayed up until the deadline
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			return ga.ErrCode == http2.ErrCodeEnhanceYourCalm
		}
	}
	return false
}

// metricValue returns the value of a counter with one label value.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				if lp.GetValue() == label {
					sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return sum
}

// TestHTTP3StreamLimit sends more concurrent HTTP/3 requests than MaxStreams
// allows on one connection: QUIC flow control holds the excess, so handlers
// never run more than MaxStreams at once, and every request is answered.
func TestHTTP3StreamLimit(t *testing.T) { forEachEngine(t, testHTTP3StreamLimit) }

func testHTTP3StreamLimit(t *testing.T, engine string) {
	const maxStreams, requests = 4, 24
	g := &gatedHandler{gate: make(chan struct{})}
	defer g.open()
	env := startServer(t, func(c *Config) {
		onEngine(engine)(c)
		g.next = c.Handler
		c.Handler, c.MaxStreams = g, maxStreams
	})
	addr := env.srv.TLSAddrs()[0]
	c := env.client(t, h3, addr)
	url := dohURL("https", hostPort("dns.test", addr), "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0))
	errs := make(chan error, requests)
	for range requests {
		go func() {
			resp, err := c.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = errors.New(resp.Status)
				}
			}
			errs <- err
		}()
	}
	// Wait (bounded) until the server holds a full set of handlers.
	for i := 0; i < 500 && g.cur.Load() < maxStreams; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // give excess streams a chance to show up
	if m := g.maxInFlight.Load(); m != maxStreams {
		t.Fatalf("%d handlers in flight, want exactly MaxStreams=%d", m, maxStreams)
	}
	g.open()
	for range requests {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if m := g.maxInFlight.Load(); m > maxStreams {
		t.Fatalf("%d handlers ran at once, MaxStreams is %d", m, maxStreams)
	}
}
