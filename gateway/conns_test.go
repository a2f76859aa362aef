package gateway

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestDefaultConnLimits: without any rate_limit block, one address that
// opens idle TCP connections is held to DefaultMaxConnsPerPrefix, and
// another client is still answered (one address used to be able to fill
// plain TCP's whole global cap and lock everyone else out).
func TestDefaultConnLimits(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	dir := t.TempDir()
	runGateway(t, loadYAML(t, dir, fmt.Sprintf("listen: {dns: [%q]}\nupstreams: [udp://127.0.0.1:9]\n", addr)), nil)
	dialFrom := func(local string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 2 * time.Second}
		return d.Dial("tcp", addr)
	}
	var open []net.Conn
	t.Cleanup(func() {
		for _, c := range open {
			c.Close()
		}
	})
	for i := range config.DefaultMaxConnsPerPrefix {
		c, err := dialFrom("127.0.0.1")
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, c)
	}
	// The kernel completes the handshake before Accept; a refused
	// connection is closed at once, so a read sees EOF, where an admitted
	// idle one times out.
	refused := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		return err != nil && !isTimeout(err)
	}
	extra, err := dialFrom("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if !refused(extra) {
		t.Fatalf("connection %d from one address was kept open", config.DefaultMaxConnsPerPrefix+1)
	}
	other, err := dialFrom("127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	dc := &dns.Conn{Conn: other}
	dc.SetDeadline(time.Now().Add(2 * time.Second))
	if err := dc.WriteMsg(new(dns.Msg).SetQuestion("localhost.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if resp, err := dc.ReadMsg(); err != nil || resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("another client while one address holds its limit: %v %v", resp, err)
	}
}

// isTimeout reports whether err is a deadline passing.
func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
