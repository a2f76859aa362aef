package gateway

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// setupYAML is a gateway with the setup page: DoH (engine: both HTTP/2 and HTTP/3), DoT and
// plain DNS, an unfiltered default profile and a child profile reached by
// path, host and address; onboarding is appended.
func setupYAML(dir, engine string, doh, dot, dns int, onboarding string) string {
	return fmt.Sprintf(`
listen:
  doh: ["127.0.0.1:%d"]
  dot: ["127.0.0.1:%d"]
  dns: ["127.0.0.1:%d", "127.0.0.3:%[3]d"]
upstreams: [udp://127.0.0.1:9]
data_dir: %s/data
doh: {http2: %[5]s, http3: %[5]s}
lists:
  adult: [adult.txt]
default_profile: open
profiles:
  open: {paths: [/dns-query]}
  child: {paths: [/child], hosts: [child.localhost], addrs: [127.0.0.3], block: [adult], safe_search: true}
%s`, doh, dot, dns, dir, engine, onboarding)
}

// httpClients are an HTTP/1.1, an HTTP/2 and an HTTP/3 client trusting the
// gateway's CA.
func httpClients(t *testing.T, g *Gateway) map[string]*http.Client {
	tc := &tls.Config{RootCAs: caPool(t, g), ServerName: "localhost"}
	h1 := &http.Transport{TLSClientConfig: tc.Clone(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	h2 := &http.Transport{TLSClientConfig: tc.Clone(), ForceAttemptHTTP2: true}
	h3 := &http3.Transport{TLSClientConfig: tc.Clone()}
	t.Cleanup(func() { h1.CloseIdleConnections(); h2.CloseIdleConnections(); h3.Close() })
	return map[string]*http.Client{
		"HTTP/1.1": {Transport: h1, Timeout: 5 * time.Second},
		"HTTP/2.0": {Transport: h2, Timeout: 5 * time.Second},
		"HTTP/3.0": {Transport: h3, Timeout: 5 * time.Second},
	}
}

func fetch(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestSetupPageEveryTransport: the DoH listener serves the setup page over
// HTTP/1.1, HTTP/2 and HTTP/3 (both engines of each), with its security headers,
// while its DoH endpoints stay what they were: a GET without dns= is 400,
// on the generic path and a profile's. `onboarding: false` leaves every
// other path 404, as before.
func TestSetupPageEveryTransport(t *testing.T) {
	for _, engine := range []string{"builtin", "stdlib"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/adult.txt", "adult.example\n")
			doh := dnstest.FreePort(t)
			g := runGateway(t, loadYAML(t, dir, setupYAML(dir, engine, doh, dnstest.FreePort(t), dnstest.FreePort(t), "")), nil)
			base := fmt.Sprintf("https://localhost:%d", doh)
			for proto, c := range httpClients(t, g) {
				resp, page := fetch(t, c, base+"/")
				if resp.StatusCode != 200 || resp.Proto != proto {
					t.Fatalf("%s: GET / status %d over %s", proto, resp.StatusCode, resp.Proto)
				}
				for _, want := range []string{`data-profile="child"`, `data-profile="open"`, fmt.Sprintf(`https://child.localhost:%d/child`, doh),
					fmt.Sprintf(`https://localhost:%d/dns-query`, doh), `href="/setup/child.mobileconfig"`} {
					if !strings.Contains(page, want) {
						t.Errorf("%s: the page lacks %s", proto, want)
					}
				}
				if resp.Header.Get("Strict-Transport-Security") == "" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
					resp.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s: security headers %v", proto, resp.Header)
				}
				if resp, _ := fetch(t, c, base+"/setup/child.mobileconfig"); resp.Header.Get("Content-Type") != "application/x-apple-aspen-config" {
					t.Errorf("%s: .mobileconfig Content-Type %q", proto, resp.Header.Get("Content-Type"))
				}
				for _, path := range []string{"/dns-query", "/child", "/child/dns-query"} {
					if resp, _ := fetch(t, c, base+path); resp.StatusCode != http.StatusBadRequest {
						t.Errorf("%s: GET %s without dns= is %d, want 400 (a DoH endpoint)", proto, path, resp.StatusCode)
					}
				}
			}
		})
	}
	t.Run("hidden", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir+"/adult.txt", "adult.example\n")
		doh := dnstest.FreePort(t)
		g := runGateway(t, loadYAML(t, dir, setupYAML(dir, "builtin", doh, dnstest.FreePort(t), dnstest.FreePort(t), "onboarding: {hide: [child]}\n")), nil)
		c := httpClients(t, g)["HTTP/2.0"]
		base := fmt.Sprintf("https://localhost:%d", doh)
		if _, page := fetch(t, c, base+"/"); strings.Contains(page, `data-profile="child"`) || !strings.Contains(page, `data-profile="open"`) {
			t.Error("the page shows a hidden profile, or not the others")
		}
		for _, path := range []string{"/setup/child", "/setup/child.mobileconfig"} {
			if resp, _ := fetch(t, c, base+path); resp.StatusCode != http.StatusNotFound {
				t.Errorf("hidden profile: GET %s is %d, want 404", path, resp.StatusCode)
			}
		}
	})
	t.Run("off", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir+"/adult.txt", "adult.example\n")
		doh := dnstest.FreePort(t)
		g := runGateway(t, loadYAML(t, dir, setupYAML(dir, "builtin", doh, dnstest.FreePort(t), dnstest.FreePort(t), "onboarding: false\n")), nil)
		c := httpClients(t, g)["HTTP/2.0"]
		for _, path := range []string{"/", "/setup/child", "/setup/child.mobileconfig"} {
			if resp, _ := fetch(t, c, fmt.Sprintf("https://localhost:%d%s", doh, path)); resp.StatusCode != http.StatusNotFound {
				t.Errorf("onboarding off: GET %s is %d, want 404", path, resp.StatusCode)
			}
		}
	})
}

// TestAmIProtected drives the check with real DNS clients: the page's
// random name, resolved by kdig over DoH on the child path, over DoT with
// the child's TLS name and over plain UDP to the default address, makes the
// result say which profile and transport; before, it says "not using".
// The name is answered NXDOMAIN by dnsward itself (the upstream is dead, so
// a forwarded query would fail with SERVFAIL).
func TestAmIProtected(t *testing.T) {
	kdig := dnstest.NeedBinary(t, "kdig", "knot-dnsutils")
	dir := t.TempDir()
	writeFile(t, dir+"/adult.txt", "adult.example\n")
	doh, dot, dns := dnstest.FreePort(t), dnstest.FreePort(t), dnstest.FreePort(t)
	g := runGateway(t, loadYAML(t, dir, setupYAML(dir, "builtin", doh, dot, dns,
		"onboarding: {service_name: Example DNS, check_domain: check.dnsward.test}\n")), nil)
	c := httpClients(t, g)["HTTP/2.0"]
	base := fmt.Sprintf("https://localhost:%d", doh)
	tokenRE := regexp.MustCompile(`src="https://([a-z2-7]{26})\.check\.dnsward\.test/`)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"doh", []string{"-p", fmt.Sprint(doh), "+https=/child", "+tls-ca=" + g.CAFile(), "+tls-hostname=localhost"},
			"You are using Example DNS, profile child, over DNS over HTTPS (HTTP/2)."},
		{"dot", []string{"-p", fmt.Sprint(dot), "+tls-ca=" + g.CAFile(), "+tls-hostname=child.localhost"},
			"You are using Example DNS, profile child, over DNS over TLS."},
		{"udp", []string{"-p", fmt.Sprint(dns)}, "You are using Example DNS, profile open, over plain DNS (UDP)."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, page := fetch(t, c, base+"/")
			m := tokenRE.FindStringSubmatch(page)
			if m == nil {
				t.Fatal("the page has no check image")
			}
			result := func() (map[string]any, string) {
				var res map[string]any
				_, body := fetch(t, c, base+"/setup/check/"+m[1]+".json")
				if err := json.Unmarshal([]byte(body), &res); err != nil {
					t.Fatal(err)
				}
				_, html := fetch(t, c, base+"/setup/check/"+m[1])
				return res, html
			}
			if res, html := result(); res["using"] != false || !strings.Contains(html, "You are not using Example DNS.") {
				t.Fatalf("before resolving: %v", res)
			}
			args := append([]string{"@127.0.0.1", "+timeout=5"}, tt.args...)
			out, err := exec.Command(kdig, append(args, m[1]+".check.dnsward.test", "A")...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "status: NXDOMAIN") {
				t.Fatalf("kdig: %v\n%s", err, out)
			}
			if res, html := result(); res["message"] != tt.want || !strings.Contains(html, tt.want) {
				t.Fatalf("after resolving: %v, want %q", res, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReachingAddrs: the addresses the setup page gives for a profile reach
// a listener that selects that profile, and no other.
func TestReachingAddrs(t *testing.T) {
	claimed := map[netip.Addr]string{
		netip.MustParseAddr("192.0.2.3"): "child", netip.MustParseAddr("2001:db8::3"): "child", netip.MustParseAddr("192.0.2.4"): "ads",
	}
	tests := []struct {
		name       string
		listeners  []string
		profile    string
		byAddrOnly bool
		want       string
	}{
		{"specific, unclaimed", []string{"192.0.2.1:443"}, "child", false, "[192.0.2.1]"},
		{"specific, claimed by another", []string{"192.0.2.4:443", "192.0.2.1:443"}, "child", false, "[192.0.2.1]"},
		{"specific, its own", []string{"192.0.2.3:443"}, "child", false, "[192.0.2.3]"},
		{"any IPv4", []string{"0.0.0.0:443"}, "child", false, "[192.0.2.3]"},
		{"any, dual-stack", []string{"[::]:443"}, "child", false, "[192.0.2.3 2001:db8::3]"},
		{"any, no addresses of its own", []string{"[::]:443"}, "open", false, "[]"},
		{"plain DNS: only its own", []string{"192.0.2.1:53", "192.0.2.3:53"}, "child", true, "[192.0.2.3]"},
		{"plain DNS, default profile", []string{"192.0.2.1:53", "192.0.2.3:53"}, "open", false, "[192.0.2.1]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(reachingAddrs(tt.listeners, claimed, tt.profile, tt.byAddrOnly)); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
