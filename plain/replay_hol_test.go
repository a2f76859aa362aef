package plain

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/frontendtest"
)

// TestReplayNotHeldBehindBusyWorkers: when every worker is busy the reader
// waits to hand over a query that needs one (back-pressure), but answers it
// replayed from the same batch go out first, not after an unrelated
// upstream answers.
func TestReplayNotHeldBehindBusyWorkers(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{
		"fast.example. 300 IN A 127.0.0.1", "slow1.example. 300 IN A 127.0.0.2",
		"slow2.example. 300 IN A 127.0.0.3", "other.example. 300 IN A 127.0.0.4",
	}, func(name string) time.Duration {
		switch {
		case strings.HasPrefix(name, "slow1"):
			return 300 * time.Millisecond
		case strings.HasPrefix(name, "slow2"):
			return 1500 * time.Millisecond
		}
		return 0
	})
	s := startServer(t, auth, func(c *Config) { c.UDPSockets, c.UDPMaxInflight = 1, 1 })
	addr := s.UDPAddrs()[0].String()
	send := func(name string) *net.UDPConn {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		b, _ := q.Pack()
		c.Write(b)
		return c.(*net.UDPConn)
	}
	fill := send("fast.example.")
	fill.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := fill.Read(make([]byte, 512)); err != nil {
		t.Fatal(err)
	}
	send("slow1.example.") // takes the only worker for 300 ms
	time.Sleep(20 * time.Millisecond)
	slow2 := send("slow2.example.") // the reader waits to hand this one over, then it holds the worker 1.5 s
	time.Sleep(20 * time.Millisecond)
	fast := send("fast.example.") // replayable; read in one batch with the next
	send("other.example.")        // needs the worker slow2 holds
	fast.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := fast.Read(make([]byte, 512)); err != nil {
		t.Fatal(err)
	}
	// The replayed answer must not have waited for slow2's worker to free up.
	slow2.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := slow2.Read(make([]byte, 512)); err == nil {
		t.Fatal("the replayed answer came only after slow2's upstream answered: held behind a busy worker")
	}
}

// TestTCPReplayed: over TCP, repeats of a question in other spellings and
// IDs are answered from the replayed bytes, each with its own ID, spelling
// and length prefix, and only the first takes the full chain.
func TestTCPReplayed(t *testing.T) {
	h := frontendtest.NewCounting(t)
	s := startServer(t, dnstest.StartAuthority(t, manyRecords(0), nil), func(c *Config) { c.Handler = h })
	conn, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).Dial(s.TCPAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i, name := range []string{"n1.example.", "N1.Example.", "n1.EXAMPLE."} {
		q := new(dns.Msg).SetQuestion(name, dns.TypeA)
		q.Id = uint16(100 + i)
		if err := conn.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
		resp, err := conn.ReadMsg()
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if resp.Id != q.Id || resp.Question[0].Name != name || len(resp.Answer) != 1 ||
			resp.Answer[0].(*dns.A).A.String() != frontendtest.AddrFor("n1.example.").String() {
			t.Fatalf("query %d: %v", i, resp)
		}
	}
	// A second may pass between the first answer and the repeats, ending
	// what replay keeps.
	if got := h.Full.Load(); got > 2 {
		t.Fatalf("%d of 3 queries took the full chain, want 1 (2 at a second's boundary)", got)
	}
}
