package h2

import (
	"context"
	"sync"
	"time"
)

// streamCtx is a stream's request context. It holds the handler's State
// under Config.StateKey, takes other values from the connection's context
// (net/http's ServerContextKey and LocalAddrContextKey), and is cancelled
// when the client resets the stream or the connection ends. AfterFunc lets context.WithTimeout and friends hook in without a
// goroutine or a registration map per request. A context that was never
// cancelled is recycled with its stream; a cancelled one never is, so what
// still holds it keeps seeing it cancelled.
type streamCtx struct {
	parent context.Context
	key    any   // Config.StateKey
	state  State // the handler's, for as long as this context serves the stream
	mu     sync.Mutex
	done   chan struct{} // made on first use; kept across requests until closed
	err    error
	funcs  []afterFunc
	nextID uint64
}

type afterFunc struct {
	id uint64
	f  func()
}

// Deadline reports the parent's deadline.
func (x *streamCtx) Deadline() (time.Time, bool) { return x.parent.Deadline() }

// Done returns a channel closed when the request is cancelled.
func (x *streamCtx) Done() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		x.done = make(chan struct{})
	}
	return x.done
}

// Err reports context.Canceled once the request is cancelled.
func (x *streamCtx) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

// Value returns the stream's State for Config.StateKey, else looks key up
// in the connection's context.
func (x *streamCtx) Value(key any) any {
	if key == x.key {
		return x.state
	}
	return x.parent.Value(key)
}

// AfterFunc arranges for f to run in its own goroutine once the request is
// cancelled; stop deregisters it (see context.AfterFunc).
func (x *streamCtx) AfterFunc(f func()) (stop func() bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.err != nil {
		go f()
		return func() bool { return false }
	}
	x.nextID++
	id := x.nextID
	x.funcs = append(x.funcs, afterFunc{id, f})
	return func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		for i, a := range x.funcs {
			if a.id == id {
				x.funcs = append(x.funcs[:i], x.funcs[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancel cancels the request.
func (x *streamCtx) cancel() {
	x.mu.Lock()
	if x.err != nil {
		x.mu.Unlock()
		return
	}
	x.err = context.Canceled
	if x.done == nil {
		x.done = make(chan struct{})
	}
	close(x.done)
	funcs := x.funcs
	x.funcs = nil
	x.mu.Unlock()
	for _, a := range funcs {
		a.f() // the context package's own hooks: they cancel a child, or start the user's func on a goroutine
	}
}

// reusable readies the context for the stream's next request and reports
// whether it may serve it: false once it was cancelled.
func (x *streamCtx) reusable() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	clear(x.funcs)
	x.funcs = x.funcs[:0]
	return x.err == nil
}
