package resolver

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestCoalescerBusyNotShared: when the leader of a flight is refused by its
// own transport's bound (ErrBusy), a query that joined it is not handed the
// refusal but resolves on its own.
func TestCoalescerBusyNotShared(t *testing.T) {
	var calls atomic.Int32
	joined := make(chan struct{})
	next := HandlerFunc(func(_ context.Context, req *Request) (*dns.Msg, error) {
		if calls.Add(1) == 1 {
			<-joined
			return nil, fmt.Errorf("udp: %w", ErrBusy)
		}
		return aAnswer(300)(req.Msg)
	})
	c := NewCoalescer(next, time.Second, nil)
	q := new(dns.Msg).SetQuestion("a.example.", dns.TypeA)
	lead := make(chan error, 1)
	go func() {
		_, err := c.ServeDNS(context.Background(), &Request{Msg: q.Copy(), Profile: &Profile{Name: "p"}})
		lead <- err
	}()
	for { // wait until the leader's flight is registered
		c.mu.Lock()
		n := len(c.calls)
		c.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	follower := make(chan *dns.Msg, 1)
	go func() {
		resp, err := c.ServeDNS(context.Background(), &Request{Msg: q.Copy(), Profile: &Profile{Name: "p"}})
		if err != nil {
			t.Errorf("follower: %v, want its own answer", err)
		}
		follower <- resp
	}()
	time.Sleep(20 * time.Millisecond) // let the follower join the flight
	close(joined)
	if err := <-lead; err == nil {
		t.Error("leader: no error, want ErrBusy")
	}
	if resp := <-follower; resp == nil || len(resp.Answer) != 1 {
		t.Errorf("follower got %v", resp)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d upstream calls, want 2 (the refused leader's and the follower's own)", n)
	}
}
