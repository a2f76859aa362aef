package doh

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/frontendtest"
	"github.com/dnsward/dnsward/resolver"
)

// BenchmarkServerH2load drives the server with h2load (HTTP/2 GET, 8
// connections × 32 streams, rotating through 100 names as bench/doh does)
// and reports this process's CPU time per request: with the client in
// another process, that is the server's own cost, and -cpuprofile shows
// only the server. "engine" answers from a static handler (HTTP/2 and the
// handler's framing only); "chain" answers through the gateway's resolver
// chain, cache hits replayed as in the gateway. Needs nghttp2-client.
func BenchmarkServerH2load(b *testing.B) {
	h2load, err := exec.LookPath("h2load")
	if err != nil {
		b.Skip("h2load not installed (apt-get install -y nghttp2-client)")
	}
	up := frontendtest.StartUpstream(b)
	chain := frontendtest.Chain(b, up.Addr)
	b.Run("engine", func(b *testing.B) { benchH2load(b, h2load, staticAnswer) })
	b.Run("chain", func(b *testing.B) { benchH2load(b, h2load, chain) })
}

func benchH2load(b *testing.B, h2load string, h resolver.Handler) {
	env := startServer(b, func(c *Config) {
		c.Handler = h
		c.Metrics = prometheus.NewRegistry()
	})
	var uris strings.Builder
	for i := range 100 {
		uris.WriteString(dohURL("https", env.srv.TLSAddrs()[0].String(), "/dns-query", query(b, fmt.Sprintf("n%d.bench.test.", i), dns.TypeA, 0, 0)) + "\n")
	}
	list := filepath.Join(b.TempDir(), "uris")
	if err := os.WriteFile(list, []byte(uris.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	run := func(n int) {
		out, err := exec.Command(h2load, "-n", strconv.Itoa(max(n, 8)), "-c", "8", "-m", "32", "-i", list).CombinedOutput()
		if err != nil || !strings.Contains(string(out), " 0 failed, 0 errored") ||
			!strings.Contains(string(out), "status codes: "+strconv.Itoa(max(n, 8))+" 2xx") {
			b.Fatalf("h2load: %v\n%s", err, out)
		}
	}
	run(1000) // handshakes and warm-up outside the measurement
	b.ReportAllocs()
	b.ResetTimer()
	before := cpuTime(b)
	run(b.N)
	b.ReportMetric(float64((cpuTime(b)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
