package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/gateway/config"
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
	cfgFile := filepath.Join(dir, "dnsward.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
listen:
  doh: ["127.0.0.1:%d"]
  dot: ["127.0.0.1:%d"]
upstreams: [udp://%s]
data_dir: %s
`, dohPort, dotPort, auth.Addr, filepath.Join(dir, "data"))), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
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
