package doh

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// x/net/http2 flushes its frame buffer whenever its write queue runs empty,
// which under load is after nearly every response: one TLS record and one
// write syscall per answer, each from a new goroutine. batchConn sits
// between x/net and the TLS connection and takes those flushes into a
// buffer that one long-lived goroutine per connection writes: whatever
// piles up while a write is in flight goes out as one record and one
// syscall. An idle connection is written at once, so nothing is delayed.

// maxPending bounds the bytes buffered per connection; Write blocks
// beyond it, so a client that does not read still holds up its writers.
const maxPending = 256 << 10

// closeDrain bounds how long Close waits to send what is buffered (a GOAWAY, say).
const closeDrain = time.Second

// batchConn is a TLS connection whose Writes are batched by a writer goroutine.
type batchConn struct {
	*tls.Conn
	mu      sync.Mutex
	cond    sync.Cond // writer: data or close; writers: room, drained or error
	buf     []byte    // not yet handed to the writer
	writing bool      // the writer holds a batch
	err     error     // the first write error; every later Write returns it
	closed  bool
}

var errConnClosed = errors.New("doh: write on closed connection")

func newBatchConn(c *tls.Conn) *batchConn {
	b := &batchConn{Conn: c}
	b.cond.L = &b.mu
	go b.writeLoop()
	return b
}

// Write buffers p for the writer goroutine. A write error surfaces on a later Write.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.err == nil && !b.closed && len(b.buf) >= maxPending {
		b.cond.Wait()
	}
	switch {
	case b.err != nil:
		return 0, b.err
	case b.closed:
		return 0, errConnClosed
	}
	b.buf = append(b.buf, p...)
	b.cond.Broadcast()
	return len(p), nil
}

// writeLoop writes batches until the connection is closed and drained, or a write fails.
func (b *batchConn) writeLoop() {
	var out []byte
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		for len(b.buf) == 0 && !b.closed {
			b.cond.Wait()
		}
		if len(b.buf) == 0 {
			return
		}
		out, b.buf = b.buf, out[:0]
		b.writing = true
		b.cond.Broadcast()
		b.mu.Unlock()
		_, err := b.Conn.Write(out)
		b.mu.Lock()
		b.writing = false
		b.err = err
		b.cond.Broadcast()
		if err != nil {
			return
		}
		if cap(out) > maxPending {
			out = nil // don't keep a burst's buffer for the connection's life
		}
	}
}

// Close sends what is buffered (for at most closeDrain), then closes the connection.
func (b *batchConn) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		_ = b.Conn.SetWriteDeadline(time.Now().Add(closeDrain))
		b.cond.Broadcast()
	}
	for b.err == nil && (len(b.buf) > 0 || b.writing) {
		b.cond.Wait()
	}
	b.mu.Unlock()
	return b.Conn.Close()
}

var _ net.Conn = (*batchConn)(nil)
