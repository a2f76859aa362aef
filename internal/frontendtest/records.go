package frontendtest

import (
	"net"
	"sync"
)

// RecordConn is a client's TCP connection, under its TLS layer, that can
// hold writes back to send them in one (several TLS records in one segment,
// as a busy client's socket delivers them) and counts the TLS records it
// reads, so a test sees how a server packs its answers into records.
type RecordConn struct {
	net.Conn
	mu      sync.Mutex
	hold    bool
	held    []byte
	records int
	header  []byte // the part of the next record header read so far
	body    int    // bytes of the current record's body still to come
}

// Write sends b, or keeps it for Release while held.
func (c *RecordConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hold {
		c.held = append(c.held, b...)
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// Hold keeps writes back until Release.
func (c *RecordConn) Hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = true
}

// Release sends what was held in one write and stops holding.
func (c *RecordConn) Release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = false
	_, err := c.Conn.Write(c.held)
	c.held = nil
	return err
}

// Read reads from the connection, counting the TLS record headers it passes.
func (c *RecordConn) Read(b []byte) (int, error) {
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

// Records is how many TLS records have been read.
func (c *RecordConn) Records() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.records
}
