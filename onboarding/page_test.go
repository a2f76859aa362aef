package onboarding

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// voidElements have no end tag (HTML Living Standard §13.1.2).
var voidElements = []string{"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

// checkHTML tokenizes page and reports what a validator would: an element
// or attribute x/net/html does not know (inside <svg> SVG's own names are
// allowed), an end tag that does not close the open element, duplicate
// ids, inline script or style, event-handler attributes, and a
// javascript: URL. It returns the parsed document too.
func checkHTML(t *testing.T, page string) *html.Node {
	t.Helper()
	if !strings.HasPrefix(page, "<!DOCTYPE html>\n") {
		t.Error("no <!DOCTYPE html>")
	}
	z := html.NewTokenizer(strings.NewReader(page))
	var open []string
	ids := map[string]bool{}
	inSVG := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Fatalf("tokenizer: %v", z.Err())
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			if tok.Data == "svg" {
				inSVG++
			}
			if inSVG == 0 && tok.DataAtom == 0 {
				t.Errorf("unknown element <%s>", tok.Data)
			}
			for _, a := range tok.Attr {
				switch {
				case strings.HasPrefix(a.Key, "on"):
					t.Errorf("<%s %s>: event-handler attribute (blocked by the CSP)", tok.Data, a.Key)
				case a.Key == "style":
					t.Errorf("<%s>: inline style attribute (blocked by the CSP)", tok.Data)
				case a.Key == "id":
					if ids[a.Val] {
						t.Errorf("duplicate id %q", a.Val)
					}
					ids[a.Val] = true
				case (a.Key == "href" || a.Key == "src") && strings.HasPrefix(strings.ToLower(a.Val), "javascript:"):
					t.Errorf("<%s %s=%q>", tok.Data, a.Key, a.Val)
				}
			}
			if tok.Data == "script" && !slices.ContainsFunc(tok.Attr, func(a html.Attribute) bool { return a.Key == "src" }) {
				t.Error("inline <script> (blocked by the CSP)")
			}
			if tok.Data == "style" {
				t.Error("inline <style> (blocked by the CSP)")
			}
			if tt == html.StartTagToken && !slices.Contains(voidElements, tok.Data) {
				open = append(open, tok.Data)
			} else if tt == html.SelfClosingTagToken && tok.Data == "svg" {
				inSVG--
			}
		case html.EndTagToken:
			if len(open) == 0 || open[len(open)-1] != tok.Data {
				t.Errorf("</%s> does not close the open element (open: %v)", tok.Data, open)
				continue
			}
			open = open[:len(open)-1]
			if tok.Data == "svg" {
				inSVG--
			}
		}
	}
	if len(open) != 0 {
		t.Errorf("elements never closed: %v", open)
	}
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// find returns every element under n for which match holds.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if c.Type == html.ElementNode && match(c) {
			out = append(out, c)
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

func byClass(class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return slices.Contains(strings.Fields(attr(n, "class")), class) }
}

// TestPageHTML parses the setup page and each profile's page: valid
// structure, nothing inline, every resource from the gateway itself, and
// per profile what it blocks and the right URL, host name, commands,
// addresses and .mobileconfig link.
func TestPageHTML(t *testing.T) {
	_, srv := startPages(t, testConfig())
	p := port(srv)
	for _, path := range []string{"/", "/setup/", "/setup/child", "/setup/open"} {
		t.Run(path, func(t *testing.T) {
			resp, page := get(t, srv, path)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			doc := checkHTML(t, page)
			for _, n := range find(doc, func(n *html.Node) bool {
				return attr(n, "src") != "" || n.DataAtom == atom.Link || n.DataAtom == atom.Script
			}) {
				src := attr(n, "src") + attr(n, "href")
				if !strings.HasPrefix(src, "/setup/assets/") && !regexp.MustCompile(`^https://[a-z2-7]{26}\.check\.example\.net/`).MatchString(src) {
					t.Errorf("<%s> loads %q: not from the gateway", n.Data, src)
				}
			}
			sections := find(doc, func(n *html.Node) bool { return attr(n, "data-profile") != "" })
			var names []string
			for _, s := range sections {
				names = append(names, attr(s, "data-profile"))
			}
			want := map[string][]string{"/": {"child", "open"}, "/setup/": {"child", "open"}, "/setup/child": {"child"}, "/setup/open": {"open"}}[path]
			if !slices.Equal(names, want) {
				t.Fatalf("profiles %v, want %v", names, want)
			}
			for _, s := range sections {
				checkSection(t, s, p)
			}
			if got := find(doc, func(n *html.Node) bool { return attr(n, "href") == "https://example.org/privacy" }); len(got) != 1 {
				t.Error("no privacy-policy link")
			}
			if got := find(doc, func(n *html.Node) bool { return attr(n, "href") == "mailto:ops@example.org" }); len(got) != 1 {
				t.Error("no contact link")
			}
		})
	}
}

// checkSection checks one profile's section of testConfig's page.
func checkSection(t *testing.T, s *html.Node, port string) {
	t.Helper()
	one := func(class string) string {
		n := find(s, byClass(class))
		if len(n) != 1 {
			t.Errorf("%s: %d elements of class %s, want 1", attr(s, "data-profile"), len(n), class)
			return ""
		}
		return text(n[0])
	}
	type want struct{ blocks, doh, host, windows, linux, mobile string }
	w := map[string]want{
		"child": {"Blocks: adult, malware; safe search", "https://child.dns.example" + port + "/child", "child.dns.example",
			"netsh dns add encryption server=192.0.2.1 dohtemplate=https://child.dns.example" + port + "/child autoupgrade=yes udpfallback=no",
			"[Resolve]\nDNS=192.0.2.1#child.dns.example\nDNSOverTLS=yes\n", "/setup/child.mobileconfig"},
		"open": {"Blocks nothing", "https://dns.example" + port + "/dns-query", "dns.example",
			"netsh dns add encryption server=2001:db8::1 dohtemplate=https://dns.example" + port + "/dns-query autoupgrade=yes udpfallback=no",
			"[Resolve]\nDNS=2001:db8::1#dns.example\nDNSOverTLS=yes\n", "/setup/open.mobileconfig"},
	}[attr(s, "data-profile")]
	if got := one("blocks"); !strings.HasPrefix(got, w.blocks) {
		t.Errorf("blocks %q, want %q…", got, w.blocks)
	}
	for class, v := range map[string]string{"doh-url": w.doh, "android-host": w.host, "windows": w.windows, "linux": w.linux} {
		if got := one(class); got != v {
			t.Errorf("%s %q, want %q", class, got, v)
		}
	}
	if m := find(s, byClass("mobileconfig")); len(m) != 1 || attr(m[0], "href") != w.mobile {
		t.Errorf(".mobileconfig link %v, want %s", m, w.mobile)
	}
	if qr := find(s, func(n *html.Node) bool { return n.Data == "svg" }); len(qr) != 2 {
		t.Errorf("%d QR codes, want 2 (DoH URL, host name)", len(qr))
	}
	for _, b := range find(s, byClass("copy")) {
		if attr(b, "data-copy") == "" {
			t.Error("a copy button copies nothing")
		}
	}
	plain := find(s, byClass("plain"))
	if attr(s, "data-profile") == "child" && (len(plain) != 1 || text(plain[0]) != "192.0.2.3" || !strings.Contains(text(s), "_dns.resolver.arpa")) {
		t.Error("child: no plain-DNS address 192.0.2.3 with the DDR note")
	}
	if attr(s, "data-profile") == "open" && len(plain) != 0 {
		t.Error("open has no addresses of its own: no plain-DNS section")
	}
}

// TestSecurityHeaders: every response carries the CSP, nosniff, a
// referrer policy and, over HTTPS only, HSTS; methods other than GET and
// HEAD are refused.
func TestSecurityHeaders(t *testing.T) {
	s, tlsSrv := startPages(t, testConfig())
	plainSrv := httptest.NewServer(s)
	defer plainSrv.Close()
	paths := map[string]int{"/": 200, "/setup/child": 200, "/setup/child.mobileconfig": 200, "/setup/assets/setup.css": 200,
		"/setup/assets/setup.js": 200, "/setup/assets/icon.svg": 200, "/setup/check/" + NewToken(): 200, "/setup/check/" + NewToken() + ".json": 200,
		"/setup/nobody": 404, "/setup/check/short": 404, "/setup/assets/x.js": 404, "/favicon.ico": 404}
	for _, srv := range []*httptest.Server{tlsSrv, plainSrv} {
		for path, status := range paths {
			resp, _ := get(t, srv, path)
			h := resp.Header
			if resp.StatusCode != status {
				t.Errorf("%s: status %d, want %d", path, resp.StatusCode, status)
			}
			csp := h.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' https://*.check.example.net", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("%s: CSP %q lacks %q", path, csp, d)
				}
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("%s: nosniff %q, Referrer-Policy %q", path, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
			}
			if hsts := h.Get("Strict-Transport-Security"); (srv == tlsSrv) != (hsts != "") {
				t.Errorf("%s over %s: Strict-Transport-Security %q", path, srv.URL[:5], hsts)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodPost, tlsSrv.URL+"/", strings.NewReader("x"))
	resp, err := tlsSrv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("POST /: status %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
}

// TestCheckResult: a token the resolver recorded reads back as "using",
// with its profile and transport, in JSON and HTML; any other as "not
// using".
func TestCheckResult(t *testing.T) {
	cfg := testConfig()
	_, srv := startPages(t, cfg)
	_, page := get(t, srv, "/")
	m := regexp.MustCompile(`src="https://([a-z2-7]{26})\.check\.example\.net/`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the page has no check image")
	}
	token := m[1]
	result := func() (map[string]any, string) {
		_, body := get(t, srv, "/setup/check/"+token+".json")
		var res map[string]any
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatal(err)
		}
		_, page := get(t, srv, "/setup/check/"+token)
		checkHTML(t, page)
		return res, page
	}
	if res, page := result(); res["using"] != false || !strings.Contains(page, "You are not using Example DNS.") {
		t.Fatalf("before the name was resolved: %v\n%s", res, page)
	}
	cfg.Checks.Record(token, dohRequest("child"))
	if res, page := result(); res["using"] != true || res["profile"] != "child" || res["transport"] != "doh2" ||
		!strings.Contains(page, "You are using Example DNS, profile child, over DNS over HTTPS (HTTP/2).") {
		t.Fatalf("after: %v\n%s", res, page)
	}
}

// TestAddressPlaceholder: where no address reaches a profile, the Windows
// and Linux lines hold ADDRESS and say so, rather than an address that
// would select another profile or reach no listener.
func TestAddressPlaceholder(t *testing.T) {
	cfg := testConfig()
	cfg.DoTPort = 8853
	cfg.Profiles = []Profile{{Name: "kids", DoHHost: "kids.dns.example", DoHPath: "/dns-query", DoTHost: "kids.dns.example"}}
	_, srv := startPages(t, cfg)
	_, page := get(t, srv, "/setup/kids")
	doc := checkHTML(t, page)
	s := find(doc, byClass("profile"))[0]
	if got := text(find(s, byClass("windows"))[0]); !strings.HasPrefix(got, "netsh dns add encryption server=ADDRESS dohtemplate=https://kids.dns.example") {
		t.Errorf("windows %q", got)
	}
	if got := text(find(s, byClass("linux"))[0]); got != "[Resolve]\nDNS=ADDRESS:8853#kids.dns.example\nDNSOverTLS=yes\n" {
		t.Errorf("linux %q", got)
	}
	if n := strings.Count(page, English.AddrNote); n != 2 {
		t.Errorf("the ADDRESS note appears %d times, want 2", n)
	}
	if !strings.Contains(page, template.HTMLEscapeString(fmt.Sprintf(English.AndroidPort, 8853))) {
		t.Error("no note that Android needs port 853")
	}
}
