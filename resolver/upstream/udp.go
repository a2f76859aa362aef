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
// new socket with a new ID. A copy is sent every 1/udpAttempts of the
// timeout, and every socket keeps listening until the exchange ends, so an
// answer to any copy counts: a slow upstream gets the whole timeout, and a
// lost datagram is sent again.
const udpAttempts = 2

// udpResult is what one attempt returns.
type udpResult struct {
	r   *dns.Msg
	err error
}

func (c *udpClient) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the attempts still waiting
	results := make(chan udpResult, udpAttempts)
	send := func() {
		go func() {
			r, err := c.exchangeUDP(ctx, q)
			results <- udpResult{r, err}
		}()
	}
	send()
	var resend <-chan time.Time
	if dl, ok := ctx.Deadline(); ok {
		tick := time.NewTicker(time.Until(dl) / udpAttempts)
		defer tick.Stop()
		resend = tick.C
	}
	for sent := 1; ; {
		select {
		case res := <-results:
			// The first result ends the exchange: an answer, a network error
			// (refused: resending would not help), or the end of ctx.
			if res.err != nil {
				return nil, res.err
			}
			if res.r.Truncated {
				c.log.Debug("truncated UDP answer, retrying over TCP", "upstream", c.ep.String(), "qname", q.Question[0].Name)
				return c.tcp.exchange(ctx, q)
			}
			return res.r, nil
		case <-resend:
			if sent < udpAttempts {
				sent++
				c.log.Debug("no UDP answer yet, resending", "upstream", c.ep.String(), "qname", q.Question[0].Name)
				send()
			}
		}
	}
}

// aLongTimeAgo is a deadline in the past, to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// exchangeUDP makes one attempt, giving up when ctx ends. While it waits it
// holds only a buffer of the size the query advertises (RFC 6891 §6.2.5); a
// larger answer is asked again over TCP.
func (c *udpClient) exchangeUDP(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", loopbackFor(c.ep.addr))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
	defer stop()

	id := randomID()
	if err := c.send(conn, q, id); err != nil {
		return nil, err
	}
	buf := make([]byte, udpSize(q)+1) // one byte more shows an oversized answer
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, err
		}
		if n == len(buf) {
			c.log.Debug("UDP answer larger than advertised, retrying over TCP", "upstream", c.ep.String(), "qname", q.Question[0].Name)
			return &dns.Msg{MsgHdr: dns.MsgHdr{Truncated: true}}, nil
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

// send packs q with id into a pooled buffer, which it returns before the
// wait for the answer, and writes it to conn.
func (c *udpClient) send(conn net.Conn, q *dns.Msg, id uint16) error {
	bp := getBuf()
	defer putBuf(bp)
	frame, err := packFrame(q, id, *bp)
	if err != nil {
		return fmt.Errorf("%w: %v", errProtocol, err)
	}
	_, err = conn.Write(frame[2:])
	return err
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
