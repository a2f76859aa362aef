package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/miekg/dns"
)

// udpClient sends each query from a fresh connected UDP socket (a random
// source port chosen by the kernel, which also drops datagrams from other
// addresses) with a random ID, and retries truncated answers over TCP.
type udpClient struct {
	ep  endpoint
	tcp *streamClient // same address, for TC=1 answers
	log *slog.Logger
}

func newUDP(ep endpoint, opts Options) *udpClient {
	return &udpClient{ep: ep, tcp: newTCP(ep, opts), log: opts.Logger}
}

// udpAttempts is how many times a query is sent over UDP, each time from a
// new socket with a new ID. A copy is sent every 1/udpAttempts of the
// timeout, and every socket keeps listening until the exchange ends, so an
// answer to any copy counts: a slow upstream gets the whole timeout, and a
// lost datagram is sent again.
const udpAttempts = 2

func (c *udpClient) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	r, err := c.exchangeUDP(ctx, q)
	if err != nil {
		return nil, err
	}
	if r.Truncated {
		c.log.Debug("truncated UDP answer, retrying over TCP", "upstream", c.ep.String(), "qname", q.Question[0].Name)
		return c.tcp.exchange(ctx, q)
	}
	return r, nil
}

// exchangeUDP sends q and waits for its answer until ctx ends, in the
// caller's goroutine unless the first copy goes unanswered until the first
// resend.
func (c *udpClient) exchangeUDP(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	var every time.Duration // between copies; 0: one copy
	if dl, ok := ctx.Deadline(); ok {
		every = time.Until(dl) / udpAttempts
	}
	first, err := c.send(ctx, q)
	if err != nil {
		return nil, err
	}
	var resendAt time.Time
	if every > 0 {
		resendAt = time.Now().Add(every)
	}
	r, err := c.wait(ctx, q, first, resendAt)
	if err != errNoAnswerYet {
		first.conn.Close()
		return r, err
	}
	return c.resend(ctx, q, first, every)
}

// resend sends the other copies of q, every `every`, while the sockets of
// the earlier ones keep listening, and returns the first result of any
// copy: an answer, a network error (refused: resending would not help), or
// the end of ctx.
func (c *udpClient) resend(ctx context.Context, q *dns.Msg, first *udpTry, every time.Duration) (*dns.Msg, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the waits still going
	results := make(chan udpResult, udpAttempts)
	listen := func(t *udpTry) {
		go func() {
			defer t.conn.Close()
			r, err := c.wait(ctx, q, t, time.Time{})
			results <- udpResult{r, err}
		}()
	}
	listen(first)
	for sent := 1; sent < udpAttempts; sent++ {
		c.log.Debug("no UDP answer yet, resending", "upstream", c.ep.String(), "qname", q.Question[0].Name)
		t, err := c.send(ctx, q)
		if err != nil {
			return nil, err
		}
		listen(t)
		if sent+1 < udpAttempts {
			select {
			case res := <-results:
				return res.r, res.err
			case <-time.After(every):
			}
		}
	}
	res := <-results
	return res.r, res.err
}

// udpTry is one copy of a query: its socket and message ID.
type udpTry struct {
	conn net.Conn
	id   uint16
}

// udpResult is what waiting for one copy returns.
type udpResult struct {
	r   *dns.Msg
	err error
}

// send sends q with a new ID from a new socket. The query is packed into a
// pooled buffer, which goes back before the wait for the answer.
func (c *udpClient) send(ctx context.Context, q *dns.Msg) (*udpTry, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", loopbackFor(c.ep.addr))
	if err != nil {
		return nil, err
	}
	t := &udpTry{conn: conn, id: randomID()}
	bp := getBuf()
	defer putBuf(bp)
	frame, err := packFrame(q, t.id, *bp)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %v", errProtocol, err)
	}
	if _, err := conn.Write(frame[2:]); err != nil {
		conn.Close()
		return nil, err
	}
	return t, nil
}

// errNoAnswerYet ends a wait at its resend time.
var errNoAnswerYet = errors.New("no answer yet")

// aLongTimeAgo is a deadline in the past, to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// wait reads the answer to t until ctx ends, or until resendAt if set
// (errNoAnswerYet). It holds only a buffer of the size the query advertises
// (RFC 6891 §6.2.5); a larger answer comes back as truncated, to be asked
// again over TCP.
func (c *udpClient) wait(ctx context.Context, q *dns.Msg, t *udpTry, resendAt time.Time) (*dns.Msg, error) {
	until := resendAt
	if dl, ok := ctx.Deadline(); ok && (until.IsZero() || dl.Before(until)) {
		until = dl
	}
	_ = t.conn.SetReadDeadline(until) // zero: none
	stop := context.AfterFunc(ctx, func() { _ = t.conn.SetReadDeadline(aLongTimeAgo) })
	defer stop()
	buf := make([]byte, udpSize(q)+1) // one byte more shows an oversized answer
	for {
		n, err := t.conn.Read(buf)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil, context.Cause(ctx)
		case errors.Is(err, os.ErrDeadlineExceeded) && !resendAt.IsZero() && !time.Now().Before(resendAt):
			return nil, errNoAnswerYet
		default:
			return nil, err
		}
		if n == len(buf) {
			c.log.Debug("UDP answer larger than advertised, retrying over TCP", "upstream", c.ep.String(), "qname", q.Question[0].Name)
			return &dns.Msg{MsgHdr: dns.MsgHdr{Truncated: true}}, nil
		}
		r, err := parseReply(q, t.id, buf[:n])
		if err != nil {
			// Anti-spoofing (RFC 5452): a reply that does not match ID and
			// question is dropped and we keep waiting for the real one.
			c.log.Debug("ignoring mismatched UDP reply", "upstream", c.ep.String(), "err", err)
			continue
		}
		return r, nil
	}
}

// udpSize is the largest UDP answer q allows: its EDNS buffer size, or 512
// bytes without EDNS (RFC 1035 §4.2.1).
func udpSize(q *dns.Msg) int {
	if opt := q.IsEdns0(); opt != nil {
		return max(int(opt.UDPSize()), dns.MinMsgSize)
	}
	return dns.MinMsgSize
}

func (c *udpClient) close() error { return c.tcp.close() }
