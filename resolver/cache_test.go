package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeClock is a settable clock for TTL arithmetic.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// scripted answers through a function and counts calls: the cache's next step.
type scripted struct {
	calls atomic.Int32
	fn    func(q *dns.Msg) (*dns.Msg, error)
}

func (s *scripted) ServeDNS(_ context.Context, req *Request) (*dns.Msg, error) {
	s.calls.Add(1)
	return s.fn(req.Msg)
}

func aAnswer(ttl uint32) func(q *dns.Msg) (*dns.Msg, error) {
	return func(q *dns.Msg) (*dns.Msg, error) {
		m := NewReply(q, dns.RcodeSuccess)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.IPv4(127, 0, 0, 1)}}
		return m, nil
	}
}

func negAnswer(rcode int, soaTTL, minTTL uint32, withSOA bool) func(q *dns.Msg) (*dns.Msg, error) {
	return func(q *dns.Msg) (*dns.Msg, error) {
		m := NewReply(q, rcode)
		if withSOA {
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaTTL},
				Ns: "ns.example.", Mbox: "h.example.", Minttl: minTTL}}
		}
		return m, nil
	}
}

func query(name string, qtype uint16) *Request {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return &Request{Msg: m, Transport: transport.UDP, Profile: &Profile{Name: "test"}}
}

func newTestCache(t *testing.T, next Handler, clock *fakeClock, mod func(*CacheConfig)) *Cache {
	t.Helper()
	cfg := CacheConfig{Size: 1000, ServeStale: time.Hour, Now: clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewCache(cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCacheTTLDecay(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	up := &scripted{fn: aAnswer(100)}
	c := newTestCache(t, up, clock, nil)
	steps := []struct {
		advance   time.Duration
		wantTTL   uint32
		wantCalls int32
	}{
		{0, 100, 1},
		{30 * time.Second, 70, 1},
		{69 * time.Second, 1, 1},
		{2 * time.Second, 100, 2}, // expired: refreshed from upstream
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		resp, err := c.ServeDNS(context.Background(), query("Example.ORG.", dns.TypeA))
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Answer[0].Header().Ttl; got != s.wantTTL {
			t.Errorf("step %d: TTL %d, want %d", i, got, s.wantTTL)
		}
		if got := up.calls.Load(); got != s.wantCalls {
			t.Errorf("step %d: upstream calls %d, want %d", i, got, s.wantCalls)
		}
		if resp.Question[0].Name != "Example.ORG." {
			t.Errorf("step %d: question %q, want the client's spelling", i, resp.Question[0].Name)
		}
	}
}

func TestCacheNegative(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(q *dns.Msg) (*dns.Msg, error)
		wait      time.Duration
		wantCalls int32 // after two queries separated by wait
	}{
		{"NXDOMAIN cached for SOA minimum", negAnswer(dns.RcodeNameError, 3600, 60, true), 59 * time.Second, 1},
		{"NXDOMAIN expires after SOA minimum", negAnswer(dns.RcodeNameError, 3600, 60, true), 61 * time.Second, 2},
		{"NODATA cached for SOA TTL when smaller", negAnswer(dns.RcodeSuccess, 10, 600, true), 9 * time.Second, 1},
		{"NODATA expires after SOA TTL", negAnswer(dns.RcodeSuccess, 10, 600, true), 11 * time.Second, 2},
		{"NXDOMAIN without SOA not cached", negAnswer(dns.RcodeNameError, 0, 0, false), 0, 2},
		{"SERVFAIL not cached", negAnswer(dns.RcodeServerFailure, 0, 0, false), 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_000_000, 0)}
			up := &scripted{fn: tt.answer}
			c := newTestCache(t, up, clock, func(cfg *CacheConfig) { cfg.ServeStale = 0 })
			for i := 0; i < 2; i++ {
				if _, err := c.ServeDNS(context.Background(), query("missing.example.", dns.TypeA)); err != nil {
					t.Fatal(err)
				}
				clock.Advance(tt.wait)
			}
			if got := up.calls.Load(); got != tt.wantCalls {
				t.Fatalf("upstream calls %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

// TestCacheNegativeSOATTL: the SOA of a negative answer carries the
// negative TTL (RFC 2308 §3: min of its TTL and MINIMUM), on the miss and
// aged on the hits, so a downstream cache keeps it no longer than this one.
func TestCacheNegativeSOATTL(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(q *dns.Msg) (*dns.Msg, error)
		wantTTL []uint32 // the SOA TTL at 0 s, 100 s and 250 s
	}{
		{"NXDOMAIN, MINIMUM below TTL", negAnswer(dns.RcodeNameError, 3600, 300, true), []uint32{300, 200, 50}},
		{"NODATA, MINIMUM below TTL", negAnswer(dns.RcodeSuccess, 3600, 300, true), []uint32{300, 200, 50}},
		{"NXDOMAIN, TTL below MINIMUM", negAnswer(dns.RcodeNameError, 280, 3600, true), []uint32{280, 180, 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_000_000, 0)}
			up := &scripted{fn: tt.answer}
			c := newTestCache(t, up, clock, func(cfg *CacheConfig) { cfg.ServeStale = 0 })
			at := time.Duration(0)
			for i, wait := range []time.Duration{0, 100 * time.Second, 250 * time.Second} {
				clock.Advance(wait - at)
				at = wait
				resp, err := c.ServeDNS(context.Background(), query("missing.example.", dns.TypeA))
				if err != nil {
					t.Fatal(err)
				}
				if got := resp.Ns[0].Header().Ttl; got != tt.wantTTL[i] {
					t.Errorf("at %v: SOA TTL %d, want %d", wait, got, tt.wantTTL[i])
				}
			}
			if got := up.calls.Load(); got != 1 {
				t.Errorf("upstream calls %d, want 1", got)
			}
		})
	}
}

func TestCacheEviction(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	up := &scripted{fn: aAnswer(3600)}
	c := newTestCache(t, up, clock, func(cfg *CacheConfig) { cfg.Size = cacheShards * 2 })
	for i := 0; i < cacheShards*10; i++ {
		if _, err := c.ServeDNS(context.Background(), query(fmt.Sprintf("n%d.example.", i), dns.TypeA)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Len(); n > cacheShards*2 {
		t.Fatalf("cache holds %d entries, bound is %d", n, cacheShards*2)
	}
	// The most recent name is still cached; the first one was evicted.
	before := up.calls.Load()
	c.ServeDNS(context.Background(), query(fmt.Sprintf("n%d.example.", cacheShards*10-1), dns.TypeA))
	if up.calls.Load() != before {
		t.Error("most recently used entry was evicted")
	}
	c.ServeDNS(context.Background(), query("n0.example.", dns.TypeA))
	if up.calls.Load() != before+1 {
		t.Error("least recently used entry survived eviction")
	}
}

func TestCacheServeStale(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	var fail atomic.Bool
	ok := aAnswer(60)
	up := &scripted{fn: func(q *dns.Msg) (*dns.Msg, error) {
		if fail.Load() {
			return nil, errors.New("upstream down")
		}
		return ok(q)
	}}
	c := newTestCache(t, up, clock, func(cfg *CacheConfig) { cfg.ServeStale = 10 * time.Minute })
	req := query("stale.example.", dns.TypeA)
	req.Msg.SetEdns0(1232, false)
	if _, err := c.ServeDNS(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)

	clock.Advance(5 * time.Minute) // expired, inside the stale window
	resp, err := c.ServeDNS(context.Background(), req)
	if err != nil {
		t.Fatalf("stale answer expected, got %v", err)
	}
	if ttl := resp.Answer[0].Header().Ttl; ttl != StaleTTL {
		t.Errorf("stale TTL %d, want %d", ttl, StaleTTL)
	}
	if ede, ok := EDE(resp); !ok || ede.InfoCode != EDEStaleAnswer {
		t.Errorf("stale answer lacks EDE 3: %v", resp)
	}

	clock.Advance(10 * time.Minute) // past the stale window
	if _, err := c.ServeDNS(context.Background(), req); err == nil {
		t.Error("answer served beyond the serve-stale window")
	}
}

func TestCachePrefetch(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	up := &scripted{fn: aAnswer(100)}
	c := newTestCache(t, up, clock, nil)
	req := query("popular.example.", dns.TypeA)
	c.ServeDNS(context.Background(), req) // miss: call 1
	for i := 0; i < 3; i++ {
		c.ServeDNS(context.Background(), req) // hits, early in the TTL: no prefetch
	}
	if got := up.calls.Load(); got != 1 {
		t.Fatalf("prefetched too early: %d calls", got)
	}
	clock.Advance(95 * time.Second) // 5 % of the TTL left
	resp, _ := c.ServeDNS(context.Background(), req)
	if resp.Answer[0].Header().Ttl != 5 {
		t.Fatalf("hit during prefetch should still serve the cached answer, TTL %d", resp.Answer[0].Header().Ttl)
	}
	deadline := time.Now().Add(5 * time.Second)
	for up.calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := up.calls.Load(); got != 2 {
		t.Fatalf("no prefetch: %d upstream calls", got)
	}
	// The refreshed entry now carries a fresh TTL without another upstream call.
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, _ = c.ServeDNS(context.Background(), req)
		if resp.Answer[0].Header().Ttl == 100 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if resp.Answer[0].Header().Ttl != 100 {
		t.Fatalf("prefetched answer not stored, TTL %d", resp.Answer[0].Header().Ttl)
	}
	if got := up.calls.Load(); got != 2 {
		t.Fatalf("upstream calls %d after prefetch, want 2", got)
	}
}

func TestCoalescer(t *testing.T) {
	release := make(chan struct{})
	up := &scripted{fn: func(q *dns.Msg) (*dns.Msg, error) {
		<-release
		return aAnswer(60)(q)
	}}
	m := NewMetrics(nil)
	c := NewCoalescer(up, 5*time.Second, m)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(id uint16) {
			defer wg.Done()
			req := query("same.example.", dns.TypeA)
			req.Msg.Id = id
			resp, err := c.ServeDNS(context.Background(), req)
			if err == nil && resp.Id != id {
				err = fmt.Errorf("answer ID %d for query ID %d", resp.Id, id)
			}
			errs <- err
		}(uint16(i))
	}
	// Let every goroutine join the flight before the upstream answers.
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(m.coalesced) < n-1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := up.calls.Load(); got != 1 {
		t.Fatalf("%d upstream queries for %d identical concurrent misses, want 1", got, n)
	}
}

func TestCacheStaleTimers(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	var mode atomic.Int32 // 0 answer, 1 slow answer, 2 fail
	release := make(chan struct{})
	ok := aAnswer(60)
	up := &scripted{fn: func(q *dns.Msg) (*dns.Msg, error) {
		switch mode.Load() {
		case 1:
			<-release
		case 2:
			return nil, errors.New("upstream down")
		}
		return ok(q)
	}}
	c := newTestCache(t, up, clock, func(cfg *CacheConfig) {
		cfg.ServeStale = time.Hour
		cfg.StaleAfter = 500 * time.Millisecond // long enough that a failing refresh always beats it
	})
	req := query("timers.example.", dns.TypeA)
	req.Msg.SetEdns0(1232, false)
	if _, err := c.ServeDNS(context.Background(), req); err != nil {
		t.Fatal(err)
	}

	// A slow refresh: the client gets the stale answer after StaleAfter, and
	// the refresh, finishing later, replaces the entry.
	mode.Store(1)
	clock.Advance(2 * time.Minute)
	resp, err := c.ServeDNS(context.Background(), req)
	if err != nil || resp.Answer[0].Header().Ttl != StaleTTL {
		t.Fatalf("want a stale answer while the refresh is slow, got %v %v", resp, err)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if resp, _ = c.ServeDNS(context.Background(), req); resp.Answer[0].Header().Ttl == 60 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if resp.Answer[0].Header().Ttl != 60 {
		t.Fatal("the background refresh did not replace the stale entry")
	}

	// A failed refresh: stale at once, and no upstream query for the next
	// failureRecheck. Another name, so that no refresh left over from above
	// can touch its entry.
	req = query("timers2.example.", dns.TypeA)
	req.Msg.SetEdns0(1232, false)
	mode.Store(0)
	if _, err := c.ServeDNS(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	mode.Store(2)
	clock.Advance(2 * time.Minute)
	if resp, err = c.ServeDNS(context.Background(), req); err != nil || resp.Answer[0].Header().Ttl != StaleTTL {
		t.Fatalf("want stale after a failed refresh, got %v %v", resp, err)
	}
	calls := up.calls.Load()
	clock.Advance(10 * time.Second)
	if resp, err = c.ServeDNS(context.Background(), req); err != nil || resp.Answer[0].Header().Ttl != StaleTTL {
		t.Fatalf("want stale during the recheck interval, got %v %v", resp, err)
	}
	if up.calls.Load() != calls {
		t.Fatal("the upstream was asked again within the failure recheck interval")
	}
	clock.Advance(failureRecheck)
	c.ServeDNS(context.Background(), req)
	if up.calls.Load() != calls+1 {
		t.Fatal("the upstream was not asked again after the failure recheck interval")
	}
}

func TestCacheClampsTTLs(t *testing.T) {
	tests := []struct {
		name      string
		recordTTL uint32
		min, max  time.Duration
		wantTTL   uint32
		cachedFor time.Duration // still a hit just before this
	}{
		{"max_ttl lowers what clients see", 3600, 0, time.Minute, 60, time.Minute},
		{"min_ttl raises what clients see", 5, 30 * time.Second, time.Hour, 30, 30 * time.Second},
		{"within bounds unchanged", 300, 10 * time.Second, time.Hour, 300, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_000_000, 0)}
			up := &scripted{fn: aAnswer(tt.recordTTL)}
			c := newTestCache(t, up, clock, func(cfg *CacheConfig) { cfg.MinTTL, cfg.MaxTTL, cfg.ServeStale = tt.min, tt.max, 0 })
			req := query("clamp.example.", dns.TypeA)
			c.ServeDNS(context.Background(), req)
			resp, _ := c.ServeDNS(context.Background(), req)
			if got := resp.Answer[0].Header().Ttl; got != tt.wantTTL {
				t.Fatalf("TTL %d, want %d", got, tt.wantTTL)
			}
			clock.Advance(tt.cachedFor - time.Second)
			c.ServeDNS(context.Background(), req)
			if up.calls.Load() != 1 {
				t.Fatalf("expired before %s", tt.cachedFor)
			}
			clock.Advance(2 * time.Second)
			c.ServeDNS(context.Background(), req)
			if up.calls.Load() != 2 {
				t.Fatalf("still cached after %s", tt.cachedFor)
			}
		})
	}
}

func TestCoalescerSurvivesPanic(t *testing.T) {
	var calls atomic.Int32
	up := HandlerFunc(func(_ context.Context, req *Request) (*dns.Msg, error) {
		if calls.Add(1) == 1 {
			panic("bug below the coalescer")
		}
		return aAnswer(60)(req.Msg)
	})
	c := NewCoalescer(up, time.Second, nil)
	if _, err := c.ServeDNS(context.Background(), query("p.example.", dns.TypeA)); err == nil {
		t.Fatal("a panic below became an answer")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.ServeDNS(ctx, query("p.example.", dns.TypeA)); err != nil {
		t.Fatalf("the name is stuck after a panic: %v", err)
	}
}
