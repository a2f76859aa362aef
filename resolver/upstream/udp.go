package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"net"
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
// new socket with a new ID, splitting the time left evenly.
const udpAttempts = 2

func (c *udpClient) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	var r *dns.Msg
	var err error
	for left := udpAttempts; left > 0; left-- {
		var until time.Time // zero: the context's deadline
		if dl, ok := ctx.Deadline(); ok && left > 1 {
			until = time.Now().Add(time.Until(dl) / time.Duration(left))
		}
		r, err = c.exchangeUDP(ctx, q, until)
		if err == nil || ctx.Err() != nil || classify(err) != KindTimeout {
			break
		}
		c.log.Debug("no UDP answer, resending", "upstream", c.ep.String(), "qname", q.Question[0].Name)
	}
	if err != nil {
		return nil, err
	}
	if r.Truncated {
		c.log.Debug("truncated UDP answer, retrying over TCP", "upstream", c.ep.String(), "qname", q.Question[0].Name)
		return c.tcp.exchange(ctx, q)
	}
	return r, nil
}

// aLongTimeAgo is a deadline in the past, to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// exchangeUDP makes one attempt, giving up at until (if set) or when ctx ends.
func (c *udpClient) exchangeUDP(ctx context.Context, q *dns.Msg, until time.Time) (*dns.Msg, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", loopbackFor(c.ep.addr))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok && (until.IsZero() || dl.Before(until)) {
		until = dl
	}
	if !until.IsZero() {
		_ = conn.SetDeadline(until)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
	defer stop()

	bp := getBuf()
	defer putBuf(bp)
	id := randomID()
	frame, err := packFrame(q, id, *bp)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errProtocol, err)
	}
	if _, err := conn.Write(frame[2:]); err != nil {
		return nil, err
	}
	buf := *bp
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, err
		}
		r, err := parseReply(q, id, buf[:n])
		if err != nil {
			// Anti-spoofing (RFC 5452): a reply that does not match ID and
			// question is dropped and we keep waiting for the real one.
			c.log.Debug("ignoring mismatched UDP reply", "upstream", c.ep.String(), "err", err)
			continue
		}
		return r, nil
	}
}

func (c *udpClient) close() error { return c.tcp.close() }
