package dot

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontendtest"
)

// TestNoClientAddressInLogs: a session with a reset handshake, a failing
// handler and a framing error logs each event, and no line names the client.
func TestNoClientAddressInLogs(t *testing.T) {
	logs := &frontendtest.Logs{}
	f := start(t, func(c *Config) { logs.Wire(&c.Logger, &c.Handler) })
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(frontendtest.ClientIP)}}

	// A connection reset during the handshake: the read error names both ends.
	nc, err := d.Dial("tcp", f.Addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.(*net.TCPConn).SetLinger(0)
	nc.Write([]byte{0x16, 0x03, 0x01}) // the start of a ClientHello
	nc.Close()
	logs.WaitFor(t, "dot: handshake")

	tc, err := tls.DialWithDialer(d, "tcp", f.Addr, f.PKI.Client("dns.test", ALPN))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := &client{t: t, tc: tc, br: bufio.NewReader(tc)}
	c.send(query(frontendtest.FailQuery, dns.TypeA))
	if a := c.recv(); a.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[a.Rcode])
	}
	tc.Write([]byte{0, 0}) // a zero-length frame: protocol error
	logs.WaitFor(t, "dot: handler", "dot: protocol error")

	logs.NoClientIP(t)
}
