package dnstest

import (
	"testing"

	"github.com/miekg/dns"
)

// TestCachingUnboundStats fills a caching unbound with answers from an
// Authority and reads its cache counters over remote control.
func TestCachingUnboundStats(t *testing.T) {
	auth := StartAuthority(t, []string{"a.example. 300 IN A 127.0.0.1", "b.example. 300 IN A 127.0.0.2"}, nil)
	u := StartCachingUnbound(t, auth.Addr, "4m")
	before := u.Stats(t)
	for _, name := range []string{"a.example.", "b.example.", "a.example."} {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		r, err := dns.Exchange(q, u.Addr)
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("%s: %v %v", name, r, err)
		}
	}
	after := u.Stats(t)
	if got := auth.Queries.Load(); got != 2 {
		t.Errorf("the authority got %d queries, want 2 (the repeat is a cache hit)", got)
	}
	if n := after["msg.cache.count"] - before["msg.cache.count"]; n != 2 {
		t.Errorf("msg.cache.count grew by %v, want 2", n)
	}
	if after["mem.cache.message"] <= before["mem.cache.message"] || after["mem.cache.rrset"] <= before["mem.cache.rrset"] {
		t.Errorf("cache memory did not grow: before %v/%v, after %v/%v", before["mem.cache.message"], before["mem.cache.rrset"],
			after["mem.cache.message"], after["mem.cache.rrset"])
	}
}
