package upstream

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/metricstest"
	"github.com/dnsward/dnsward/resolver"
)

// TestMaxPending: with MaxPending exchanges waiting on a silent upstream,
// one more is not sent but fails at once with KindBusy; a group then asks
// the next upstream straight away and does not hold the full one's queue
// against its health.
func TestMaxPending(t *testing.T) {
	reg := prometheus.NewRegistry()
	silent := startSwitchable(t, modeSilent)
	good := startSwitchable(t, modeOK)
	opts := testOptions()
	opts.Timeout, opts.MaxPending, opts.Metrics = 2*time.Second, 2, reg
	first, err := New("udp://"+silent.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	second, err := New("udp://"+good.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGroup(GroupConfig{Upstreams: []resolver.Upstream{first, second}, Logger: quietLog, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	q := new(dns.Msg).SetQuestion("a.example.", dns.TypeA)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 { // fill the silent upstream's queue
		wg.Add(1)
		go func() { defer wg.Done(); first.Exchange(ctx, q) }()
	}
	deadline := time.Now().Add(2 * time.Second)
	for first.(*instrumented).pending.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	_, err = first.Exchange(context.Background(), q)
	var ue *Error
	if !errors.As(err, &ue) || ue.Kind != KindBusy || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("third exchange: %v after %v, want KindBusy at once", err, time.Since(start))
	}
	for range 3 { // more than the 3 failures that mark a member down
		start = time.Now()
		r, err := g.Exchange(context.Background(), q)
		if err != nil || len(r.Answer) != 1 || time.Since(start) > 200*time.Millisecond {
			t.Fatalf("group with the first upstream full: %v %v after %v, want the second's answer at once", r, err, time.Since(start))
		}
	}
	if got := metricstest.Value(t, reg, "dnsward_upstream_errors_total", "upstream", first.String(), "kind", "busy"); got != 4 {
		t.Errorf("busy errors counted = %v, want 4", got)
	}
	cancel()
	wg.Wait()
	g.mu.Lock()
	fails := g.members[0].fails
	g.mu.Unlock()
	if fails != 0 {
		t.Errorf("a full queue counted as %d failures against the upstream's health", fails)
	}
}
