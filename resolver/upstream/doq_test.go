package upstream

import (
	"context"
	"testing"

	"github.com/miekg/dns"
)

// TestDoQStripsKeepalive: RFC 9250 §5.5.2 forbids edns-tcp-keepalive on DoQ;
// the caller's message keeps it.
func TestDoQStripsKeepalive(t *testing.T) {
	s := startDoQ(t, answerA)
	u := newUpstream(t, "quic://"+s.addr, testOptions())
	q := query("ka.test.", 12)
	q.SetEdns0(1232, false)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE})
	r, err := u.Exchange(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, q, r)
	if n := s.keepalive.Load(); n != 0 {
		t.Errorf("server received %d queries with edns-tcp-keepalive", n)
	}
	if len(q.IsEdns0().Option) != 1 {
		t.Error("the caller's query was modified")
	}
}
