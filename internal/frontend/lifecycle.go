package frontend

import (
	"context"
	"net"
	"sync"
)

// Lifecycle is the bookkeeping a stream server shares between Start, its
// connections and Shutdown: the bound addresses, the open connections and
// the goroutines Shutdown waits for. The zero value is ready to use.
type Lifecycle[C comparable] struct {
	WG sync.WaitGroup // accept loops and connections

	mu       sync.Mutex
	addrs    []net.Addr
	stopping bool
	conns    map[C]struct{}
}

// SetAddrs records the addresses Start bound.
func (l *Lifecycle[C]) SetAddrs(addrs []net.Addr) {
	l.mu.Lock()
	l.addrs = addrs
	l.mu.Unlock()
}

// Addrs returns the addresses Start bound (useful with port 0).
func (l *Lifecycle[C]) Addrs() []net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]net.Addr(nil), l.addrs...)
}

// Track registers c so Shutdown can reach it; false once Stop was called.
func (l *Lifecycle[C]) Track(c C) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopping {
		return false
	}
	if l.conns == nil {
		l.conns = map[C]struct{}{}
	}
	l.conns[c] = struct{}{}
	return true
}

// Untrack removes c, registered by Track.
func (l *Lifecycle[C]) Untrack(c C) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// Stop makes every later Track fail and calls f on each tracked connection,
// so no connection escapes a shutdown that has begun.
func (l *Lifecycle[C]) Stop(f func(C)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopping = true
	for c := range l.conns {
		f(c)
	}
}

// Each calls f on every tracked connection.
func (l *Lifecycle[C]) Each(f func(C)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		f(c)
	}
}

// Wait waits for WG. When ctx ends first it calls force (cancel handlers,
// close connections), still waits for WG and returns ctx's error.
func (l *Lifecycle[C]) Wait(ctx context.Context, force func()) error {
	done := make(chan struct{})
	go func() { l.WG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		force()
		<-done
		return ctx.Err()
	}
}
