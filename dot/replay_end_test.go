package dot

import (
	"testing"
	"time"

	"github.com/dnsward/dnsward/dot/framing"
	"github.com/dnsward/dnsward/dot/framing/framingtest"
	"github.com/miekg/dns"
)

// TestReplayedAnswerSentWhenReadLoopEnds: a replayed answer waits in the
// batch writer for the read loop's next flush; when the loop ends with
// input still buffered (here a frame cut off by the client's FIN) the
// answer is still sent.
func TestReplayedAnswerSentWhenReadLoopEnds(t *testing.T) {
	h := framingtest.NewCounting(t)
	f := start(t, func(c *Config) { c.Handler = h })
	c := f.dial(t, "dns.test")
	c.send(query("lost.example.", dns.TypeA))
	c.recv() // filled and offered for replay
	q := query("lost.example.", dns.TypeA)
	q.Id = 4242
	b, _ := framing.Pack(q, nil)
	b = append(b, 0, 5, 1) // then a frame cut off by the client's FIN
	if _, err := c.tc.Write(b); err != nil {
		t.Fatal(err)
	}
	c.tc.CloseWrite()
	c.tc.SetReadDeadline(time.Now().Add(2 * time.Second))
	raw, err := framing.ReadFrame(c.br, nil)
	if err != nil {
		t.Fatalf("no answer to the query before the cut-off frame: %v (full chain ran %d times)", err, h.Full.Load())
	}
	m := new(dns.Msg)
	if m.Unpack(raw) != nil || m.Id != 4242 {
		t.Fatalf("unexpected answer %x", raw)
	}
}
