package doh

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/miekg/dns"
)

// TestH2load drives the HTTP/2 engine with h2load: every request of several
// connections with many concurrent streams each is answered 200.
func TestH2load(t *testing.T) { forEachEngine(t, testH2load) }

func testH2load(t *testing.T, engine string) {
	h2load := dnstest.NeedBinary(t, "h2load", "nghttp2-client")
	env := startServer(t, func(c *Config) { c.Handler, c.HTTP2 = staticAnswer, engine })
	url := dohURL("https", env.srv.TLSAddrs()[0].String(), "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0))
	for _, tt := range []struct{ n, c, m int }{{2000, 4, 32}, {2000, 1, 1}, {200, 2, 100}} {
		t.Run(strconv.Itoa(tt.c)+"x"+strconv.Itoa(tt.m), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, h2load, "-n", strconv.Itoa(tt.n), "-c", strconv.Itoa(tt.c), "-m", strconv.Itoa(tt.m), url).CombinedOutput()
			if err != nil || !strings.Contains(string(out), " 0 failed, 0 errored") ||
				!strings.Contains(string(out), "status codes: "+strconv.Itoa(tt.n)+" 2xx") {
				t.Fatalf("h2load: %v\n%s", err, out)
			}
		})
	}
}

// TestNghttp fetches answers with nghttp (nghttp2-client): GET and POST,
// several streams at once on one connection, and a large answer through
// tiny flow-control windows, each ending 200 without protocol errors.
func TestNghttp(t *testing.T) { forEachEngine(t, testNghttp) }

func testNghttp(t *testing.T, engine string) {
	nghttp := dnstest.NeedBinary(t, "nghttp", "nghttp2-client")
	env, _ := startH2Server(t, onEngine(engine))
	addr := env.srv.TLSAddrs()[0]
	post := filepath.Join(t.TempDir(), "query")
	if err := os.WriteFile(post, query(t, "a.test.", dns.TypeA, 0, 0), 0o600); err != nil {
		t.Fatal(err)
	}
	get := func(name string) string {
		return dohURL("https", addr.String(), "/dns-query", query(t, name, dns.TypeA, 0, 0))
	}
	tests := []struct {
		name    string
		args    []string
		answers int
	}{
		{"GET", []string{get("a.test.")}, 1},
		{"POST", []string{"-d", post, "-H", "content-type: application/dns-message", dohURL("https", addr.String(), "/dns-query", nil)}, 1},
		{"20 streams at once", []string{"-m", "20", get("a.test.")}, 20},
		{"large answer, tiny windows", []string{"-w", "8", "-W", "10", get("big.test.")}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, nghttp, append([]string{"-v", "-n", "-t", "10"}, tt.args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("nghttp: %v\n%s", err, out)
			}
			s := string(out)
			if n := strings.Count(s, ":status: 200"); n != tt.answers {
				t.Fatalf("%d answers with status 200, want %d:\n%s", n, tt.answers, s)
			}
			for _, bad := range []string{"RST_STREAM", "error_code=PROTOCOL", "FLOW_CONTROL"} {
				if strings.Contains(s, bad) {
					t.Fatalf("nghttp saw %s:\n%s", bad, s)
				}
			}
		})
	}
}

// TestCurlHTTP2 resolves through the server with curl forced onto HTTP/2,
// and fetches an answer directly, checking the protocol version curl used.
func TestCurlHTTP2(t *testing.T) { forEachEngine(t, testCurlHTTP2) }

func testCurlHTTP2(t *testing.T, engine string) {
	env := startServer(t, onEngine(engine))
	tlsAddr, plain := env.srv.TLSAddrs()[0], env.srv.PlainAddrs()[0]
	port := strconv.Itoa(int(tlsAddr.Port()))
	out := run(t, "curl", "--http2", "--silent", "--show-error", "--max-time", "15", "--cacert", env.pki.CAFile,
		"--doh-url", "https://dns.test:"+port+"/dns-query", "--resolve", "dns.test:"+port+":127.0.0.1",
		"--output", "/dev/null", "--write-out", "%{remote_ip} %{http_code}",
		"http://a.test:"+strconv.Itoa(int(plain.Port()))+"/not-a-doh-path")
	if out != "127.0.0.1 404" {
		t.Fatalf("curl reported %q, want a.test resolved to 127.0.0.1 and our 404", out)
	}
	out = run(t, "curl", "--http2", "--silent", "--show-error", "--max-time", "15", "--cacert", env.pki.CAFile,
		"--resolve", "dns.test:"+port+":127.0.0.1", "--output", "/dev/null", "--write-out", "%{http_version} %{http_code}",
		dohURL("https", "dns.test:"+port, "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0)))
	if out != "2 200" {
		t.Fatalf("curl reported %q, want HTTP/2 200", out)
	}
}
