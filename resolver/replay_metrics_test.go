package resolver

import (
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestReplayNotForUncacheable: an answer the cache refuses to store
// (NXDOMAIN without SOA, RFC 2308 §5) is not replayed either: the chain
// asks the upstream again for the next query.
func TestReplayNotForUncacheable(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	up := &scripted{fn: func(q *dns.Msg) (*dns.Msg, error) { return NewReply(q, dns.RcodeNameError), nil }}
	h, err := New(Config{Upstream: upstreamFunc(up.ServeDNS), Cache: &CacheConfig{Size: 10}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	r := h
	req := Request{Transport: transport.DoT, Profile: &Profile{Name: "p"}}
	resolvePacked(t, r, req, packedQuery(t, 1, "nx.example.", nil), true)
	if _, _, ok := r.Replay(&req, packedQuery(t, 2, "nx.example.", nil), nil); ok {
		t.Fatalf("replayed an answer the cache never stored (%v cache hits)", testutil.ToFloat64(m.cacheHits))
	}
}

type blockAll struct{}

func (blockAll) Check(string, uint16) Verdict {
	return Verdict{Action: ActionBlock, Category: "ads", Answer: BlockedAnswer{Kind: BlockNXDomain}, EDE: EDEBlocked}
}

// TestReplayCountsPolicy: replayed blocked answers count in
// dnsward_policy_blocked_total like the first.
func TestReplayCountsPolicy(t *testing.T) {
	reg := prometheus.NewRegistry()
	up := &scripted{fn: aAnswer(300)}
	h, err := New(Config{Upstream: upstreamFunc(up.ServeDNS), Cache: &CacheConfig{Size: 10}, Registerer: reg, Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	r := h
	req := Request{Transport: transport.DoT, Profile: &Profile{Name: "kids", Policy: blockAll{}}}
	resolvePacked(t, r, req, packedQuery(t, 1, "ads.example.", nil), true)
	for i := range 3 {
		if _, _, ok := r.Replay(&req, packedQuery(t, uint16(2+i), "ads.example.", nil), nil); !ok {
			t.Fatal("blocked answer not replayed")
		}
	}
	if got, err := testutil.GatherAndCount(reg, "dnsward_policy_blocked_total"); err != nil || got != 1 {
		t.Fatalf("dnsward_policy_blocked_total: %d series, %v", got, err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "dnsward_policy_blocked_total" {
			if got := mf.GetMetric()[0].GetCounter().GetValue(); got != 4 {
				t.Fatalf("dnsward_policy_blocked_total = %v after 4 blocked answers (3 replayed)", got)
			}
		}
	}
}

// TestReplayNotForUncacheableRefresh: an expired entry refreshed in time
// (RFC 8767) by an answer the cache refuses to store is not replayed
// either, as on a miss.
func TestReplayNotForUncacheableRefresh(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	nxNoSOA := false
	up := &scripted{fn: func(q *dns.Msg) (*dns.Msg, error) {
		if nxNoSOA {
			return NewReply(q, dns.RcodeNameError), nil // no SOA: not cacheable (RFC 2308 §5)
		}
		return aAnswer(60)(q)
	}}
	h := replayChain(t, up, func(c *CacheConfig) { c.Now = clock.Now; c.StaleAfter = time.Minute })
	req := Request{Transport: transport.DoT, Profile: &Profile{Name: "p"}}
	resolvePacked(t, h, req, packedQuery(t, 1, "a.example.", nil), false)
	clock.Advance(2 * time.Minute)
	nxNoSOA = true
	ans := resolvePacked(t, h, req, packedQuery(t, 2, "a.example.", nil), true)
	if m := new(dns.Msg); m.Unpack(ans) != nil || m.Rcode != dns.RcodeNameError {
		t.Fatalf("setup: the refresh's answer was not served: %x", ans)
	}
	if _, _, ok := h.Replay(&req, packedQuery(t, 3, "a.example.", nil), nil); ok {
		t.Fatal("replayed a refreshed answer the cache refused to store")
	}
}
