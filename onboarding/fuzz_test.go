package onboarding

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzNoReflection requests pages with arbitrary paths, query strings and
// Host headers: no response is a server error, and none contains input
// with markup characters as it was sent (it is escaped, or not used).
func FuzzNoReflection(f *testing.F) {
	for _, seed := range []string{"child", `<script>alert(1)</script>`, `"><img src=x>`, "child.mobileconfig", "check/abc",
		"%3Cb%3E", "x'y", "dns.example:8443", "[::1]:443", "a:1<b>"} {
		f.Add(seed)
	}
	s, err := New(testConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		in = "zq" + in + "qz" // markers: the page's own quotes and brackets are no reflection
		for _, r := range []*http.Request{
			{URL: &url.URL{Path: "/" + in}},
			{URL: &url.URL{Path: "/setup/" + in}},
			{URL: &url.URL{Path: "/setup/check/" + in}},
			{URL: &url.URL{Path: "/", RawQuery: in}},
			{URL: &url.URL{Path: "/setup/child"}, Host: in},
			{URL: &url.URL{Path: "/setup/child.mobileconfig"}, Host: in},
		} {
			r.Method, r.Header, r.Proto, r.ProtoMajor = http.MethodGet, http.Header{"Referer": {in}}, "HTTP/1.1", 1
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s (Host %q): status %d", r.URL, r.Host, w.Code)
			}
			if strings.ContainsAny(in, `<>"'`) && strings.Contains(w.Body.String(), in) {
				t.Fatalf("%s (Host %q) reflects %q unescaped", r.URL, r.Host, in)
			}
		}
	})
}
