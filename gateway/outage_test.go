package gateway

import (
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/resolver"
)

// blackhole is a UDP upstream that reads every query and never answers.
func blackhole(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// staleQuery asks name over UDP and reports how long it took and whether the
// answer was served stale (NOERROR with an A record and EDE 3).
func staleQuery(t *testing.T, c *dns.Client, addr, name string) (time.Duration, bool) {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	q.SetEdns0(1232, false)
	start := time.Now()
	r, _, err := c.Exchange(q, addr)
	took := time.Since(start)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return took, false
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return took, false
	}
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if ede, ok := o.(*dns.EDNS0_EDE); ok && ede.InfoCode == resolver.EDEStaleAnswer {
				return took, true
			}
		}
	}
	return took, false
}

// TestServeStaleWhenUpstreamsDown: with a blackholed first upstream and the
// second (unbound) killed, every cached name is answered stale, and at once
// rather than after RFC 8767's 1.8 s client response timer: the group knows
// both upstreams are down and fails fast, so ten clients in flight get
// hundreds of answers a second instead of five. The heap stays bounded.
func TestServeStaleWhenUpstreamsDown(t *testing.T) {
	const (
		names   = 3000
		clients = 10
		ttl     = 2
		outage  = 6 * time.Second
	)
	local := make([]string, names)
	for i := range local {
		local[i] = fmt.Sprintf("n%d.example. %d IN A 127.0.0.1", i, ttl)
	}
	unbound, proc := dnstest.StartUnboundProcess(t, local, "")
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	runGateway(t, loadYAML(t, t.TempDir(), fmt.Sprintf(`listen: {dns: [%q]}
upstreams: [udp://%s, udp://%s]
cache: {serve_stale: 1h}
data_dir: %s
`, addr, blackhole(t), unbound, t.TempDir())), nil)
	c := &dns.Client{Timeout: 10 * time.Second}

	// run asks the names from clients workers until all are asked or the
	// time is up, and returns each answer's latency and how many were stale.
	run := func(limit time.Duration) (lat []time.Duration, stale int) {
		var next atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		deadline := time.Now().Add(limit)
		for range clients {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < names && time.Now().Before(deadline); i = next.Add(1) - 1 {
					took, ok := staleQuery(t, c, addr, fmt.Sprintf("n%d.example.", i))
					mu.Lock()
					lat = append(lat, took)
					if ok {
						stale++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return lat, stale
	}
	if lat, _ := run(time.Minute); len(lat) != names { // warm the cache
		t.Fatalf("warmed %d of %d names", len(lat), names)
	}
	time.Sleep(ttl*time.Second + 500*time.Millisecond) // every answer has expired

	if err := syscall.Kill(proc.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	heap0 := heapAlloc()
	start := time.Now()
	lat, stale := run(outage)
	elapsed := time.Since(start)
	growth := int64(heapAlloc()) - int64(heap0)

	if len(lat) == 0 {
		t.Fatal("no answers during the outage")
	}
	first := slices.Min(lat)
	slices.Sort(lat)
	p50 := lat[len(lat)/2]
	qps := float64(len(lat)) / elapsed.Seconds()
	t.Logf("outage: %d answers (%d stale) in %v = %.0f qps; first %v, p50 %v, p99 %v; heap %+.1f MB",
		len(lat), stale, elapsed.Round(time.Millisecond), qps, first.Round(time.Microsecond),
		p50.Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), float64(growth)/1e6)
	if stale != len(lat) {
		t.Errorf("%d of %d answers were stale (EDE 3), want all", stale, len(lat))
	}
	if p50 > 100*time.Millisecond {
		t.Errorf("p50 latency %v, want < 100ms: names wait for dead upstreams", p50)
	}
	if len(lat) < names {
		t.Errorf("%d of %d names answered in %v", len(lat), names, outage)
	}
	if growth > 10<<20 {
		t.Errorf("heap grew %.1f MB during the outage, want ≤ 10 MB", float64(growth)/1e6)
	}
}

// TestSlowUpstreamAnswered: an upstream that takes 2 s to answer is
// answered under the default timeouts (a try used to be 1.25 s), and
// upstream_try_timeout decides how long it is waited for.
func TestSlowUpstreamAnswered(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"slow.example. 300 IN A 127.0.0.7"},
		func(string) time.Duration { return 2 * time.Second })
	tests := []struct {
		name      string
		yaml      string
		wantRcode int
	}{
		{"default", "", dns.RcodeSuccess},
		{"shorter try", "upstream_try_timeout: 1s\n", dns.RcodeServerFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
			runGateway(t, loadYAML(t, t.TempDir(), fmt.Sprintf(`listen: {dns: [%q]}
upstreams: [udp://%s]
data_dir: %s
`, addr, auth.Addr, t.TempDir())+tt.yaml), nil)
			q := new(dns.Msg)
			q.SetQuestion("slow.example.", dns.TypeA)
			start := time.Now()
			resp, _, err := (&dns.Client{Timeout: 8 * time.Second}).Exchange(q, addr)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Rcode != tt.wantRcode || (tt.wantRcode == dns.RcodeSuccess && len(resp.Answer) != 1) {
				t.Fatalf("answer after %v: %v, want %s", time.Since(start), resp, dns.RcodeToString[tt.wantRcode])
			}
		})
	}
}
