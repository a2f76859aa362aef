package dot

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/resolver"
)

// TestWriteFailureEndsConnection: once an answer cannot be written within
// WriteTimeout (the client stopped reading), the connection is closed even
// while the client keeps pipelining queries, instead of resolving them for
// answers that are thrown away.
func TestWriteFailureEndsConnection(t *testing.T) {
	var resolved atomic.Int64
	f := start(t, func(c *Config) {
		c.WriteTimeout = 200 * time.Millisecond
		c.Handler = resolver.HandlerFunc(func(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
			resolved.Add(1)
			time.Sleep(50 * time.Millisecond) // keep answers in flight at every moment
			return bigReply(req.Msg), nil
		})
	})
	c := f.dial(t, "dns.test")
	frame, err := frontend.Pack(query("big.example.", dns.TypeTXT), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The client never reads. Bounded: at most 5000 queries in 10 s.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 5000 && time.Now().Before(deadline); i++ {
		c.tc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.tc.Write(frame); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatalf("server stopped reading but kept the connection: %v", err)
			}
			return // the server closed the connection
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("connection still open after its writes failed; %d queries resolved", resolved.Load())
}

// bigReply answers q with about 32 KB of TXT records.
func bigReply(q *dns.Msg) *dns.Msg {
	r := resolver.NewReply(q, dns.RcodeSuccess)
	txt := strings.Repeat("x", 255)
	for range 120 {
		r.Answer = append(r.Answer, &dns.TXT{
			Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{txt},
		})
	}
	return r
}
