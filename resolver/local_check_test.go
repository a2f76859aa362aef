package resolver

import (
	"context"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/transport"
)

// checkLog is a CheckRecorder that keeps what it was told.
type checkLog []string

func (c *checkLog) Record(token string, req *Request) {
	*c = append(*c, token+" "+req.Profile.Name+" "+req.Transport.String())
}

// TestLocalCheckZone: every name under the check zone is answered NXDOMAIN
// with the zone's SOA, whatever the profile's policy, without asking the
// upstream; the label right below the zone is recorded with the profile
// and transport, and the apex records nothing. Names beside the zone are
// forwarded as usual.
func TestLocalCheckZone(t *testing.T) {
	asked := 0
	up := HandlerFunc(func(_ context.Context, req *Request) (*dns.Msg, error) {
		asked++
		return aAnswer(60)(req.Msg)
	})
	var log checkLog
	h, err := New(Config{Upstream: upstreamFunc(up), Local: LocalConfig{CheckZone: "Check.Example", Check: &log}})
	if err != nil {
		t.Fatal(err)
	}
	block := &Profile{Name: "child", Policy: blockAll{}}
	for _, tt := range []struct {
		name   string
		record string // "" for nothing
		rcode  int
	}{
		{"abc.check.example.", "abc child doh2", dns.RcodeNameError},
		{"X.TOKEN.Check.Example.", "token child doh2", dns.RcodeNameError},
		{"check.example.", "", dns.RcodeSuccess}, // the apex exists: NODATA, never NXDOMAIN (RFC 8020)
	} {
		req := query(tt.name, dns.TypeA)
		req.Profile, req.Transport = block, transport.DoH2
		log = nil
		resp, err := h.ServeDNS(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Rcode != tt.rcode || len(resp.Answer) != 0 || len(resp.Ns) != 1 || resp.Ns[0].Header().Name != "check.example." {
			t.Errorf("%s: %s, want %s with the check zone's SOA", tt.name, resp, dns.RcodeToString[tt.rcode])
		}
		if got := strings.Join(log, ","); got != tt.record {
			t.Errorf("%s: recorded %q, want %q", tt.name, got, tt.record)
		}
	}
	if asked != 0 {
		t.Errorf("the upstream was asked %d times for check names", asked)
	}
	if _, err := h.ServeDNS(context.Background(), query("notcheck.example.", dns.TypeA)); err != nil || asked != 1 {
		t.Errorf("a name beside the zone: err %v, upstream asked %d, want forwarded once", err, asked)
	}
	if _, err := New(Config{Upstream: upstreamFunc(up), Local: LocalConfig{CheckZone: "check.example"}}); err == nil {
		t.Error("a check zone without a recorder was accepted")
	}
}
