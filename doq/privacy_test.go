package doq

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/frontendtest"
)

// TestNoClientAddressInLogs: a session with a failing handler and a protocol
// error logs both, and no line names the client.
func TestNoClientAddressInLogs(t *testing.T) {
	logs := &frontendtest.Logs{}
	f := start(t, func(c *Config) { logs.Wire(&c.Logger, &c.Handler) })
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(frontendtest.ClientIP)})
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

	if a := exchange(t, c, query(frontendtest.FailQuery, dns.TypeA)); a.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[a.Rcode])
	}
	bad := query("id.example.", dns.TypeA)
	bad.Id = 7 // DoQ requires 0: the server closes the connection
	frame, err := frontend.Pack(bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	exchangeRaw(c, frame, true)
	logs.WaitFor(t, "doq: handler", "doq: protocol error")

	logs.NoClientIP(t)
}
