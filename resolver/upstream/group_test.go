package upstream

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/metricstest"
	"github.com/dnsward/dnsward/resolver"
)

// server modes for switchable test upstreams.
const (
	modeOK int32 = iota
	modeSilent
	modeServFail
	modeSlow
)

// switchable is a UDP test server whose behaviour a test changes.
type switchable struct {
	*udpServer
	mode atomic.Int32
}

func startSwitchable(t *testing.T, mode int32) *switchable {
	s := &switchable{}
	s.mode.Store(mode)
	s.udpServer = startUDP(t, listenUDP(t), func(q *dns.Msg) *dns.Msg {
		switch s.mode.Load() {
		case modeSilent:
			return nil
		case modeServFail:
			r := new(dns.Msg)
			r.SetRcode(q, dns.RcodeServerFailure)
			return r
		case modeSlow:
			time.Sleep(100 * time.Millisecond)
		}
		return answerA(q)
	})
	return s
}

func refusedAddr(t *testing.T) string {
	pc := listenUDP(t)
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func newGroup(t *testing.T, cfg GroupConfig, urls ...string) *Group {
	t.Helper()
	opts := testOptions()
	opts.Timeout = 500 * time.Millisecond
	opts.Metrics = cfg.Metrics
	for _, url := range urls {
		u, err := New(url, opts)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Upstreams = append(cfg.Upstreams, u)
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLog
	}
	g, err := NewGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func TestGroupFailover(t *testing.T) {
	tests := []struct {
		name     string
		first    func(t *testing.T) string
		wantKind Kind
	}{
		{"refused", refusedAddr, KindNetwork},
		{"blackholed", func(t *testing.T) string { return startSwitchable(t, modeSilent).addr }, KindTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			first := tt.first(t)
			good := startSwitchable(t, modeOK)
			g := newGroup(t, GroupConfig{Metrics: reg, Backoff: time.Hour}, first, good.addr)
			for i := range 3 {
				q := query("failover.test.", uint16(100+i))
				r, err := g.Exchange(context.Background(), q)
				if err != nil {
					t.Fatalf("query %d: %v", i, err)
				}
				checkAnswer(t, q, r)
			}
			if n := good.hits.Load(); n != 3 {
				t.Errorf("working upstream answered %d of 3", n)
			}
			if v := metricstest.Must(t, reg, "dnsward_upstream_errors_total", "kind", tt.wantKind.String(), "upstream", "udp://"+first); v != 1 {
				t.Errorf("errors_total{kind=%s} = %v, want 1 (the resting upstream is not retried)", tt.wantKind, v)
			}
			if v := metricstest.Must(t, reg, "dnsward_upstream_healthy", "upstream", "udp://"+first); v != 0 {
				t.Errorf("failed upstream healthy = %v, want 0", v)
			}
			if v := metricstest.Must(t, reg, "dnsward_upstream_request_duration_seconds", "upstream", "udp://"+good.addr); v != 3 {
				t.Errorf("duration samples for the working upstream = %v, want 3", v)
			}
			if v := metricstest.Must(t, reg, "dnsward_upstream_healthy", "upstream", "udp://"+good.addr); v != 1 {
				t.Errorf("working upstream healthy = %v, want 1", v)
			}
		})
	}
}

func TestGroupAllFail(t *testing.T) {
	silentAddr := func(t *testing.T) string { return startSwitchable(t, modeSilent).addr }
	tests := []struct {
		name    string
		members []func(t *testing.T) string
		want    error
	}{
		{"all timed out", []func(*testing.T) string{silentAddr, silentAddr}, ErrNoReachableAuthority},
		{"refused and timed out", []func(*testing.T) string{refusedAddr, silentAddr}, ErrNetwork},
		{"all refused", []func(*testing.T) string{refusedAddr, refusedAddr}, ErrNetwork},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var urls []string
			for _, m := range tt.members {
				urls = append(urls, m(t))
			}
			g := newGroup(t, GroupConfig{}, urls...)
			_, err := g.Exchange(context.Background(), query("down.test.", 1))
			var ge *GroupError
			if !errors.As(err, &ge) || len(ge.Errs) != len(urls) {
				t.Fatalf("got %v, want a *GroupError with %d causes", err, len(urls))
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v does not match %v", err, tt.want)
			}
			other := ErrNetwork
			if tt.want == ErrNetwork {
				other = ErrNoReachableAuthority
			}
			if errors.Is(err, other) {
				t.Errorf("error %v also matches %v", err, other)
			}
			// The resolver core, which cannot import this package, picks
			// EDE 22 over 23 by context.DeadlineExceeded.
			if got, want := errors.Is(err, context.DeadlineExceeded), tt.want == ErrNoReachableAuthority; got != want {
				t.Errorf("errors.Is(err, context.DeadlineExceeded) = %v, want %v", got, want)
			}
		})
	}
}

// TestGroupLatencyOrder: once both are measured, the faster upstream gets
// the queries even though it is listed second.
func TestGroupLatencyOrder(t *testing.T) {
	slow := startSwitchable(t, modeSlow)
	fast := startSwitchable(t, modeOK)
	g := newGroup(t, GroupConfig{}, slow.addr, fast.addr)
	const n = 10
	for i := range n {
		if _, err := g.Exchange(context.Background(), query("order.test.", uint16(i))); err != nil {
			t.Fatal(err)
		}
	}
	// Query 1 measures slow (listed first), query 2 the unmeasured fast one;
	// from then on fast is first.
	if s, f := slow.hits.Load(), fast.hits.Load(); s != 1 || f != n-1 {
		t.Errorf("slow answered %d, fast %d; want 1 and %d", s, f, n-1)
	}
}

// TestGroupRecovery: a failed upstream rests, is probed after its backoff and
// takes traffic again once it answers.
func TestGroupRecovery(t *testing.T) {
	reg := prometheus.NewRegistry()
	primary := startSwitchable(t, modeSilent)
	backup := startSwitchable(t, modeOK)
	g := newGroup(t, GroupConfig{Metrics: reg, Backoff: 100 * time.Millisecond}, primary.addr, backup.addr)
	ask := func() {
		t.Helper()
		q := query("recover.test.", 5)
		r, err := g.Exchange(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		checkAnswer(t, q, r)
	}
	ask() // primary times out, backup answers
	ask() // primary rests
	if p, b := primary.hits.Load(), backup.hits.Load(); p != udpAttempts || b != 2 {
		t.Fatalf("primary asked %d, backup %d; want %d (one exchange) and 2", p, b, udpAttempts)
	}
	if v := metricstest.Must(t, reg, "dnsward_upstream_healthy", "upstream", "udp://"+primary.addr); v != 0 {
		t.Errorf("primary healthy = %v, want 0", v)
	}
	primary.mode.Store(modeOK)
	time.Sleep(150 * time.Millisecond) // past the backoff
	ask()                              // backup answers; a probe goes to primary in the background
	deadline := time.Now().Add(2 * time.Second)
	for metricstest.Must(t, reg, "dnsward_upstream_healthy", "upstream", "udp://"+primary.addr) != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if p := primary.hits.Load(); p != udpAttempts+1 {
		t.Fatalf("primary asked %d times, want the probe (%d)", p, udpAttempts+1)
	}
	if v := metricstest.Must(t, reg, "dnsward_upstream_healthy", "upstream", "udp://"+primary.addr); v != 1 {
		t.Errorf("primary healthy = %v after a good probe, want 1", v)
	}
}

// TestGroupProbeInBackground: when an upstream's rest ends while another is
// healthy, the client's query is answered by the healthy one at once; the
// probe of the resting one (still silent here) does not make it wait for
// the 500 ms timeout.
func TestGroupProbeInBackground(t *testing.T) {
	primary := startSwitchable(t, modeSilent)
	backup := startSwitchable(t, modeOK)
	g := newGroup(t, GroupConfig{Backoff: 50 * time.Millisecond}, primary.addr, backup.addr)
	q := query("probe.test.", 5)
	if _, err := g.Exchange(context.Background(), q); err != nil { // primary fails, rests
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the rest has ended
	before := primary.hits.Load()
	start := time.Now()
	r, err := g.Exchange(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, q, r)
	if took := time.Since(start); took > 250*time.Millisecond {
		t.Fatalf("the query waited %v: the probe of the silent upstream ran in its path", took)
	}
	deadline := time.Now().Add(time.Second)
	for primary.hits.Load() == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if primary.hits.Load() == before {
		t.Fatal("the resting upstream was never probed")
	}
}

// TestGroupServFail: SERVFAIL is answered by asking the next upstream once.
func TestGroupServFail(t *testing.T) {
	tests := []struct {
		name      string
		modes     []int32
		wantRcode int
		wantHits  []int64
	}{
		{"next answers", []int32{modeServFail, modeOK}, dns.RcodeSuccess, []int64{1, 1}},
		{"only once", []int32{modeServFail, modeServFail, modeOK}, dns.RcodeServerFailure, []int64{1, 1, 0}},
		{"last resort", []int32{modeServFail, modeSilent}, dns.RcodeServerFailure, []int64{1, udpAttempts}},
		{"single", []int32{modeServFail}, dns.RcodeServerFailure, []int64{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var servers []*switchable
			var urls []string
			for _, m := range tt.modes {
				s := startSwitchable(t, m)
				servers = append(servers, s)
				urls = append(urls, s.addr)
			}
			g := newGroup(t, GroupConfig{}, urls...)
			r, err := g.Exchange(context.Background(), query("sf.test.", 77))
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tt.wantRcode || r.Id != 77 {
				t.Errorf("rcode %s id %d, want %s id 77", dns.RcodeToString[r.Rcode], r.Id, dns.RcodeToString[tt.wantRcode])
			}
			for i, s := range servers {
				if h := s.hits.Load(); h != tt.wantHits[i] {
					t.Errorf("upstream %d asked %d times, want %d", i, h, tt.wantHits[i])
				}
			}
		})
	}
}

func TestNewGroupValidation(t *testing.T) {
	u := newUpstream(t, "127.0.0.1:53", testOptions())
	tests := []struct {
		name string
		cfg  GroupConfig
	}{
		{"empty", GroupConfig{}},
		{"nil member", GroupConfig{Upstreams: []resolver.Upstream{u, nil}}},
		{"negative backoff", GroupConfig{Upstreams: []resolver.Upstream{u}, Backoff: -time.Second}},
		{"max below backoff", GroupConfig{Upstreams: []resolver.Upstream{u}, Backoff: time.Minute, MaxBackoff: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewGroup(tt.cfg); err == nil {
				t.Error("NewGroup accepted a bad config")
			}
		})
	}
}

// TestGroupNested: a Group member that is itself a Group fails over as one
// upstream, keeping the "all timed out" distinction.
func TestGroupNested(t *testing.T) {
	inner := newGroup(t, GroupConfig{}, startSwitchable(t, modeSilent).addr)
	good := startSwitchable(t, modeOK)
	outer := newGroup(t, GroupConfig{Upstreams: []resolver.Upstream{inner}}, good.addr)
	q := query("nested.test.", 9)
	r, err := outer.Exchange(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, q, r)
	good.mode.Store(modeSilent)
	_, err = outer.Exchange(context.Background(), query("nested.test.", 10))
	if !errors.Is(err, ErrNoReachableAuthority) {
		t.Fatalf("got %v, want ErrNoReachableAuthority", err)
	}
}

// failTogether sends n queries to g at once and waits for them all to fail.
func failTogether(t *testing.T, g *Group, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := g.Exchange(context.Background(), query("dead.test.", uint16(i))); err == nil {
				t.Error("a query to failing upstreams was answered")
			}
		})
	}
	wg.Wait()
}

// TestGroupAllDeadFailsFast: once every upstream has failed deadAfter times
// in a row, a query fails at once without asking them (the cache then
// serves stale answers without waiting), and the error still tells
// timeouts from network errors.
func TestGroupAllDeadFailsFast(t *testing.T) {
	hole := startSwitchable(t, modeSilent)
	g := newGroup(t, GroupConfig{Backoff: time.Hour}, hole.addr, refusedAddr(t))
	failTogether(t, g, deadAfter)
	asked := hole.hits.Load()
	start := time.Now()
	_, err := g.Exchange(context.Background(), query("dead.test.", 99))
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("the query took %v, want an immediate failure", took)
	}
	var ge *GroupError
	if !errors.As(err, &ge) || len(ge.Errs) != 2 || !errors.Is(ge.Errs[0], errDead) {
		t.Fatalf("got %v, want a *GroupError naming both upstreams as dead", err)
	}
	if ge.Errs[0].Kind != KindTimeout || ge.Errs[1].Kind != KindNetwork || !errors.Is(err, ErrNetwork) {
		t.Errorf("kinds %v, %v: want each upstream's last failure (timeout, network)", ge.Errs[0].Kind, ge.Errs[1].Kind)
	}
	if n := hole.hits.Load(); n != asked {
		t.Errorf("the dead upstream was asked %d more times", n-asked)
	}
}

// TestGroupDeadRecovers: a dead upstream is probed in the background when
// its rest ends, and answers again once the probe succeeds. A burst of
// concurrent failures counts as one rest, so the probe is not postponed.
func TestGroupDeadRecovers(t *testing.T) {
	s := startSwitchable(t, modeSilent)
	g := newGroup(t, GroupConfig{Backoff: 100 * time.Millisecond}, s.addr)
	failTogether(t, g, 10)
	s.mode.Store(modeOK)
	var ge *GroupError
	if _, err := g.Exchange(context.Background(), query("back.test.", 1)); !errors.As(err, &ge) || !errors.Is(ge.Errs[0], errDead) {
		t.Fatalf("got %v during the rest, want the dead upstream not asked", err)
	}
	time.Sleep(150 * time.Millisecond) // the rest has ended
	start := time.Now()
	_, _ = g.Exchange(context.Background(), query("back.test.", 2)) // claims the probe
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("the probing query took %v, want it not to wait for the probe", took)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		q := query("back.test.", 3)
		r, err := g.Exchange(context.Background(), q)
		if err == nil {
			checkAnswer(t, q, r)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after the probe: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
