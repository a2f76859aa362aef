package upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// maxInFlight bounds the queries pipelined on one stream connection.
const maxInFlight = 4096

// errConnLost marks an exchange that failed because its connection died
// before the answer came; on a reused connection it is retried once.
var errConnLost = errors.New("connection lost")

// streamClient speaks length-framed DNS (RFC 1035 §4.2.2) over TCP or TLS. It
// keeps one connection, pipelines concurrent queries on it matched by ID
// (RFC 7766 §6.2.1), closes it when idle and dials again after a failure.
type streamClient struct {
	name string
	dial func(ctx context.Context) (net.Conn, error)
	idle time.Duration
	log  *slog.Logger

	sem    chan struct{} // held while choosing or dialing the connection
	mu     sync.Mutex
	cur    *streamConn
	closed bool
}

func newStreamClient(ep endpoint, opts Options, dial func(ctx context.Context) (net.Conn, error)) *streamClient {
	return &streamClient{name: ep.String(), dial: dial, idle: opts.IdleTimeout, log: opts.Logger, sem: make(chan struct{}, 1)}
}

// newTCP returns a plain TCP client.
func newTCP(ep endpoint, opts Options) *streamClient {
	var d net.Dialer
	return newStreamClient(ep, opts, func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", loopbackFor(ep.addr))
	})
}

// newDoT returns a DNS-over-TLS client (RFC 7858): TLS 1.2+, ALPN "dot",
// verifying the endpoint's server name.
func newDoT(ep endpoint, opts Options) *streamClient {
	d := &tls.Dialer{Config: opts.tlsConfig(ep.serverName, "dot")}
	return newStreamClient(ep, opts, func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", loopbackFor(ep.addr))
	})
}

func (c *streamClient) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	for attempt := 0; ; attempt++ {
		sc, reused, err := c.conn(ctx)
		if err != nil {
			return nil, err
		}
		r, err := sc.roundTrip(ctx, q)
		if err != nil && reused && attempt == 0 && ctx.Err() == nil && errors.Is(err, errConnLost) {
			c.log.Debug("reused connection lost, redialing", "upstream", c.name, "err", err)
			continue
		}
		return r, err
	}
}

// conn returns the live connection, dialing one if there is none; reused
// reports whether it carried earlier queries.
func (c *streamClient) conn(ctx context.Context) (sc *streamConn, reused bool, err error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, context.Cause(ctx)
	}
	defer func() { <-c.sem }()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, net.ErrClosed
	}
	if c.cur != nil && c.cur.usable() {
		sc = c.cur
		c.mu.Unlock()
		return sc, true, nil
	}
	c.mu.Unlock()

	nc, err := c.dial(ctx)
	if err != nil {
		return nil, false, err
	}
	sc = &streamConn{c: nc, idle: c.idle, log: c.log, name: c.name, pending: map[uint16]chan streamResult{}}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		nc.Close()
		return nil, false, net.ErrClosed
	}
	c.cur = sc
	go sc.readLoop()
	return sc, false, nil
}

func (c *streamClient) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.cur != nil {
		c.cur.fail(net.ErrClosed)
		c.cur = nil
	}
	return nil
}

// streamResult is what the read loop hands a waiting query.
type streamResult struct {
	raw []byte
	err error
}

// streamConn is one pipelined connection: writers take wmu per frame; a single
// read loop routes answers to waiting queries by ID.
type streamConn struct {
	c    net.Conn
	idle time.Duration
	log  *slog.Logger
	name string
	wmu  sync.Mutex

	mu      sync.Mutex
	pending map[uint16]chan streamResult
	retired bool  // takes no new queries; closes when the last one is done
	err     error // set once the connection is dead
}

func (sc *streamConn) usable() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.err == nil && !sc.retired
}

func (sc *streamConn) roundTrip(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	sc.mu.Lock()
	if sc.err != nil {
		err := sc.err
		sc.mu.Unlock()
		return nil, fmt.Errorf("%w: %v", errConnLost, err)
	}
	if len(sc.pending) >= maxInFlight {
		sc.mu.Unlock()
		return nil, fmt.Errorf("%d queries already in flight", maxInFlight)
	}
	id := randomID()
	for sc.pending[id] != nil {
		id = randomID()
	}
	ch := make(chan streamResult, 1)
	sc.pending[id] = ch
	sc.mu.Unlock()

	if err := sc.write(ctx, q, id); err != nil {
		sc.abandon(id, false)
		return nil, err
	}
	select {
	case res := <-ch:
		if res.err != nil {
			return nil, fmt.Errorf("%w: %v", errConnLost, res.err)
		}
		return parseReply(q, id, res.raw)
	case <-ctx.Done():
		// A query that timed out suggests a dead or overloaded server:
		// new queries go to a fresh connection.
		sc.abandon(id, errors.Is(ctx.Err(), context.DeadlineExceeded))
		return nil, context.Cause(ctx)
	}
}

func (sc *streamConn) write(ctx context.Context, q *dns.Msg, id uint16) error {
	bp := getBuf()
	defer putBuf(bp)
	frame, err := packFrame(q, id, *bp)
	if err != nil {
		return fmt.Errorf("%w: %v", errProtocol, err)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(sc.idle)
	}
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	_ = sc.c.SetWriteDeadline(dl)
	if _, err := sc.c.Write(frame); err != nil {
		// A partial frame desynchronises the stream: the connection is done.
		sc.fail(err)
		return fmt.Errorf("%w: %v", errConnLost, err)
	}
	return nil
}

// abandon forgets a query that will not wait for its answer; retire stops
// new queries from using the connection.
func (sc *streamConn) abandon(id uint16, retire bool) {
	sc.mu.Lock()
	delete(sc.pending, id)
	sc.retired = sc.retired || retire
	done := sc.retired && len(sc.pending) == 0
	sc.mu.Unlock()
	if done {
		sc.fail(net.ErrClosed)
	}
}

// fail marks the connection dead, closes it and wakes every waiting query.
func (sc *streamConn) fail(err error) {
	sc.mu.Lock()
	if sc.err == nil {
		sc.err = err
		for id, ch := range sc.pending {
			ch <- streamResult{err: err}
			delete(sc.pending, id)
		}
	}
	sc.mu.Unlock()
	_ = sc.c.Close()
}

// errIdle closes a connection that carried no query for the idle timeout.
var errIdle = errors.New("idle timeout")

func (sc *streamConn) readLoop() {
	br := bufio.NewReader(sc.c)
	var hdr [2]byte
	for {
		_ = sc.c.SetReadDeadline(time.Now().Add(sc.idle))
		n, err := io.ReadFull(br, hdr[:])
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			sc.mu.Lock()
			idle := len(sc.pending) == 0
			sc.mu.Unlock()
			if !idle {
				continue // the queries' own deadlines bound the wait
			}
			err = errIdle
		}
		if err != nil {
			sc.fail(err)
			return
		}
		_ = sc.c.SetReadDeadline(time.Now().Add(sc.idle))
		raw := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(br, raw); err != nil {
			sc.fail(err)
			return
		}
		if len(raw) < 2 {
			sc.fail(fmt.Errorf("%w: %d-byte message", errProtocol, len(raw)))
			return
		}
		sc.deliver(binary.BigEndian.Uint16(raw), raw)
	}
}

// deliver hands raw to the query waiting for id; answers nobody waits for
// (their query gave up) are dropped.
func (sc *streamConn) deliver(id uint16, raw []byte) {
	sc.mu.Lock()
	ch := sc.pending[id]
	delete(sc.pending, id)
	done := sc.retired && len(sc.pending) == 0
	sc.mu.Unlock()
	if ch != nil {
		ch <- streamResult{raw: raw}
	} else {
		sc.log.Debug("dropping answer for no pending query", "upstream", sc.name, "id", id)
	}
	if done {
		sc.fail(net.ErrClosed)
	}
}
