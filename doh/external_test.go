package doh

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// run executes an external client with a deadline and returns its output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := runErr(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runErr is run for a client that may fail: its output and exit error.
func runErr(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	path := dnstest.NeedBinary(t, name, map[string]string{"kdig": "knot-dnsutils", "curl": "curl"}[name])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	return string(out), err
}

// TestCurlDoH has curl resolve a name through the server (verifying its
// certificate against the test CA) and then fetch a URL on that name.
func TestCurlDoH(t *testing.T) { forEachEngine(t, testCurlDoH) }

func testCurlDoH(t *testing.T, engine string) {
	env := startServer(t, onEngine(engine))
	tlsAddr, plain := env.srv.TLSAddrs()[0], env.srv.PlainAddrs()[0]
	for _, path := range []string{"/dns-query", "/ads"} {
		t.Run(path, func(t *testing.T) {
			out := run(t, "curl", "--silent", "--show-error", "--max-time", "15", "--cacert", env.pki.CAFile,
				"--doh-url", "https://dns.test:"+strconv.Itoa(int(tlsAddr.Port()))+path,
				"--resolve", "dns.test:"+strconv.Itoa(int(tlsAddr.Port()))+":127.0.0.1",
				"--output", "/dev/null", "--write-out", "%{remote_ip} %{http_code}",
				"http://a.test:"+strconv.Itoa(int(plain.Port()))+"/not-a-doh-path")
			if out != "127.0.0.1 404" {
				t.Fatalf("curl reported %q, want a.test resolved to 127.0.0.1 and our 404", out)
			}
			if last := env.fwd.lastRequest(); last.Msg.Question[0].Name != "a.test." {
				t.Fatalf("last query was %s", last.Msg.Question[0].Name)
			}
		})
	}
}

// TestKdigDoH queries with kdig over DoH POST and GET, verifying the
// certificate with the test CA and host name, on the generic and profile paths.
func TestKdigDoH(t *testing.T) { forEachEngine(t, testKdigDoH) }

func testKdigDoH(t *testing.T, engine string) {
	env := startServer(t, onEngine(engine))
	addr := env.srv.TLSAddrs()[0]
	tests := []struct {
		name, mode, get, qname, want, session string
	}{
		{"post", "+https=/dns-query", "", "a.test", "\tA\t127.0.0.1", "(HTTP/2-POST)-(dns.test/dns-query)-(status: 200)"},
		{"get", "+https=/dns-query", "+https-get", "a.test", "\tA\t127.0.0.1", "(HTTP/2-GET)-(dns.test/dns-query)-(status: 200)"},
		{"post profile path blocked", "+https=/ads", "", "ads.example", "status: NXDOMAIN", "(HTTP/2-POST)-(dns.test/ads)-(status: 200)"},
		{"get profile path", "+https=/ads/dns-query", "+https-get", "short.test", "\tA\t127.0.0.2", "(HTTP/2-GET)-(dns.test/ads/dns-query)-(status: 200)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"@127.0.0.1", "-p", strconv.Itoa(int(addr.Port())), tt.mode,
				"+tls-ca=" + env.pki.CAFile, "+tls-hostname=dns.test", "+timeout=5", "+retry=0", "+edns", tt.qname, "A"}
			if tt.get != "" {
				args = append(args, tt.get)
			}
			out := run(t, "kdig", args...)
			// kdig pads its queries on encrypted transports, so the answer is
			// one 468-byte block.
			for _, want := range []string{tt.want, tt.session, "TLS session (TLS1.3)", "PADDING:", "Received 468 B"} {
				if !strings.Contains(out, want) {
					t.Fatalf("kdig output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
