// Package frontendtest provides the real parts the DoT, DoQ and load generator
// tests share: an upstream DNS server on loopback, a handler that forwards to
// it per profile, the test profiles and the names their certificate covers.
package frontendtest

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/resolver"
	"github.com/dnsward/dnsward/resolver/upstream"
)

// AddrFor is the A record the test upstream answers for name: 198.18.x.y from
// a hash of the name, so tests can check that each answer matches its query.
func AddrFor(name string) netip.Addr {
	var h uint32 = 2166136261
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return netip.AddrFrom4([4]byte{198, 18, byte(h >> 8), byte(h)})
}

// Upstream is an authoritative-style DNS server on 127.0.0.1 (UDP) answering
// every A query with AddrFor(name); names under "nx." are NXDOMAIN.
type Upstream struct {
	Addr    string
	Queries atomic.Int64
}

// StartUpstream runs an Upstream until the test ends.
func StartUpstream(t testing.TB) *Upstream {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &Upstream{Addr: pc.LocalAddr().String()}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		u.Queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(q)
		name := q.Question[0].Name
		switch {
		case strings.HasSuffix(name, ".nx."):
			m.Rcode = dns.RcodeNameError
		case q.Question[0].Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
				A:   AddrFor(name).AsSlice(),
			})
		}
		w.WriteMsg(m)
	})
	dnstest.ServeOn(t, h, pc, nil)
	return u
}

// Handler forwards to an Upstream over UDP and applies the profile's policy.
// Names starting with "slow" are delayed by Delay before being forwarded, and
// "whoami.test." TXT answers the profile's name without going upstream.
type Handler struct {
	Upstream string
	Delay    time.Duration
}

// ServeDNS implements resolver.Handler.
func (h *Handler) ServeDNS(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
	q := req.Msg
	if len(q.Question) != 1 {
		return resolver.NewReply(q, dns.RcodeFormatError), nil
	}
	name := strings.ToLower(q.Question[0].Name)
	if name == "whoami.test." {
		m := resolver.NewReply(q, dns.RcodeSuccess)
		m.Answer = append(m.Answer, &dns.TXT{
			Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET},
			Txt: []string{req.Profile.Name},
		})
		return m, nil
	}
	if p := req.Profile.Policy; p != nil {
		if v := p.Check(name, q.Question[0].Qtype); v.Action == resolver.ActionBlock {
			m := resolver.NewReply(q, dns.RcodeNameError)
			resolver.AddEDE(q, m, v.EDE, v.Category)
			return m, nil
		}
	}
	if strings.HasPrefix(name, "slow") {
		select {
		case <-time.After(h.Delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	fwd := q.Copy()
	fwd.Id = dns.Id()
	resp, _, err := c.ExchangeContext(ctx, fwd, h.Upstream)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// Blocklist is a Policy blocking exact names with EDE 17 (Filtered).
type Blocklist map[string]string

// Check implements resolver.Policy; the map value is the category.
func (b Blocklist) Check(name string, _ uint16) resolver.Verdict {
	if cat, ok := b[name]; ok {
		return resolver.Verdict{Action: resolver.ActionBlock, Category: cat, EDE: resolver.EDEFiltered}
	}
	return resolver.Verdict{}
}

// Profiles is the test profile set: "open" (default, host dns.test), "child"
// (child.dns.test or local address 127.0.0.2, blocks "games.example.") and
// "ads" (ads.dns.test, blocks "tracker.example.").
func Profiles(t testing.TB) *resolver.Profiles {
	t.Helper()
	ps, err := resolver.NewProfiles("open", []*resolver.Profile{
		{Name: "open", Hosts: []string{"dns.test"}},
		{Name: "child", Hosts: []string{"child.dns.test"}, Addrs: []netip.Addr{ChildAddr}, Policy: Blocklist{"games.example.": "games"}},
		{Name: "ads", Hosts: []string{"ads.dns.test"}, Policy: Blocklist{"tracker.example.": "ads"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// ChildAddr is the local address that selects the "child" profile.
var ChildAddr = netip.MustParseAddr("127.0.0.2")

// Names are what the tests' leaf certificate covers (testpki.New): the
// profiles' hosts, client-ID names under child.dns.test and the loopback
// addresses the servers listen on.
var Names = []string{"dns.test", "child.dns.test", "*.child.dns.test", "ads.dns.test", "other.test", "127.0.0.1", "127.0.0.2", "::1"}

// Chain is the gateway's resolver chain (with a cache, so it replays:
// resolver.Replayer) forwarding to the Upstream at addr over UDP.
func Chain(t testing.TB, addr string) resolver.Handler {
	t.Helper()
	up, err := upstream.New("udp://"+addr, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	h, err := resolver.New(resolver.Config{Upstream: up, Cache: &resolver.CacheConfig{Size: 1 << 16}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// FailName wraps next so that queries for name fail with err (for example
// resolver.ErrDrop or resolver.ErrLimited); other queries reach next.
func FailName(next resolver.Handler, name string, err error) resolver.Handler {
	return resolver.HandlerFunc(func(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
		if req.Msg.Question[0].Name == name {
			return nil, err
		}
		return next.ServeDNS(ctx, req)
	})
}

// Counting is Chain's handler in front of a new Upstream, counting the
// queries that took the full chain rather than replay.
type Counting struct {
	resolver.Replayer
	Up   *Upstream
	Full atomic.Int64
}

// NewCounting starts an Upstream and returns a Counting chain forwarding to it.
func NewCounting(t testing.TB) *Counting {
	t.Helper()
	up := StartUpstream(t)
	return &Counting{Replayer: Chain(t, up.Addr).(resolver.Replayer), Up: up}
}

// ServeDNS counts the query and resolves it.
func (c *Counting) ServeDNS(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
	c.Full.Add(1)
	return c.Replayer.ServeDNS(ctx, req)
}
