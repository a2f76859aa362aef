package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
)

// errClosed reports a connection that died with queries pending.
var errClosed = errors.New("connection closed")

// mux matches answers to pending queries by Message ID, for the transports
// that carry many queries on one connection without streams (UDP, TCP, DoT).
type mux struct {
	mu      sync.Mutex
	pending map[uint16]chan []byte
	next    uint16
	dead    chan struct{}
	err     error
}

func newMux() *mux {
	return &mux{pending: map[uint16]chan []byte{}, dead: make(chan struct{})}
}

// add copies wire with a free ID into dst (after prefix bytes of room) and
// registers the ID. ok is false when every ID is in flight.
func (m *mux) add(dst, wire []byte) (out []byte, id uint16, ch chan []byte, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range 1 << 16 {
		m.next++
		if _, busy := m.pending[m.next]; !busy {
			id = m.next
			ch = make(chan []byte, 1)
			m.pending[id] = ch
			out = append(dst, wire...)
			binary.BigEndian.PutUint16(out[len(dst):], id)
			return out, id, ch, true
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
	ch, ok := m.pending[id]
	delete(m.pending, id)
	m.mu.Unlock()
	if ok {
		ch <- resp
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

// wait returns the answer for id, or the context's or the connection's error.
func (m *mux) wait(ctx context.Context, id uint16, ch chan []byte) ([]byte, error) {
	select {
	case resp := <-ch:
		return resp, nil
	case <-ctx.Done():
		m.remove(id)
		return nil, ctx.Err()
	case <-m.dead:
		m.remove(id)
		return nil, errors.Join(errClosed, m.err)
	}
}
