package doq

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/dot/framing"
	"github.com/dnsward/dnsward/dot/framing/framingtest"
	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

// clientIP is the loopback address the privacy test's client sends from; the
// server listens on 127.0.0.1, so the two never share a string.
const clientIP = "127.0.0.2"

// TestNoClientAddressInLogs: a session with a failing handler and a protocol
// error logs both, and no line names the client.
func TestNoClientAddressInLogs(t *testing.T) {
	logs := &framingtest.Logs{}
	f := start(t, func(c *Config) {
		c.Logger = logs.Logger()
		c.Handler = framingtest.FailName(c.Handler, "fail.example.", errors.New("upstream unreachable"))
	})
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(clientIP)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	defer tr.Close()
	defer udp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := tr.Dial(ctx, f.srv.Addrs()[0], f.clientTLS("dns.test"), &quic.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseWithError(NoError, "")

	if a := exchange(t, c, query("fail.example.", dns.TypeA)); a.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[a.Rcode])
	}
	bad := query("id.example.", dns.TypeA)
	bad.Id = 7 // DoQ requires 0: the server closes the connection
	frame, err := framing.Pack(bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	exchangeRaw(c, frame, true)
	logs.WaitFor(t, "doq: handler", "doq: protocol error")

	if out := logs.String(); strings.Contains(out, clientIP) {
		t.Fatalf("client address in logs:\n%s", out)
	}
}
