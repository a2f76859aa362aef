package dot

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/frontendtest"
)

// TestRepliesShareRecords: a stub sends one query per TLS record, and one
// read of the socket often carries several such records. The read loop
// takes every query already read off the socket before it writes, so the
// replayed answers to n queries arriving together leave in a few records,
// where writing whenever the TLS layer's current record ran out gave each
// answer a record and a write of its own.
func TestRepliesShareRecords(t *testing.T) {
	h := frontendtest.NewCounting(t)
	f := start(t, func(c *Config) { c.Handler = h })
	raw, err := net.Dial("tcp", f.Addr)
	if err != nil {
		t.Fatal(err)
	}
	rc := &frontendtest.RecordConn{Conn: raw}
	tc := tls.Client(rc, f.PKI.Client("dns.test", ALPN))
	t.Cleanup(func() { tc.Close() })
	c := &client{t: t, tc: tc, br: bufio.NewReader(tc)}
	c.send(query("n1.example.", dns.TypeA)) // later repeats are replayed
	c.recv()

	const n = 32
	before := rc.Records()
	rc.Hold()
	for i := range n {
		q := query("n1.example.", dns.TypeA)
		q.Id = uint16(100 + i)
		b, err := frontend.Pack(q, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tc.Write(b); err != nil { // one record each, held
			t.Fatal(err)
		}
	}
	if err := rc.Release(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if a := c.recv(); a.Id != uint16(100+i) || len(a.Answer) != 1 {
			t.Fatalf("answer %d: ID %d, %d records", i, a.Id, len(a.Answer))
		}
	}
	if got := rc.Records() - before; got > n/4 {
		t.Errorf("%d answers came in %d TLS records, want at most %d", n, got, n/4)
	}
}
