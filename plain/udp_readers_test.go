package plain

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestUDPReadersShareSocket: with two readers on one socket, one waiting to
// hand a query to the only (busy) worker leaves the other reading, which
// answers a replayable query at once; with one reader it waits for the
// worker.
func TestUDPReadersShareSocket(t *testing.T) {
	for _, tc := range []struct {
		readers int
		prompt  bool
	}{{1, false}, {2, true}} {
		auth := dnstest.StartAuthority(t, []string{"fast.example. 300 IN A 127.0.0.1"}, func(name string) time.Duration {
			if strings.HasPrefix(name, "slow") {
				return time.Second
			}
			return 0
		})
		s := startServer(t, auth, func(c *Config) { c.UDPSockets, c.UDPMaxInflight, c.UDPReaders = 1, 1, tc.readers })
		addr := s.UDPAddrs()[0].String()
		send := func(name string) *net.UDPConn {
			c, err := net.Dial("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			b, _ := new(dns.Msg).SetQuestion(name, dns.TypeA).Pack()
			c.Write(b)
			return c.(*net.UDPConn)
		}
		first := send("fast.example.") // answered, then replayable for a second
		first.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := first.Read(make([]byte, 512)); err != nil {
			t.Fatal(err)
		}
		send("slow1.example.") // holds the only worker for a second
		time.Sleep(20 * time.Millisecond)
		send("slow2.example.") // a reader waits to hand this one over
		time.Sleep(20 * time.Millisecond)
		fast := send("fast.example.")
		fast.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err := fast.Read(make([]byte, 512))
		if got := err == nil; got != tc.prompt {
			t.Errorf("%d readers: replayable query answered within 300 ms: %v, want %v", tc.readers, got, tc.prompt)
		}
	}
}
