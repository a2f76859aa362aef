package plain

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestShutdownAnswersInFlight starts a slow query on UDP and on TCP, shuts
// the server down while they are being resolved, and expects both answers.
func TestShutdownAnswersInFlight(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"slow.example. 300 IN A 127.0.0.1"}, func(string) time.Duration { return 300 * time.Millisecond })
	s, err := New(testConfig(t, auth))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 2)
	for _, network := range []string{"udp", "tcp"} {
		addr := s.UDPAddrs()[0].String()
		go func() {
			q := new(dns.Msg)
			q.SetQuestion("slow.example.", dns.TypeA)
			resp, _, err := (&dns.Client{Net: network, Timeout: 3 * time.Second}).Exchange(q, addr)
			if err == nil && len(resp.Answer) != 1 {
				err = net.UnknownNetworkError("no answer record over " + network)
			}
			results <- err
		}()
	}
	time.Sleep(100 * time.Millisecond) // both queries are now waiting on the upstream
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := <-results; err != nil {
			t.Fatalf("in-flight query lost in shutdown: %v", err)
		}
	}
}
