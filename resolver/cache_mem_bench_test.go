package resolver_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/transport"
	"github.com/dnsward/dnsward/resolver"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// The cache memory benchmarks: bench/cachemem/run.sh runs them.

var cacheMemEntries = flag.Int("cachemem.entries", 100_000, "how many names the cache memory benchmarks cache (bench/cachemem/run.sh: 1M)")

// memName is the i-th name the memory benchmarks ask for.
func memName(i int) string { return "n" + strconv.Itoa(i) + ".bench.example." }

// memAnswer is the answer to q of the memory benchmarks' authority: one A
// record (TTL 3600), the one-record answer whose footprint they measure.
func memAnswer(q *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600},
		A: net.IPv4(192, 0, 2, 1).To4()}}
	if opt := q.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), opt.Do())
	}
	return m
}

// memAuthority serves memAnswer over UDP and TCP on loopback.
func memAuthority(b *testing.B) string {
	b.Helper()
	return dnstest.Serve(b, dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) { _ = w.WriteMsg(memAnswer(q)) }))
}

// memUpstream is memAuthority in process: each answer packed and unpacked
// again, as an upstream client receives it, without a socket's cost.
type memUpstream struct{}

func (memUpstream) Exchange(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
	wire, err := memAnswer(q).Pack()
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	return m, m.Unpack(wire)
}
func (memUpstream) String() string { return "memUpstream" }
func (memUpstream) Close() error   { return nil }

// fillNames calls ask for the names 0 to n-1 from 16 goroutines and fails
// b on the first error.
func fillNames(b testing.TB, n int, ask func(worker, i int) error) {
	b.Helper()
	var next atomic.Int64
	var failed sync.Once
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := ask(w, i); err != nil {
					failed.Do(func() { b.Errorf("%s: %v", memName(i), err) })
					next.Store(int64(n))
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// memQuery is a query for the i-th name as a transport hands it to the chain.
func memQuery(i int) *resolver.Request {
	m := new(dns.Msg)
	m.SetQuestion(memName(i), dns.TypeA)
	m.SetEdns0(1232, false)
	return &resolver.Request{Msg: m, Transport: transport.UDP, Profile: &resolver.Profile{Name: "bench"}}
}

// memChain is a chain with metrics and a cache of room for n answers, in
// front of memUpstream.
func memChain(t testing.TB, n int) (*resolver.Chain, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	chain, err := resolver.New(resolver.Config{Upstream: memUpstream{}, Cache: &resolver.CacheConfig{Size: 2 * n}, Metrics: resolver.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	return chain, reg
}

// fillChain caches the answers for the names 0 to n-1 in chain and returns
// the live heap they added per entry.
func fillChain(t testing.TB, chain *resolver.Chain, reg *prometheus.Registry, n int) float64 {
	t.Helper()
	ctx := context.Background()
	before := heapInUse()
	fillNames(t, n, func(_, i int) error {
		resp, err := chain.ServeDNS(ctx, memQuery(i))
		if err == nil && len(resp.Answer) != 1 {
			return fmt.Errorf("%d answer records, want 1", len(resp.Answer))
		}
		return err
	})
	after := heapInUse()
	if got := counter(t, reg, "dnsward_cache_misses_total"); got != float64(n) {
		t.Fatalf("%v cache misses while filling, want %d", got, n)
	}
	if got := counter(t, reg, "dnsward_cache_evictions_total"); got != 0 {
		t.Fatalf("%v entries evicted while filling", got)
	}
	return float64(int64(after)-int64(before)) / float64(n)
}

// TestCacheMemoryPerEntry: a cached one-A-record answer costs at most 400
// bytes of heap, all told (it cost 475-500 B when entries held a parsed
// *dns.Msg).
func TestCacheMemoryPerEntry(t *testing.T) {
	const n = 50_000
	chain, reg := memChain(t, n)
	perEntry := fillChain(t, chain, reg, n)
	t.Logf("%.1f B per entry", perEntry)
	if perEntry > 400 {
		t.Errorf("%.1f B of heap per cached answer, want ≤ 400", perEntry)
	}
	runtime.KeepAlive(chain)
}

// BenchmarkCacheMemory fills the cache with -cachemem.entries one-A-record
// answers through the whole chain, from memUpstream (the answers unbound
// gets in BenchmarkCacheMemoryUnbound, unpacked from the wire), and reports the live heap they add per entry (B/entry). Its
// ns/op is then a cache hit through the whole chain for a random one of
// those names: a large cache's hit, which mostly misses the CPU caches;
// cpu-ns/op is the process's CPU time per hit.
func BenchmarkCacheMemory(b *testing.B) {
	n := *cacheMemEntries
	chain, reg := memChain(b, n)
	perEntry := fillChain(b, chain, reg, n)

	hits := make([]*resolver.Request, 1<<16)
	for i := range hits {
		hits[i] = memQuery(rand.IntN(n))
	}
	ctx := context.Background()
	start := counter(b, reg, "dnsward_cache_hits_total")
	i, cpu := 0, cpuTime(b)
	for b.Loop() {
		if _, err := chain.ServeDNS(ctx, hits[i&(len(hits)-1)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if got := counter(b, reg, "dnsward_cache_hits_total") - start; got != float64(i) {
		b.Fatalf("%v cache hits for %d queries", got, i)
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(i), "cpu-ns/op")
	b.ReportMetric(perEntry, "B/entry") // after the loop, which resets reported metrics
}

// cpuTime is the CPU time the process has used, in nanoseconds: on a busy
// machine a steadier measure of work than the wall clock behind ns/op.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkCacheHit is the cache step alone answering a hit on a one-A
// answer from memUpstream; cpu-ns/op is the process's CPU time per hit.
func BenchmarkCacheHit(b *testing.B) {
	next := resolver.HandlerFunc(func(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
		return memUpstream{}.Exchange(ctx, req.Msg)
	})
	c, err := resolver.NewCache(resolver.CacheConfig{Size: 1000}, next)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := memQuery(1)
	if _, err := c.ServeDNS(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := cpuTime(b)
	n := 0
	for b.Loop() {
		if _, err := c.ServeDNS(ctx, req); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(n), "cpu-ns/op")
}

// counter reads a counter from reg.
func counter(b testing.TB, reg *prometheus.Registry, name string) float64 {
	b.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	b.Fatalf("no metric %s", name)
	return 0
}
