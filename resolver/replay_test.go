package resolver

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// replayChain is a chain with a cache in front of a scripted upstream.
func replayChain(t testing.TB, up *scripted, mod func(*CacheConfig)) *Chain {
	t.Helper()
	cc := &CacheConfig{Size: 100, ServeStale: time.Hour}
	if mod != nil {
		mod(cc)
	}
	h, err := New(Config{Upstream: upstreamFunc(up.ServeDNS), Cache: cc, Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// packedQuery builds a query as a client would send it.
func packedQuery(t testing.TB, id uint16, name string, edns func(*dns.Msg)) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Id = id
	if edns != nil {
		edns(m)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resolvePacked answers q through ServeDNS as a transport does and returns
// the packed answer; with offer, the answer is offered for replay.
func resolvePacked(t testing.TB, h Replayer, req Request, q []byte, offer bool) []byte {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(q); err != nil {
		t.Fatal(err)
	}
	req.Msg = m
	resp, err := h.ServeDNS(context.Background(), &req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Compress = true
	ans, err := resp.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if offer {
		h.Sent(&req, q, ans)
	}
	return ans
}

func withEDNS(size uint16, do bool) func(*dns.Msg) {
	return func(m *dns.Msg) { m.SetEdns0(size, do) }
}

func TestReplay(t *testing.T) {
	prof, other := &Profile{Name: "p"}, &Profile{Name: "other"}
	base := Request{Transport: transport.DoT, Profile: prof}
	bigA := func(q *dns.Msg) (*dns.Msg, error) { // about 800 bytes uncompressed
		m := NewReply(q, dns.RcodeSuccess)
		for i := range 40 {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.IPv4(127, 0, 0, byte(i))})
		}
		return m, nil
	}
	servfail := func(q *dns.Msg) (*dns.Msg, error) { return NewReply(q, dns.RcodeServerFailure), nil }
	for _, tc := range []struct {
		name     string
		upstream func(q *dns.Msg) (*dns.Msg, error)
		first    []byte
		firstReq Request
		again    []byte
		againReq Request
		between  func(*Chain)
		before   bool // replayed before between runs
		want     bool
	}{
		{name: "same query, other ID and spelling", upstream: aAnswer(300),
			first: packedQuery(t, 1, "www.Example.org.", nil), again: packedQuery(t, 2, "WWW.example.ORG.", nil), want: true},
		{name: "EDNS with DO", upstream: aAnswer(300),
			first: packedQuery(t, 1, "a.example.", withEDNS(1232, true)), again: packedQuery(t, 9, "a.example.", withEDNS(4096, true)), want: true},
		{name: "DO differs", upstream: aAnswer(300),
			first: packedQuery(t, 1, "a.example.", withEDNS(1232, true)), again: packedQuery(t, 2, "a.example.", withEDNS(1232, false))},
		{name: "EDNS differs", upstream: aAnswer(300),
			first: packedQuery(t, 1, "a.example.", withEDNS(1232, false)), again: packedQuery(t, 2, "a.example.", nil)},
		{name: "padding differs", upstream: aAnswer(300),
			first: packedQuery(t, 1, "a.example.", withEDNS(1232, false)),
			again: packedQuery(t, 2, "a.example.", func(m *dns.Msg) {
				m.SetEdns0(1232, false)
				m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_PADDING{Padding: make([]byte, 20)}}
			})},
		{name: "RD differs", upstream: aAnswer(300),
			first: packedQuery(t, 1, "a.example.", nil), again: packedQuery(t, 2, "a.example.", func(m *dns.Msg) { m.RecursionDesired = false })},
		{name: "keepalive differs", upstream: aAnswer(300),
			first: packedQuery(t, 1, "a.example.", withEDNS(1232, false)),
			again: packedQuery(t, 2, "a.example.", func(m *dns.Msg) {
				m.SetEdns0(1232, false)
				m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE}}
			})},
		{name: "short TTL: kept at first", upstream: aAnswer(5),
			first: packedQuery(t, 1, "a.example.", nil), again: packedQuery(t, 2, "a.example.", nil), want: true},
		{name: "other profile", upstream: aAnswer(300), againReq: Request{Transport: transport.DoT, Profile: other},
			first: packedQuery(t, 1, "a.example.", nil), again: packedQuery(t, 2, "a.example.", nil)},
		{name: "other transport", upstream: aAnswer(300), againReq: Request{Transport: transport.DoQ, Profile: prof},
			first: packedQuery(t, 1, "a.example.", nil), again: packedQuery(t, 2, "a.example.", nil)},
		{name: "SERVFAIL is never kept", upstream: servfail,
			first: packedQuery(t, 1, "a.example.", nil), again: packedQuery(t, 2, "a.example.", nil)},
		{name: "zero TTL is never kept", upstream: aAnswer(0),
			first: packedQuery(t, 1, "a.example.", nil), again: packedQuery(t, 2, "a.example.", nil)},
		{name: "a policy change drops what was kept", upstream: aAnswer(300), between: (*Chain).PolicyChanged,
			first: packedQuery(t, 1, "a.example.", nil), again: packedQuery(t, 2, "a.example.", nil)},
		{name: "short TTL: kept a tenth of it", upstream: aAnswer(1), between: func(*Chain) { time.Sleep(150 * time.Millisecond) }, before: true,
			first: packedQuery(t, 1, "a.example.", nil), again: packedQuery(t, 2, "a.example.", nil)},
		{name: "UDP within the client's size", upstream: bigA,
			firstReq: Request{Transport: transport.UDP, Profile: prof}, againReq: Request{Transport: transport.UDP, Profile: prof},
			first: packedQuery(t, 1, "a.example.", withEDNS(4096, false)), again: packedQuery(t, 2, "a.example.", withEDNS(1232, false)), want: true},
		{name: "UDP above the client's size", upstream: bigA,
			firstReq: Request{Transport: transport.UDP, Profile: prof}, againReq: Request{Transport: transport.UDP, Profile: prof},
			first: packedQuery(t, 1, "a.example.", withEDNS(4096, false)), again: packedQuery(t, 2, "a.example.", withEDNS(600, false))},
		{name: "compressed question name", upstream: aAnswer(300),
			first: packedQuery(t, 1, "a.example.", nil), again: compressedQuery(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := &scripted{fn: tc.upstream}
			h := replayChain(t, up, nil)
			firstReq, againReq := base, base
			if tc.firstReq.Profile != nil {
				firstReq = tc.firstReq
			}
			if tc.againReq.Profile != nil {
				againReq = tc.againReq
			}
			resolvePacked(t, h, firstReq, tc.first, true)
			if tc.before {
				if req := againReq; !replayed(h, &req, tc.again) {
					t.Fatal("not replayed before the wait")
				}
			}
			if tc.between != nil {
				tc.between(h)
			}
			req := againReq
			got, _, ok := h.Replay(&req, tc.again, nil)
			if ok != tc.want {
				t.Fatalf("replayed = %v, want %v", ok, tc.want)
			}
			if !ok {
				return
			}
			// The replayed answer is what the chain itself answers now, bar
			// the spelling of owner names (DNS names compare without case):
			// compression makes the replayed owners point at the client's.
			want := resolvePacked(t, h, againReq, tc.again, false)
			if !bytes.Equal(got, want) && canonical(t, got) != canonical(t, want) {
				t.Errorf("replayed answer differs from the chain's:\n got %s\nwant %s", canonical(t, got), canonical(t, want))
			}
			var gm, qm dns.Msg
			if gm.Unpack(got) != nil || qm.Unpack(tc.again) != nil || gm.Question[0].Name != qm.Question[0].Name || gm.Id != qm.Id {
				t.Errorf("question or ID not the client's: %x", got)
			}
		})
	}
}

// canonical is a packed message as text with names lower-cased.
func canonical(t *testing.T, b []byte) string {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return strings.ToLower(m.String())
}

// compressedQuery is a query whose question name is a compression pointer,
// which replay leaves to the chain (and its unpacker) to judge.
func compressedQuery(t *testing.T) []byte {
	q := packedQuery(t, 7, "a.example.", nil)
	return append(append([]byte{}, q[:12]...), 0xC0, 12, 0, 1, 0, 1)
}

func TestReplayKeepsNoStaleAnswer(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	fail := false
	up := &scripted{fn: func(q *dns.Msg) (*dns.Msg, error) {
		if fail {
			return NewReply(q, dns.RcodeServerFailure), nil
		}
		return aAnswer(60)(q)
	}}
	h := replayChain(t, up, func(c *CacheConfig) { c.Now = clock.Now; c.StaleAfter = time.Millisecond })
	req := Request{Transport: transport.DoT, Profile: &Profile{Name: "p"}}
	resolvePacked(t, h, req, packedQuery(t, 1, "a.example.", nil), false) // filled, not offered
	clock.Advance(2 * time.Minute)
	fail = true
	q := packedQuery(t, 2, "a.example.", nil)
	ans := resolvePacked(t, h, req, q, true) // served stale
	if m := new(dns.Msg); m.Unpack(ans) != nil || len(m.Answer) != 1 || m.Answer[0].Header().Ttl != StaleTTL {
		t.Fatalf("setup: the second answer is not a stale one: %x", ans)
	}
	if _, _, ok := h.Replay(&req, packedQuery(t, 3, "a.example.", nil), nil); ok {
		t.Fatal("a stale answer was replayed")
	}
}

func TestReplayCountsAnswers(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	up := &scripted{fn: aAnswer(300)}
	h, err := New(Config{Upstream: upstreamFunc(up.ServeDNS), Cache: &CacheConfig{Size: 10}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	r := h
	req := Request{Transport: transport.DoH2, Profile: &Profile{Name: "p"}}
	resolvePacked(t, r, req, packedQuery(t, 1, "a.example.", nil), true)
	for i := range 5 {
		if _, maxAge, ok := r.Replay(&req, packedQuery(t, uint16(i), "a.example.", nil), nil); !ok || maxAge != 300 {
			t.Fatalf("replay %d: ok %v, max-age %d", i, ok, maxAge)
		}
	}
	if got := testutil.ToFloat64(m.queries.WithLabelValues("doh2", "p", "NOERROR")); got != 6 {
		t.Errorf("dnsward_queries_total = %v, want 6", got)
	}
	if got := testutil.ToFloat64(m.cacheHits); got != 5 {
		t.Errorf("dnsward_cache_hits_total = %v, want 5 (the replays)", got)
	}
	if up.calls.Load() != 1 {
		t.Errorf("upstream asked %d times, want 1", up.calls.Load())
	}
}

func FuzzReplayWire(f *testing.F) {
	f.Add(packedQuery(f, 1, "a.example.", withEDNS(1232, true)), []byte{})
	q := packedQuery(f, 1, "a.example.", nil)
	m := new(dns.Msg)
	_ = m.Unpack(q)
	a, _ := aAnswer(30)(m)
	ans, _ := a.Pack()
	f.Add(q, ans)
	f.Fuzz(func(t *testing.T, q, ans []byte) {
		var w wireQuery
		if !parseQuery(q, 1, transport.DoT, &w) {
			return
		}
		if w.nameEnd > len(q) || w.keyLen > maxKey {
			t.Fatalf("parsed beyond the input: %+v", w)
		}
		if _, ok := parseAnswer(ans, &w); ok {
			e := replayEntry{ans: ans}
			if got := e.answer(q, &w, nil); len(got) != len(ans) {
				t.Fatalf("answer length %d, want %d", len(got), len(ans))
			}
		}
	})
}

// replayed reports whether h replays q for req.
func replayed(h Replayer, req *Request, q []byte) bool {
	_, _, ok := h.Replay(req, q, nil)
	return ok
}

// TestReplayNeverKeepsTruncated: an answer sent with TC=1 (a UDP answer cut
// to the client's size) is not kept; the same answer whole is.
func TestReplayNeverKeepsTruncated(t *testing.T) {
	for _, tc := range []struct {
		name      string
		truncated bool
	}{{"truncated", true}, {"whole", false}} {
		t.Run(tc.name, func(t *testing.T) {
			h := replayChain(t, &scripted{fn: aAnswer(300)}, nil)
			q := packedQuery(t, 1, "a.example.", nil)
			m := new(dns.Msg)
			if err := m.Unpack(q); err != nil {
				t.Fatal(err)
			}
			req := Request{Transport: transport.UDP, Profile: &Profile{Name: "p"}, Msg: m}
			resp, err := h.ServeDNS(context.Background(), &req)
			if err != nil {
				t.Fatal(err)
			}
			ans, err := resp.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if tc.truncated {
				ans[2] |= 0x02 // TC
			}
			h.Sent(&req, q, ans)
			again := Request{Transport: transport.UDP, Profile: req.Profile}
			if got := replayed(h, &again, packedQuery(t, 2, "a.example.", nil)); got == tc.truncated {
				t.Fatalf("replayed = %v after an answer with TC=%v", got, tc.truncated)
			}
		})
	}
}
