package doh

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestShutdownDrains(t *testing.T) { forEachEngine(t, testShutdownDrains) }

func testShutdownDrains(t *testing.T, engine string) {
	for _, v := range []httpVersion{h1, h2, h3} {
		t.Run(string(v), func(t *testing.T) {
			g := &gatedHandler{gate: make(chan struct{})}
			defer g.open()
			env := startServer(t, func(c *Config) {
				g.next, c.Handler = c.Handler, g
				onEngine(engine)(c)
			})
			addr := env.srv.TLSAddrs()[0]
			c := env.client(t, v, addr)
			url := dohURL("https", hostPort("dns.test", addr), "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0))
			type result struct {
				status int
				err    error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := c.Get(url)
				if err != nil {
					done <- result{0, err}
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				done <- result{resp.StatusCode, nil}
			}()
			for i := 0; i < 500 && g.cur.Load() == 0; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			if g.cur.Load() != 1 {
				t.Fatal("request never reached the handler")
			}
			shut := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				shut <- env.srv.Shutdown(ctx)
			}()
			select {
			case err := <-shut:
				t.Fatalf("Shutdown returned (%v) with a request in flight", err)
			case <-time.After(100 * time.Millisecond):
			}
			g.open()
			if r := <-done; r.err != nil || r.status != http.StatusOK {
				t.Fatalf("in-flight request: %d %v", r.status, r.err)
			}
			if err := <-shut; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if _, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: env.pki.Pool, ServerName: "dns.test"}); err == nil {
				t.Fatal("still accepting after Shutdown")
			}
		})
	}
}

func TestRequestLimits(t *testing.T) { forEachEngine(t, testRequestLimits) }

func testRequestLimits(t *testing.T, engine string) {
	env := startServer(t, func(c *Config) {
		onEngine(engine)(c)
		c.MaxHeaderBytes = 4 << 10
		c.ReadTimeout = 300 * time.Millisecond
	})
	addr := env.srv.TLSAddrs()[0]
	t.Run("oversized headers", func(t *testing.T) {
		for _, v := range []httpVersion{h1, h2} {
			resp, err := env.client(t, v, addr).Do(func() *http.Request {
				req, _ := http.NewRequest(http.MethodGet, dohURL("https", hostPort("dns.test", addr), "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0)), nil)
				req.Header.Set("X-Filler", strings.Repeat("x", 8<<10))
				return req
			}())
			switch {
			case err == nil:
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
					t.Fatalf("%s: status %d, want 431", v, resp.StatusCode)
				}
			case v == h1:
				t.Fatalf("HTTP/1.1: %v, want a 431 response", err)
			} // the HTTP/2 client may refuse to send past the server's advertised limit
		}
	})
	t.Run("slow request closed after ReadTimeout", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: env.pki.Pool, ServerName: "dns.test", NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("GET /dns-query?dns=AAAB HTTP/1.1\r\nHost: dns.test\r\n")); err != nil {
			t.Fatal(err)
		}
		// The headers never end; the server must give up on its own.
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadAll(conn)
		if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			t.Fatal("server kept a stalled request open")
		}
	})
}
