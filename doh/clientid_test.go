package doh

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/resolver"
)

func TestClientIDPaths(t *testing.T) { forEachEngine(t, testClientIDPaths) }

// testClientIDPaths: "/dns-query/<id>" and "/<profile path>/<id>" (wire
// format, GET and POST, and JSON) hand the resolver the ID and the listed
// profile, or the path's or host's for an unlisted ID; malformed IDs are
// 400 and refused ones 403, neither echoing the ID; other paths stay 404.
func testClientIDPaths(t *testing.T, engine string) {
	env := startServer(t, func(c *Config) {
		c.HTTP2, c.HTTP3 = engine, engine
		if err := c.Profiles.SetClients(resolver.ClientsConfig{Profiles: map[string]string{"annas-phone": "child", "office": "unfiltered"}}); err != nil {
			t.Fatal(err)
		}
	})
	addr := env.srv.TLSAddrs()[0]
	tests := []struct {
		host, path      string
		status          int
		profile, id     string
		listed, viaJSON bool
	}{
		{"dns.test", "/dns-query/annas-phone", 200, "child", "annas-phone", true, false},
		{"dns.test", "/dns-query/ANNAS-phone", 200, "child", "annas-phone", true, false},
		{"dns.test", "/ads/annas-phone", 200, "child", "annas-phone", true, false},
		{"dns.test", "/ads/office", 200, "unfiltered", "office", true, false},
		{"dns.test", "/dns-query/bob", 200, "unfiltered", "bob", false, false},
		{"dns.test", "/ads/bob", 200, "ads", "bob", false, false},
		{"dns.test", "/ads/dns-query/bob", 200, "ads", "bob", false, false},
		{"ads.dns.test", "/dns-query/bob", 200, "ads", "bob", false, false},
		{"dns.test", "/dns-query/annas-phone", 200, "child", "annas-phone", true, true},
		{"dns.test", "/ads/bob", 200, "ads", "bob", false, true},
		{"dns.test", "/ads/dns-query", 200, "ads", "", false, false},
		{"dns.test", "/ads/resolve", 200, "ads", "", false, true},
		{"dns.test", "/dns-query/bob_s", 400, "", "", false, false},
		{"dns.test", "/dns-query/" + strings.Repeat("b", 64), 400, "", "", false, false},
		{"dns.test", "/ads/%3Cb%3Ebob", 400, "", "", false, false},
		{"dns.test", "/dns-query/", 404, "", "", false, false},
		{"dns.test", "/nope/bob", 404, "", "", false, false},
		{"dns.test", "/dns-query/bob/x", 404, "", "", false, false},
	}
	for _, v := range []httpVersion{h1, h2, h3} {
		c := env.client(t, v, addr)
		for _, tt := range tests {
			methods := []string{http.MethodGet, http.MethodPost}
			if tt.viaJSON {
				methods = []string{"JSON"}
			}
			for _, method := range methods {
				t.Run(fmt.Sprintf("%s/%s%s/%s", v, tt.host, tt.path, method), func(t *testing.T) {
					var resp *http.Response
					var body []byte
					if method == "JSON" {
						resp, body = exchange(t, c, http.MethodGet, "https://"+hostPort(tt.host, addr)+tt.path+"?name=a.test&type=A", nil, nil)
					} else {
						resp, body = getOrPost(t, c, method, hostPort(tt.host, addr), tt.path, query(t, "a.test.", dns.TypeA, 0, 0))
					}
					if resp.StatusCode != tt.status {
						t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.status)
					}
					if tt.status != http.StatusOK {
						if strings.Contains(strings.ToLower(string(body)), "bob") {
							t.Fatalf("error body %q echoes the ID", body)
						}
						return
					}
					last := env.fwd.lastRequest()
					if last.Profile.Name != tt.profile || last.ClientID != tt.id || last.ClientListed != tt.listed {
						t.Fatalf("resolver saw profile %s, ID %q, listed %v; want %s, %q, %v",
							last.Profile.Name, last.ClientID, last.ClientListed, tt.profile, tt.id, tt.listed)
					}
				})
			}
		}
	}
	if err := env.srv.cfg.Profiles.SetClients(resolver.ClientsConfig{Profiles: map[string]string{"annas-phone": "child"}, RefuseUnknown: true}); err != nil {
		t.Fatal(err)
	}
	c := env.client(t, h2, addr)
	if resp, body := getOrPost(t, c, http.MethodGet, hostPort("dns.test", addr), "/ads/bob", query(t, "a.test.", dns.TypeA, 0, 0)); resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "bob") {
		t.Fatalf("unlisted ID under refuse: %d %q, want 403 without the ID", resp.StatusCode, body)
	}
	if resp, body := getOrPost(t, c, http.MethodGet, hostPort("dns.test", addr), "/ads/annas-phone", query(t, "a.test.", dns.TypeA, 0, 0)); resp.StatusCode != http.StatusOK {
		t.Fatalf("listed ID under refuse: %d %q", resp.StatusCode, body)
	}
}

// fixedErrors are the bodies of the errors routing answers: none repeats
// anything the client sent.
var fixedErrors = map[string]bool{
	"no DoH endpoint at this path\n": true,
	"unknown client ID\n":            true,
	"missing name parameter\n":       true, // a JSON path (/resolve, /ads/resolve) given dns=
	"invalid client ID: one DNS label of letters, digits and hyphens\n": true,
}

// FuzzClientIDRoute: whatever the path and Host, a wire-format GET is
// answered 200, 400, 403 or 404, never a panic, and an error body is one of
// the fixed ones, never repeating the client's path or host.
func FuzzClientIDRoute(f *testing.F) {
	for _, p := range []string{"/dns-query/annas-phone", "/ads/bob", "/ads/dns-query/x", "/dns-query/", "/dns-query/a/b",
		"/ads/%3Cscript%3E", "/dns-query/" + strings.Repeat("a", 64), "/child/-x", "/resolve/x"} {
		f.Add(p, "dns.test")
		f.Add(p, "bob_s.ads.dns.test")
	}
	srv := echoServer(f)
	if err := srv.cfg.Profiles.SetClients(resolver.ClientsConfig{Profiles: map[string]string{"annas-phone": "child"}, RefuseUnknown: true}); err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	wire := query(f, "a.test.", dns.TypeA, 0, 0)
	f.Fuzz(func(t *testing.T, path, host string) {
		u, err := url.Parse("https://dns.test" + path)
		if err != nil || u.Path == "" || u.Path[0] != '/' {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "https://dns.test/", nil)
		req.URL.Path, req.URL.RawQuery, req.Host = u.Path, "dns="+base64.RawURLEncoding.EncodeToString(wire), host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound:
		default:
			t.Fatalf("%q (Host %q): status %d", u.Path, host, rec.Code)
		}
		if body := rec.Body.String(); rec.Code != http.StatusOK && !fixedErrors[body] {
			t.Fatalf("%q (Host %q): error body %q is none of the fixed ones", u.Path, host, body)
		}
	})
}
