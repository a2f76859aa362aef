package doh

import (
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/frontendtest"
)

// pageRecorder is a Config.Pages that notes every path it is given.
type pageRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (p *pageRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("page"))
}

func TestPagesTakeOnlyOtherPaths(t *testing.T) { forEachEngine(t, testPagesTakeOnlyOtherPaths) }

// testPagesTakeOnlyOtherPaths: with Config.Pages, every HTTP version hands
// it the paths that are no endpoint, and nothing else: a GET to an
// endpoint without dns= is still 400, a query is still answered, and the
// DoH request metric counts the DoH requests only.
func testPagesTakeOnlyOtherPaths(t *testing.T, engine string) {
	pages := &pageRecorder{}
	reg := prometheus.NewRegistry()
	env := startServer(t, func(c *Config) { c.HTTP2, c.HTTP3, c.Pages, c.Metrics = engine, engine, pages, reg })
	addr := env.srv.TLSAddrs()[0]
	host := hostPort("dns.test", addr)
	for _, v := range []httpVersion{h1, h2, h3} {
		c := env.client(t, v, addr)
		for _, path := range []string{"/", "/setup/child", "/favicon.ico"} {
			if resp, body := exchange(t, c, http.MethodGet, "https://"+host+path, nil, nil); resp.StatusCode != 200 || string(body) != "page" {
				t.Errorf("%s GET %s: %d %q, want the page", v, path, resp.StatusCode, body)
			}
		}
		for _, path := range []string{"/dns-query", "/ads", "/child/dns-query"} {
			if resp, body := exchange(t, c, http.MethodGet, "https://"+host+path, nil, nil); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s GET %s without dns=: %d %q, want 400", v, path, resp.StatusCode, body)
			}
		}
		if resp, body := getOrPost(t, c, http.MethodPost, host, "/ads", query(t, "a.test.", dns.TypeA, 0, 0)); resp.StatusCode != 200 || firstA(unpack(t, body)) != "127.0.0.1" {
			t.Errorf("%s POST /ads: %d", v, resp.StatusCode)
		}
	}
	want := slices.Repeat([]string{"/", "/setup/child", "/favicon.ico"}, 3)
	pages.mu.Lock()
	defer pages.mu.Unlock()
	if !slices.Equal(pages.paths, want) {
		t.Errorf("pages saw %v, want %v", pages.paths, want)
	}
	if n := frontendtest.Sum(t, reg, "dnsward_doh_requests_total"); n != 12 {
		t.Errorf("dnsward_doh_requests_total %v, want 12 (the DoH requests, no page)", n)
	}
}
