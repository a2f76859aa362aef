package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// errClosed reports a connection that died with queries pending.
var errClosed = errors.New("connection closed")

// errTimeout reports a query the mux gave up on.
var errTimeout = errors.New("query timed out")

// mux matches answers to pending queries by Message ID, for the transports
// that carry many queries on one connection without streams (UDP, TCP, DoT).
// One sweeper per connection expires queries older than the timeout, so the
// send path needs no timer per query.
type mux struct {
	timeout time.Duration
	mu      sync.Mutex
	pending map[uint16]*pend
	next    uint16
	dead    chan struct{}
	err     error
}

type pend struct {
	ch   chan []byte // receives the answer, or nil on timeout
	sent time.Time
}

func newMux(timeout time.Duration) *mux {
	m := &mux{timeout: timeout, pending: map[uint16]*pend{}, dead: make(chan struct{})}
	go m.sweep()
	return m
}

// sweep times out pending queries until the connection is dead.
func (m *mux) sweep() {
	tick := time.NewTicker(min(m.timeout/4, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-m.dead:
			return
		case now := <-tick.C:
			m.mu.Lock()
			for id, p := range m.pending {
				if now.Sub(p.sent) >= m.timeout {
					delete(m.pending, id)
					p.ch <- nil
				}
			}
			m.mu.Unlock()
		}
	}
}

// add copies wire with a free ID after dst's prefix bytes and registers the
// ID. ok is false when every ID is in flight.
func (m *mux) add(dst, wire []byte) (out []byte, id uint16, ch chan []byte, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range 1 << 16 {
		m.next++
		if _, busy := m.pending[m.next]; !busy {
			id = m.next
			p := &pend{ch: make(chan []byte, 1), sent: time.Now()}
			m.pending[id] = p
			out = append(dst, wire...)
			binary.BigEndian.PutUint16(out[len(dst):], id)
			return out, id, p.ch, true
		}
	}
	return nil, 0, nil, false
}

// deliver hands an answer to the query waiting for its ID; answers nobody
// waits for (late, after a timeout) are dropped.
func (m *mux) deliver(resp []byte) {
	if len(resp) < 2 {
		return
	}
	id := binary.BigEndian.Uint16(resp)
	m.mu.Lock()
	p, ok := m.pending[id]
	delete(m.pending, id)
	m.mu.Unlock()
	if ok {
		p.ch <- resp
	}
}

func (m *mux) remove(id uint16) {
	m.mu.Lock()
	delete(m.pending, id)
	m.mu.Unlock()
}

// fail marks the connection dead; waiting queries return err.
func (m *mux) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = err
		close(m.dead)
	}
}

// wait returns the answer for id, or a timeout, the context's or the
// connection's error.
func (m *mux) wait(ctx context.Context, id uint16, ch chan []byte) ([]byte, error) {
	select {
	case resp := <-ch:
		if resp == nil {
			return nil, errTimeout
		}
		return resp, nil
	case <-ctx.Done():
		m.remove(id)
		return nil, ctx.Err()
	case <-m.dead:
		m.remove(id)
		return nil, errors.Join(errClosed, m.err)
	}
}
