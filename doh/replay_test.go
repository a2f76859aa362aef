package doh

import (
	"context"
	"time"

	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontendtest"
	"github.com/dnsward/dnsward/resolver"
)

// TestReplayedAnswers: over every HTTP version and method, repeats of a
// question (in other spellings and IDs) after a first answer are answered
// from the replayed bytes with the same headers, and only the first takes
// the chain.
func TestReplayedAnswers(t *testing.T) { forEachEngine(t, testReplayedAnswers) }

func testReplayedAnswers(t *testing.T, engine string) {
	h := frontendtest.NewCounting(t)
	e := startServer(t, func(c *Config) {
		onEngine(engine)(c)
		c.Handler = h
	})
	addr := e.srv.TLSAddrs()[0]
	for _, v := range []httpVersion{h1, h2, h3} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(string(v)+" "+method, func(t *testing.T) {
				c := e.client(t, v, addr)
				name := "r-" + strings.ToLower(strings.ReplaceAll(string(v)+method, "/", "")) + ".example."
				before := h.Full.Load()
				first, _ := getOrPost(t, c, method, "dns.test", "/dns-query", query(t, name, dns.TypeA, 0, 0))
				for i, spelt := range []string{name, strings.ToUpper(name), name} {
					resp, body := getOrPost(t, c, method, "dns.test", "/dns-query", query(t, spelt, dns.TypeA, uint16(i), 0))
					if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/dns-message" {
						t.Fatalf("repeat %d: %s, Content-Type %q", i, resp.Status, resp.Header.Get("Content-Type"))
					}
					checkDate(t, resp)
					if got, want := resp.Header.Get("Cache-Control"), first.Header.Get("Cache-Control"); got != want || got != "max-age=300" {
						t.Errorf("repeat %d: Cache-Control %q, first answer had %q (want max-age=300)", i, got, want)
					}
					m := unpack(t, body)
					if m.Id != uint16(i) || m.Question[0].Name != spelt || firstA(m) != frontendtest.AddrFor(name).String() {
						t.Errorf("repeat %d: %v", i, m)
					}
				}
				// A second may pass between the first answer and the
				// repeats, ending what replay keeps.
				if got := h.Full.Load() - before; got > 2 {
					t.Errorf("%d of 4 queries took the full chain, want 1 (2 at a second's boundary)", got)
				}
			})
		}
	}
}

// gatedReplayer is the chain with replay, whose full path holds
// "slow.test." until gate closes, whatever the request's context says.
type gatedReplayer struct {
	resolver.Replayer
	gate, entered chan struct{}
}

func (g gatedReplayer) ServeDNS(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
	if req.Msg.Question[0].Name == "slow.test." {
		g.entered <- struct{}{}
		select {
		case <-g.gate:
		case <-time.After(10 * time.Second): // bound for a broken test
		}
	}
	return g.Replayer.ServeDNS(ctx, req)
}

// TestH2ReplayOnReader: an HTTP/2 request replay can answer is answered by
// the connection's reader, while the only handler slot is taken (by a
// request the client reset but whose handler still runs): a request that
// needed a handler would wait in the queue.
func TestH2ReplayOnReader(t *testing.T) {
	h := gatedReplayer{Replayer: frontendtest.NewCounting(t), gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	t.Cleanup(func() { close(h.gate) })
	env := startServer(t, func(c *Config) { c.Handler, c.MaxStreams = h, 1 })
	c := dialH2(t, env, []http2.Setting{})
	c.t = t
	c.get(1, "n1.example.")
	if status, _ := c.response(1); status != "200" {
		t.Fatalf("first answer: %s", status)
	}
	c.get(3, "slow.test.")
	select {
	case <-h.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("slow request never reached the handler")
	}
	c.check(c.fr.WriteRSTStream(3, http2.ErrCodeCancel)) // the stream closes; its handler keeps the slot
	c.get(5, "n1.example.")
	if status, body := c.response(5); status != "200" || firstA(unpack(t, body)) != frontendtest.AddrFor("n1.example.").String() {
		t.Fatalf("replayed answer: %s %x", status, body)
	}
}

// TestH2ReplayFreshAtAnswer: replay judges an answer's freshness when it
// answers, not when the request arrived: a POST whose body comes after
// what replay kept has expired (at most a second) takes the chain again.
func TestH2ReplayFreshAtAnswer(t *testing.T) {
	h := frontendtest.NewCounting(t)
	env := startServer(t, func(c *Config) { c.Handler, c.ReadTimeout = h, 5*time.Second })
	c := dialH2(t, env, []http2.Setting{})
	c.t = t
	c.get(1, "late.example.")
	if status, _ := c.response(1); status != "200" {
		t.Fatalf("first answer: %s", status)
	}
	before := h.Full.Load()
	c.post(3)
	time.Sleep(1200 * time.Millisecond) // replay keeps an answer at most a second
	c.check(c.fr.WriteData(3, true, query(t, "late.example.", dns.TypeA, 7, 0)))
	if status, _ := c.response(3); status != "200" {
		t.Fatalf("late POST: %s", status)
	}
	if got := h.Full.Load() - before; got != 1 {
		t.Fatalf("%d full-chain queries for the late POST, want 1: an expired answer was replayed", got)
	}
}

// TestH2ResetWhileQueuedNeverRuns: a request waiting for a handler slot
// that the client resets is dropped, not run, once the slot frees.
func TestH2ResetWhileQueuedNeverRuns(t *testing.T) {
	h := gatedReplayer{Replayer: frontendtest.NewCounting(t), gate: make(chan struct{}), entered: make(chan struct{}, 4)}
	env := startServer(t, func(c *Config) { c.Handler, c.MaxStreams = h, 1 })
	c := dialH2(t, env, []http2.Setting{})
	c.t = t
	c.get(1, "slow.test.")
	select {
	case <-h.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("slow request never reached the handler")
	}
	c.check(c.fr.WriteRSTStream(1, http2.ErrCodeCancel)) // its handler keeps the only slot
	c.get(3, "slow.test.")                               // queued behind it
	c.check(c.fr.WriteRSTStream(3, http2.ErrCodeCancel))
	close(h.gate)
	c.get(5, "n1.example.") // runs after whatever the queue held
	if status, _ := c.response(5); status != "200" {
		t.Fatalf("status %s", status)
	}
	if n := len(h.entered); n != 0 {
		t.Fatalf("the reset queued request ran (%d more handler entries)", n)
	}
}
