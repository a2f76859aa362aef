package certs

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHTTPHandlerRedirectsToHTTPS(t *testing.T) {
	m443, _, _ := newTestManager(t, Config{DataDir: t.TempDir()})
	m8443, _, _ := newTestManager(t, Config{DataDir: t.TempDir(), HTTPSPort: 8443})
	tests := []struct {
		name   string
		m      *Manager
		method string
		host   string
		target string
		code   int
		want   string
	}{
		{"get", m443, "GET", "dns.example.test", "/dns-query?dns=AAAB", 308, "https://dns.example.test/dns-query?dns=AAAB"},
		{"post keeps method", m443, "POST", "dns.example.test:80", "/", 308, "https://dns.example.test/"},
		{"other port", m8443, "GET", "dns.example.test:80", "/x", 308, "https://dns.example.test:8443/x"},
		{"ipv6", m443, "GET", "[::1]:80", "/", 308, "https://[::1]/"},
		{"ipv6 other port", m8443, "GET", "[::1]", "/", 308, "https://[::1]:8443/"},
	}
	srv := func(m *Manager) *httptest.Server {
		s := httptest.NewServer(m.HTTPHandler(nil))
		t.Cleanup(s.Close)
		return s
	}
	servers := map[*Manager]*httptest.Server{m443: srv(m443), m8443: srv(m8443)}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, servers[tc.m].URL+tc.target, nil)
			req.Host = tc.host
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code || resp.Header.Get("Location") != tc.want {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.want)
			}
		})
	}

	fb := httptest.NewServer(m443.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "fallback")
	})))
	defer fb.Close()
	resp, err := http.Get(fb.URL + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "fallback" {
		t.Errorf("fallback handler not used: %q", body)
	}
}
