package plain

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/metricstest"
	"github.com/dnsward/dnsward/resolver"
)

// TestUDPHitsNotHeldByMisses: an upstream answers misses after a second and
// a flood of distinct misses arrives over UDP; cached names asked meanwhile
// (not replayable: each is asked once) are still answered within 100 ms.
// The misses waiting on the upstream stay within UDPMaxPending; the rest
// are answered SERVFAIL with EDE 0 at once and counted.
func TestUDPHitsNotHeldByMisses(t *testing.T) {
	const hits, maxPending = 100, 50
	zone := make([]string, hits)
	for i := range zone {
		zone[i] = fmt.Sprintf("h%d.example. 300 IN A 127.0.0.1", i)
	}
	auth := dnstest.StartAuthority(t, zone, func(name string) time.Duration {
		if strings.HasPrefix(name, "m") {
			return time.Second
		}
		return 0
	})
	reg := prometheus.NewRegistry()
	cfg := chainConfig(t, auth, MissAware)
	cfg.UDPSockets, cfg.UDPMaxInflight, cfg.UDPMaxPending, cfg.Registry = 1, 4, maxPending, reg
	s := run(t, cfg)
	addr := s.UDPAddrs()[0].String()
	client := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	ask := func(name string) (*dns.Msg, time.Duration, error) {
		q := new(dns.Msg).SetQuestion(name, dns.TypeA)
		q.SetEdns0(1232, false)
		return client.Exchange(q, addr)
	}
	for i := range hits { // cache every hit name
		if r, _, err := ask(fmt.Sprintf("h%d.example.", i)); err != nil || len(r.Answer) != 1 {
			t.Fatalf("priming h%d: %v %v", i, r, err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // past what replay keeps: the hits below go through the workers
	upstreamBefore := auth.Queries.Load()

	flood, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var refused, resolved atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() { // sort the flood's answers until its socket closes
		buf := make([]byte, 1232)
		for {
			n, err := flood.Read(buf)
			if err != nil {
				return
			}
			r := new(dns.Msg)
			if r.Unpack(buf[:n]) != nil {
				continue
			}
			if ede, ok := resolver.EDE(r); ok && r.Rcode == dns.RcodeServerFailure && ede.InfoCode == dns.ExtendedErrorCodeOther {
				refused.Add(1)
			} else if r.Rcode == dns.RcodeNameError {
				resolved.Add(1)
			}
		}
	})
	const floodFor, floodMax = 2500 * time.Millisecond, 3000
	sent := 0
	wg.Go(func() {
		q := new(dns.Msg)
		q.SetEdns0(1232, false)
		for start := time.Now(); sent < floodMax && time.Since(start) < floodFor; sent++ {
			q.SetQuestion(fmt.Sprintf("m%d.example.", sent), dns.TypeA)
			b, _ := q.Pack()
			flood.Write(b)
			time.Sleep(time.Millisecond)
		}
	})

	time.Sleep(300 * time.Millisecond) // the misses fill the pending bound
	prompt := 0
	var slowest time.Duration
	for i := range hits {
		r, rtt, err := ask(fmt.Sprintf("h%d.example.", i))
		if err == nil && len(r.Answer) == 1 && rtt <= 100*time.Millisecond {
			prompt++
		}
		slowest = max(slowest, rtt)
	}
	if prompt < hits*95/100 {
		t.Errorf("%d of %d cache hits answered within 100 ms during the flood of misses (slowest %v)", prompt, hits, slowest)
	}

	time.Sleep(floodFor + 1500*time.Millisecond) // the flood ends, its last misses are answered
	flood.Close()
	wg.Wait()
	upstream := auth.Queries.Load() - upstreamBefore
	got := metricstest.Must(t, reg, "dnsward_udp_misses_refused_total")
	t.Logf("flood: %d misses sent, %d resolved, %d refused (metric %v), %d reached the upstream; hits: %d/%d prompt, slowest %v",
		sent, resolved.Load(), refused.Load(), got, upstream, prompt, hits, slowest)
	// Each second at most maxPending misses wait on the upstream; the flood
	// lasts 2.5 s.
	if upstream > 3*maxPending {
		t.Errorf("%d misses reached the upstream, want at most %d (%d pending at once for 2.5 s)", upstream, 3*maxPending, maxPending)
	}
	if refused.Load() == 0 || float64(refused.Load()) != got {
		t.Errorf("%d misses answered SERVFAIL with EDE 0, dnsward_udp_misses_refused_total is %v: want equal and above 0", refused.Load(), got)
	}
	if resolved.Load()+refused.Load() != int64(sent) {
		t.Errorf("%d of %d flood queries answered", resolved.Load()+refused.Load(), sent)
	}
	if v := metricstest.Must(t, reg, "dnsward_udp_pending_misses"); v != 0 {
		t.Errorf("%v misses still pending after every answer", v)
	}
}
