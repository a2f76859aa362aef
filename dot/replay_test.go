package dot

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/frontendtest"
)

// TestReplayedAnswers pipelines repeats of one question, spelt in several
// ways, after a first answer: the read loop answers them from the replayed
// bytes, each with its own ID and spelling, and only the first takes the
// chain.
func TestReplayedAnswers(t *testing.T) {
	h := frontendtest.NewCounting(t)
	f := start(t, func(c *Config) { c.Handler = h })
	c := f.dial(t, "dns.test")
	first := query("n1.example.", dns.TypeA)
	first.SetEdns0(1232, false)
	c.send(first)
	c.recv()
	const n = 100
	spelt := map[uint16]string{}
	var qs []*dns.Msg
	for i := range n {
		name := "n1.example."
		if i%2 == 1 {
			name = strings.ToUpper(name)
		}
		q := query(name, dns.TypeA)
		q.Id = uint16(1000 + i)
		q.SetEdns0(1232, false)
		spelt[q.Id] = name
		qs = append(qs, q)
	}
	c.send(qs...)
	for range n {
		a := c.recv()
		name, ok := spelt[a.Id]
		if !ok {
			t.Fatalf("answer with unknown or repeated ID %d", a.Id)
		}
		delete(spelt, a.Id)
		if a.Question[0].Name != name {
			t.Errorf("ID %d: question %q, want the client's spelling %q", a.Id, a.Question[0].Name, name)
		}
		if len(a.Answer) != 1 || a.Answer[0].(*dns.A).A.String() != frontendtest.AddrFor("n1.example.").String() {
			t.Fatalf("ID %d: answer %v", a.Id, a.Answer)
		}
		if a.IsEdns0() == nil {
			t.Fatalf("ID %d: no OPT record in the answer to an EDNS query", a.Id)
		}
	}
	// A second may pass between the first answer and the repeats, ending
	// what replay keeps; at most one more query then takes the chain.
	if got := h.Full.Load(); got > 2 {
		t.Errorf("%d queries took the full chain, want 1 (2 at a second's boundary)", got)
	}
	if got := h.Up.Queries.Load(); got != 1 {
		t.Errorf("upstream asked %d times, want 1", got)
	}
}

// TestReplayedAnswerSentWhenReadLoopEnds: a replayed answer waits in the
// batch writer for the read loop's next flush; when the loop ends with a
// whole frame still buffered (here a zero-length frame, a framing error)
// and so no flush before a read, the answer is still sent.
func TestReplayedAnswerSentWhenReadLoopEnds(t *testing.T) {
	h := frontendtest.NewCounting(t)
	f := start(t, func(c *Config) { c.Handler = h })
	c := f.dial(t, "dns.test")
	c.send(query("lost.example.", dns.TypeA))
	c.recv() // filled and offered for replay
	q := query("lost.example.", dns.TypeA)
	q.Id = 4242
	b, _ := frontend.Pack(q, nil)
	b = append(b, 0, 0) // then, in the same write, a zero-length frame that ends the read loop
	if _, err := c.tc.Write(b); err != nil {
		t.Fatal(err)
	}
	c.tc.CloseWrite()
	c.tc.SetReadDeadline(time.Now().Add(2 * time.Second))
	raw, err := frontend.ReadFrame(c.br, nil)
	if err != nil {
		t.Fatalf("no answer to the query before the bad frame: %v (full chain ran %d times)", err, h.Full.Load())
	}
	m := new(dns.Msg)
	if m.Unpack(raw) != nil || m.Id != 4242 {
		t.Fatalf("unexpected answer %x", raw)
	}
}
