package plain

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/metricstest"
	"github.com/dnsward/dnsward/resolver"
)

// TestUDPBufferSize: the UDP sockets get the buffers asked for, or 8 MiB by
// default, read back from the kernel (which reports twice the size set).
// CI runs as root, where SO_RCVBUFFORCE passes net.core.rmem_max.
func TestUDPBufferSize(t *testing.T) {
	for _, tc := range []struct {
		name   string
		asked  int
		wantKB int
	}{
		{"default", 0, 8 << 10},
		{"small", 32 << 10, 32},
		{"above rmem_max", 32 << 20, 32 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, dnstest.StartAuthority(t, nil, nil), func(c *Config) { c.UDPBuffer = tc.asked })
			for i, c := range s.udp {
				rcv, snd, err := socketBuffers(c)
				if err != nil {
					t.Fatal(err)
				}
				if rcv != 2*tc.wantKB<<10 || snd != 2*tc.wantKB<<10 {
					t.Errorf("socket %d: receive %d, send %d bytes as the kernel reports them, want %d", i, rcv, snd, 2*tc.wantKB<<10)
				}
			}
		})
	}
}

// TestUDPReceiveDropsCounted: with the only worker held and the reader
// waiting to hand it a query, a burst overflows the socket's small receive
// buffer; once the worker is free every query the kernel kept is answered,
// and dnsward_udp_receive_drops_total counts exactly the rest.
func TestUDPReceiveDropsCounted(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	h := resolver.HandlerFunc(func(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return resolver.NewReply(req.Msg, dns.RcodeSuccess), nil
	})
	reg := prometheus.NewRegistry()
	s := startServer(t, dnstest.StartAuthority(t, nil, nil), func(c *Config) {
		c.Handler, c.Registry = h, reg
		c.UDPSockets, c.UDPMaxInflight, c.UDPBuffer = 1, 1, 16<<10
	})
	if got := metricstest.Must(t, reg, "dnsward_udp_receive_drops_total", "socket", "0"); got != 0 {
		t.Fatalf("%v drops before any query", got)
	}
	client, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(s.UDPAddrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	forceReceiveBuffer(t, client, 16<<20) // the answers must all fit

	const burst = 2000
	send := func(id int) {
		q := new(dns.Msg).SetQuestion("drop.example.", dns.TypeA)
		q.Id = uint16(id)
		b, _ := q.Pack()
		if _, err := client.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	send(0)
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first query never reached the handler")
	}
	for i := 1; i <= burst; i++ {
		send(i)
	}
	time.Sleep(100 * time.Millisecond) // the reader has taken what it could
	close(release)

	answered := 0
	buf := make([]byte, 512)
	for {
		client.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := client.Read(buf); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatal(err)
			}
			break
		}
		answered++
	}
	lost := burst + 1 - answered
	drops := metricstest.Must(t, reg, "dnsward_udp_receive_drops_total", "socket", "0")
	t.Logf("%d queries sent, %d answered, %v dropped by the kernel", burst+1, answered, drops)
	if lost == 0 {
		t.Fatal("nothing was lost: the burst did not overflow the receive buffer")
	}
	if drops != float64(lost) {
		t.Fatalf("drop counter %v, but %d queries went unanswered", drops, lost)
	}
}

// forceReceiveBuffer gives c a receive buffer of size bytes past
// net.core.rmem_max (root).
func forceReceiveBuffer(t *testing.T, c *net.UDPConn, size int) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, rcvBufForce, size)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
}
