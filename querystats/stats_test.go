package querystats

import (
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/transport"
	"github.com/dnsward/dnsward/resolver"
)

func rec(name, profile, category string, t transport.Kind) resolver.LogRecord {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	return resolver.LogRecord{Query: q, Profile: profile, Category: category, Transport: t,
		Client: netip.AddrFrom4([4]byte{10, 0, byte(len(name)), 1})} // a client per name length
}

// wait lets the collector drain its queue.
func wait(t *testing.T, s *Stats, total uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var n uint64
		for _, q := range s.Report(1).Queries {
			n += q.Queries
		}
		if n+s.Report(1).Dropped >= total {
			return
		}
	}
	t.Fatal("the collector did not count every record")
}

func TestTopNamesAndWindows(t *testing.T) {
	var now atomic.Int64
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now.Store(start.UnixNano())
	s := New(func() time.Time { return time.Unix(0, now.Load()) })
	defer s.Close()
	// 3000 distinct noise names (more than a sketch holds) and three heavy ones.
	var sent uint64
	for i := range 3000 {
		s.Log(rec(fmt.Sprintf("noise%d.example.", i), "kids", "", transport.UDP))
		sent++
		if i%10 == 0 {
			s.Log(rec("Popular.example.", "kids", "", transport.DoH2))
			s.Log(rec("popular.EXAMPLE.", "kids", "", transport.DoH2))
			s.Log(rec("ads.example.", "kids", "ads", transport.DoH2))
			sent += 3
		}
		if i%30 == 0 {
			s.Log(rec("second.example.", "kids", "", transport.DoT))
			sent++
		}
		if i%200 == 0 {
			wait(t, s, sent) // keep the queue from overflowing
		}
	}
	wait(t, s, sent)
	rep := s.Report(2)
	if rep.Dropped != 0 || rep.DistinctClients != 5 { // one client per name length: 12, 15, 16, 17, 18
		t.Fatalf("dropped %d, distinct %d", rep.Dropped, rep.DistinctClients)
	}
	want := []QueryCount{{"doh2", "kids", 900}, {"dot", "kids", 100}, {"udp", "kids", 3000}}
	if fmt.Sprint(rep.Queries) != fmt.Sprint(want) {
		t.Fatalf("queries %v, want %v", rep.Queries, want)
	}
	q := rep.TopQueried[0].Names
	if len(q) != 2 || q[0].Name != "popular.example." || q[0].Count < 600 || q[1].Name != "ads.example." {
		t.Fatalf("top queried %+v", rep.TopQueried)
	}
	if b := rep.TopBlocked; len(b) != 1 || b[0].Category != "ads" || b[0].Names[0] != (Count{"ads.example.", 300}) {
		t.Fatalf("top blocked %+v", b)
	}
	// 13 hours on the older window still counts; 25 hours on, none of it.
	now.Store(start.Add(13 * time.Hour).UnixNano())
	if got := s.Report(1).Queries; len(got) != 3 {
		t.Fatalf("after 13h: %v, want the counts kept", got)
	}
	now.Store(start.Add(25 * time.Hour).UnixNano())
	if got := s.Report(1); len(got.Queries) != 0 || len(got.TopQueried) != 0 {
		t.Fatalf("after 25h: %+v, want nothing", got)
	}
}

// TestReplayedRecords: a replayed answer's record carries the packed query
// only; its name is counted, the longest name too, and logging it
// allocates nothing on the query path.
func TestReplayedRecords(t *testing.T) {
	s := New(nil)
	defer s.Close()
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 61) + "." // 255 bytes packed
	var wires [][]byte
	for _, name := range []string{"replayed.example.", long} {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		q.SetEdns0(1232, false)
		w, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		wires = append(wires, w)
	}
	for _, w := range wires {
		s.Log(resolver.LogRecord{QueryWire: w, Profile: "p", Transport: transport.UDP})
	}
	wait(t, s, 2)
	got := map[string]bool{}
	for _, c := range s.Report(5).TopQueried[0].Names {
		got[c.Name] = true
	}
	if !got["replayed.example."] || !got[long] {
		t.Fatalf("top queried %+v, want both names", s.Report(5).TopQueried)
	}
	r := resolver.LogRecord{QueryWire: wires[0], Profile: "p", Transport: transport.UDP}
	if n := testing.AllocsPerRun(100, func() { s.Log(r) }); n != 0 {
		t.Errorf("logging a replayed answer allocates %.0f times", n)
	}
}
