package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
)

// DoQ error codes (RFC 9250 §4.3).
const (
	doqNoError          quic.ApplicationErrorCode = 0x0
	doqRequestCancelled quic.StreamErrorCode      = 0x3
)

// doqClient speaks DNS over QUIC (RFC 9250): one connection, reused and
// redialed when closed; one bidirectional stream per query carrying a
// length-prefixed message with ID 0, FIN after the query.
type doqClient struct {
	ep       endpoint
	tlsConf  *tls.Config
	quicConf *quic.Config
	log      *slog.Logger

	sem    chan struct{} // held while choosing or dialing the connection
	mu     sync.Mutex
	conn   *quic.Conn
	closed bool
}

func newDoQ(ep endpoint, opts Options) *doqClient {
	return &doqClient{
		ep:       ep,
		tlsConf:  opts.tlsConfig(ep.serverName, "doq"),
		quicConf: &quic.Config{MaxIdleTimeout: opts.IdleTimeout},
		log:      opts.Logger,
		sem:      make(chan struct{}, 1),
	}
}

func (c *doqClient) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	for attempt := 0; ; attempt++ {
		conn, reused, err := c.connection(ctx)
		if err != nil {
			return nil, err
		}
		r, err := c.roundTrip(ctx, conn, q)
		if err != nil && connGone(conn, err) {
			c.drop(conn)
			if reused && attempt == 0 && ctx.Err() == nil {
				c.log.Debug("reused QUIC connection lost, redialing", "upstream", c.ep.String(), "err", err)
				continue
			}
		}
		return r, err
	}
}

// connGone reports whether err means the whole connection, not just one
// stream, is closed.
func connGone(conn *quic.Conn, err error) bool {
	var (
		app   *quic.ApplicationError
		trans *quic.TransportError
		idle  *quic.IdleTimeoutError
		reset *quic.StatelessResetError
	)
	return conn.Context().Err() != nil || errors.As(err, &app) || errors.As(err, &trans) ||
		errors.As(err, &idle) || errors.As(err, &reset)
}

// drop forgets conn so that the next query dials again.
func (c *doqClient) drop(conn *quic.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == conn {
		c.conn = nil
		_ = conn.CloseWithError(doqNoError, "")
	}
}

// connection returns the live connection, dialing one if there is none.
func (c *doqClient) connection(ctx context.Context) (conn *quic.Conn, reused bool, err error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, context.Cause(ctx)
	}
	defer func() { <-c.sem }()
	c.mu.Lock()
	closed, conn := c.closed, c.conn
	c.mu.Unlock()
	if closed {
		return nil, false, net.ErrClosed
	}
	if conn != nil && conn.Context().Err() == nil {
		return conn, true, nil
	}
	conn, err = quic.DialAddr(ctx, loopbackFor(c.ep.addr), c.tlsConf, c.quicConf)
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = conn.CloseWithError(doqNoError, "")
		return nil, false, net.ErrClosed
	}
	c.conn = conn
	return conn, false, nil
}

// withoutKeepalive returns q without an edns-tcp-keepalive option, which DoQ
// clients must not send (RFC 9250 §5.5.2); q is copied only when it has one.
func withoutKeepalive(q *dns.Msg) *dns.Msg {
	opt := q.IsEdns0()
	if opt == nil || !slices.ContainsFunc(opt.Option, isKeepalive) {
		return q
	}
	q = q.Copy()
	opt = q.IsEdns0()
	opt.Option = slices.DeleteFunc(opt.Option, isKeepalive)
	return q
}

func isKeepalive(o dns.EDNS0) bool { return o.Option() == dns.EDNS0TCPKEEPALIVE }

// roundTrip sends q on a new stream and reads the answer. While it waits it
// holds only the packed query, not a pooled 64 KiB buffer.
func (c *doqClient) roundTrip(ctx context.Context, conn *quic.Conn, q *dns.Msg) (*dns.Msg, error) {
	q = withoutKeepalive(q)
	bp := getBuf()
	frame, err := packFrame(q, 0, *bp)
	if err != nil {
		putBuf(bp)
		return nil, fmt.Errorf("%w: %v", errProtocol, err)
	}
	frame = bytes.Clone(frame)
	putBuf(bp)
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() {
		st.CancelWrite(doqRequestCancelled)
		st.CancelRead(doqRequestCancelled)
	})
	defer stop()
	if _, err := st.Write(frame); err != nil {
		return nil, ctxErr(ctx, err)
	}
	if err := st.Close(); err != nil { // FIN: the query is complete
		return nil, ctxErr(ctx, err)
	}
	var hdr [2]byte
	if _, err := io.ReadFull(st, hdr[:]); err != nil {
		return nil, ctxErr(ctx, err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(st, buf); err != nil {
		return nil, ctxErr(ctx, err)
	}
	return parseReply(q, 0, buf)
}

// ctxErr prefers the context's error when it caused err.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var se *quic.StreamError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: stream reset by server: %v", errProtocol, err)
	}
	return err
}

func (c *doqClient) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn != nil {
		return c.conn.CloseWithError(doqNoError, "")
	}
	return nil
}
