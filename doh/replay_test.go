package doh

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/dot/framing/framingtest"
	"github.com/miekg/dns"
)

// TestReplayedAnswers: over every HTTP version and method, repeats of a
// question (in other spellings and IDs) after a first answer are answered
// from the replayed bytes with the same headers, and only the first takes
// the chain.
func TestReplayedAnswers(t *testing.T) {
	h := framingtest.NewCounting(t)
	e := startServer(t, func(c *Config) { c.Handler = h })
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
					if got, want := resp.Header.Get("Cache-Control"), first.Header.Get("Cache-Control"); got != want || got != "max-age=300" {
						t.Errorf("repeat %d: Cache-Control %q, first answer had %q (want max-age=300)", i, got, want)
					}
					m := unpack(t, body)
					if m.Id != uint16(i) || m.Question[0].Name != spelt || firstA(m) != framingtest.AddrFor(name).String() {
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
