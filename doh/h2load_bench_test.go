package doh

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkServerH2load drives the server with h2load (HTTP/2 GET, 8
// connections × 32 streams) and reports this process's CPU time per
// request: with the client in another process, that is the server's own
// cost, and -cpuprofile shows only the server. Needs nghttp2-client.
func BenchmarkServerH2load(b *testing.B) {
	h2load, err := exec.LookPath("h2load")
	if err != nil {
		b.Skip("h2load not installed (apt-get install -y nghttp2-client)")
	}
	env := startServer(b, func(c *Config) {
		c.Handler = staticAnswer
		c.Metrics = prometheus.NewRegistry()
	})
	url := dohURL("https", env.srv.TLSAddrs()[0].String(), "/dns-query", query(b, "a.test.", dns.TypeA, 0, 0))
	run := func(n int) {
		out, err := exec.Command(h2load, "-n", strconv.Itoa(max(n, 8)), "-c", "8", "-m", "32", url).CombinedOutput()
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
