package onboarding

import (
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/transport"
	"github.com/dnsward/dnsward/resolver"
)

func dohRequest(profile string) *resolver.Request {
	return &resolver.Request{Profile: &resolver.Profile{Name: profile}, Transport: transport.DoH2}
}

// TestChecks: a token is kept for the TTL and no longer, the first query
// wins, made-up names are ignored, and a flood keeps at most max.
func TestChecks(t *testing.T) {
	c := NewChecks(time.Minute, 3)
	now := time.Unix(1e9, 0)
	c.now = func() time.Time { return now }
	a, b := NewToken(), NewToken()
	if !ValidToken(a) || a == b {
		t.Fatalf("tokens %q %q", a, b)
	}
	c.Record(a, dohRequest("child"))
	c.Record(a, &resolver.Request{Profile: &resolver.Profile{Name: "open"}, Transport: transport.UDP})
	c.Record("www", dohRequest("child"))
	if s, ok := c.Lookup(a); !ok || s.Profile != "child" || s.Transport != transport.DoH2 {
		t.Fatalf("lookup %v %v", s, ok)
	}
	if _, ok := c.Lookup("www"); ok {
		t.Fatal("a name not shaped like a token was kept")
	}
	now = now.Add(61 * time.Second)
	if _, ok := c.Lookup(a); ok {
		t.Fatal("kept past its TTL")
	}
	for range 10 {
		c.Record(NewToken(), dohRequest("child"))
	}
	c.Record(b, dohRequest("child"))
	if len(c.seen) != 3 || len(c.order) != 3 {
		t.Fatalf("%d kept, want at most 3", len(c.seen))
	}
	if _, ok := c.Lookup(b); !ok {
		t.Fatal("the newest token was pushed out")
	}
}
