package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestExternalClients drives the gateway's encrypted front-ends with real
// clients — curl resolving through DoH, kdig over DoH (POST and GET) and DoT —
// each verifying the self-signed chain with the CA file the gateway prints.
func TestExternalClients(t *testing.T) {
	curl := dnstest.NeedBinary(t, "curl", "curl")
	kdig := dnstest.NeedBinary(t, "kdig", "knot-dnsutils")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello via doh") }))
	defer web.Close()
	auth := dnstest.StartAuthority(t, []string{"site.example. 300 IN A 127.0.0.1"}, nil)

	dir := t.TempDir()
	dohPort, dotPort := dnstest.FreePort(t), dnstest.FreePort(t)
	g := runGateway(t, loadYAML(t, dir, fmt.Sprintf(`
listen:
  doh: ["127.0.0.1:%d"]
  dot: ["127.0.0.1:%d"]
upstreams: [udp://%s]
data_dir: %s
`, dohPort, dotPort, auth.Addr, filepath.Join(dir, "data"))), nil)
	ca := g.CAFile()
	webPort := web.Listener.Addr().(*net.TCPAddr).Port

	t.Run("curl --doh-url", func(t *testing.T) {
		out, err := exec.Command(curl, "-sS", "--max-time", "10", "--cacert", ca,
			"--doh-url", fmt.Sprintf("https://localhost:%d/dns-query", dohPort),
			fmt.Sprintf("http://site.example:%d/", webPort)).CombinedOutput()
		if err != nil || string(out) != "hello via doh" {
			t.Fatalf("curl: %v: %s", err, out)
		}
	})
	for _, mode := range []string{"+https", "+https-get"} {
		t.Run("kdig "+mode, func(t *testing.T) {
			out, err := exec.Command(kdig, "@127.0.0.1", "-p", fmt.Sprint(dohPort), mode+"=/dns-query",
				"+tls-ca="+ca, "+tls-hostname=localhost", "+timeout=5", "site.example", "A").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "status: NOERROR") || !strings.Contains(string(out), "127.0.0.1") {
				t.Fatalf("kdig %s: %v\n%s", mode, err, out)
			}
		})
	}
	t.Run("kdig +tls", func(t *testing.T) {
		out, err := exec.Command(kdig, "@127.0.0.1", "-p", fmt.Sprint(dotPort), "+tls-ca="+ca, "+tls-hostname=localhost",
			"+timeout=5", "site.example", "A").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "status: NOERROR") || !strings.Contains(string(out), "127.0.0.1") {
			t.Fatalf("kdig +tls: %v\n%s", err, out)
		}
	})
}
