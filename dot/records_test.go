package dot

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/frontendtest"
)

// recordConn is a client's TCP connection that can hold its writes back
// to send them in one, and counts the TLS records it reads.
type recordConn struct {
	net.Conn
	mu      sync.Mutex
	hold    bool
	held    []byte
	records int
	header  []byte // the part of the next record header read so far
	body    int    // bytes of the current record's body still to come
}

func (c *recordConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hold {
		c.held = append(c.held, b...)
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// release sends what was held in one write.
func (c *recordConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = false
	_, err := c.Conn.Write(c.held)
	return err
}

func (c *recordConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := b[:n]; len(p) > 0; {
		if c.body > 0 {
			k := min(c.body, len(p))
			c.body, p = c.body-k, p[k:]
			continue
		}
		k := min(5-len(c.header), len(p))
		c.header, p = append(c.header, p[:k]...), p[k:]
		if len(c.header) == 5 {
			c.records++
			c.body, c.header = int(c.header[3])<<8|int(c.header[4]), c.header[:0]
		}
	}
	return n, err
}

func (c *recordConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.records
}

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
	rc := &recordConn{Conn: raw}
	tc := tls.Client(rc, f.PKI.Client("dns.test", ALPN))
	t.Cleanup(func() { tc.Close() })
	c := &client{t: t, tc: tc, br: bufio.NewReader(tc)}
	c.send(query("n1.example.", dns.TypeA)) // later repeats are replayed
	c.recv()

	const n = 32
	before := rc.count()
	rc.mu.Lock()
	rc.hold = true
	rc.mu.Unlock()
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
	if err := rc.release(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if a := c.recv(); a.Id != uint16(100+i) || len(a.Answer) != 1 {
			t.Fatalf("answer %d: ID %d, %d records", i, a.Id, len(a.Answer))
		}
	}
	if got := rc.count() - before; got > n/4 {
		t.Errorf("%d answers came in %d TLS records, want at most %d", n, got, n/4)
	}
}
