package dot

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/dot/framing/framingtest"
	"github.com/miekg/dns"
)

// clientIP is the loopback address the privacy test's client connects from;
// the server listens on 127.0.0.1, so the two never share a string.
const clientIP = "127.0.0.2"

// TestNoClientAddressInLogs: a session with a reset handshake, a failing
// handler and a framing error logs each event, and no line names the client.
func TestNoClientAddressInLogs(t *testing.T) {
	logs := &framingtest.Logs{}
	f := start(t, func(c *Config) {
		c.Logger = logs.Logger()
		c.Handler = framingtest.FailName(c.Handler, "fail.example.", errors.New("upstream unreachable"))
	})
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientIP)}}

	// A connection reset during the handshake: the read error names both ends.
	nc, err := d.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.(*net.TCPConn).SetLinger(0)
	nc.Write([]byte{0x16, 0x03, 0x01}) // the start of a ClientHello
	nc.Close()
	logs.WaitFor(t, "dot: handshake")

	tc, err := tls.DialWithDialer(d, "tcp", f.addr, f.pki.Client("dns.test", ALPN))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := &client{t: t, tc: tc, br: bufio.NewReader(tc)}
	c.send(query("fail.example.", dns.TypeA))
	if a := c.recv(); a.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[a.Rcode])
	}
	tc.Write([]byte{0, 0}) // a zero-length frame: protocol error
	logs.WaitFor(t, "dot: handler", "dot: protocol error")

	if out := logs.String(); strings.Contains(out, clientIP) {
		t.Fatalf("client address in logs:\n%s", out)
	}
}
