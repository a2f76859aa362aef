package resolver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Coalescer sends one upstream query for concurrent identical misses; the
// others wait for its answer. It sits between the cache and the upstreams.
type Coalescer struct {
	next    Handler
	timeout time.Duration
	metrics *Metrics
	mu      sync.Mutex
	calls   map[cacheKey]*flight
}

type flight struct {
	done chan struct{}
	resp *dns.Msg
	err  error
}

// NewCoalescer returns a coalescing step in front of next. The shared query
// runs detached from any one caller's cancellation, bounded by timeout.
func NewCoalescer(next Handler, timeout time.Duration, m *Metrics) *Coalescer {
	return &Coalescer{next: next, timeout: timeout, metrics: m, calls: map[cacheKey]*flight{}}
}

// ServeDNS answers req, joining an identical in-flight query if there is one.
func (c *Coalescer) ServeDNS(ctx context.Context, req *Request) (*dns.Msg, error) {
	key := keyOf(req)
	c.mu.Lock()
	if f, ok := c.calls[key]; ok {
		c.mu.Unlock()
		c.metrics.coalesce()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if errors.Is(f.err, ErrBusy) {
			return c.ServeDNS(ctx, req) // the leader's own refusal: try as a leader
		}
		if f.err != nil {
			return nil, f.err
		}
		req.upstream = true
		resp := f.resp.Copy()
		resp.Id = req.Msg.Id
		resp.Question = req.Msg.Question
		return resp, nil
	}
	f := &flight{done: make(chan struct{})}
	c.calls[key] = f
	c.mu.Unlock()

	c.lead(ctx, key, f, req)
	if f.err != nil {
		return nil, f.err
	}
	req.upstream = true
	return f.resp.Copy(), nil
}

// lead runs the shared query and always settles the flight, even if the
// steps below panic, so that no later identical query waits on it forever.
func (c *Coalescer) lead(ctx context.Context, key cacheKey, f *flight, req *Request) {
	defer func() {
		if p := recover(); p != nil {
			f.resp, f.err = nil, fmt.Errorf("resolver: panic while resolving: %v", p)
		}
		c.mu.Lock()
		delete(c.calls, key)
		c.mu.Unlock()
		close(f.done)
	}()
	// The leader's caller may give up; the followers still need the answer.
	shared, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	f.resp, f.err = c.next.ServeDNS(shared, req)
}
