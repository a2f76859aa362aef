package doh

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestH2load drives the HTTP/2 engine with h2load: every request of several
// connections with many concurrent streams each is answered 200.
func TestH2load(t *testing.T) {
	h2load, err := exec.LookPath("h2load")
	if err != nil {
		t.Skip("h2load not installed (apt-get install -y nghttp2-client)")
	}
	env := startServer(t, func(c *Config) { c.Handler = staticAnswer })
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
