package doq

import (
	"errors"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/resolver"
)

// conn is one accepted QUIC connection; each stream is served by its own
// goroutine.
type conn struct {
	s       *Server
	qc      *quic.Conn
	client  netip.AddrPort
	sni     string
	who     resolver.Client // the connection's profile and client ID
	streams sync.WaitGroup  // one per stream being served
	out     *BatchWriter    // writes the small answers
	// replayer answers repeated queries from packed bytes; nil when the
	// handler does not replay.
	replayer resolver.Replayer
	watch    sync.WaitGroup // the handshake and unidirectional stream watchers
}

func (s *Server) serveConn(qc *quic.Conn) {
	defer s.life.WG.Done()
	st, _ := qc.Context().Value(stateKey{}).(*connState)
	s.life.Track(qc) // doq never calls Stop: draining ends the stream loop instead
	defer s.life.Untrack(qc)
	sni := qc.ConnectionState().TLS.ServerName
	local := frontend.AddrPort(qc.LocalAddr())
	who, err := s.cfg.Profiles.Identify(resolver.Ingress{ServerName: sni, Local: local.Addr()})
	if err != nil { // refused since the handshake passed (SIGHUP changed clients)
		s.cfg.Logger.Debug("doq: client refused", frontend.ErrAttr(err))
		qc.CloseWithError(ProtocolError, "")
		return
	}
	c := &conn{
		s:      s,
		qc:     qc,
		client: frontend.AddrPort(qc.RemoteAddr()),
		sni:    sni,
		who:    who,
	}
	s.metrics.Connections.WithLabelValues("doq", c.who.Profile.Name).Inc()
	s.metrics.Active.WithLabelValues("doq").Inc()
	defer s.metrics.Active.WithLabelValues("doq").Dec()

	c.out = NewBatchWriter(RequestCancelled)
	c.replayer, _ = s.cfg.Handler.(resolver.Replayer)
	c.watch.Add(2)
	go c.watchHandshake(st)
	go c.rejectUniStreams()
	for {
		str, err := qc.AcceptStream(s.draining)
		if err != nil {
			break
		}
		c.streams.Add(1)
		go c.serveStream(str)
	}
	c.streams.Wait()
	c.out.Close()
	if s.draining.Err() != nil { // shutting down: what was in flight is answered
		c.linger()
		qc.CloseWithError(NoError, "")
	}
	c.watch.Wait()
}

// linger gives the answers just written time to leave (Linger).
func (c *conn) linger() { Linger(c.qc, c.s.base.Done()) }

// Linger gives the answers just written on qc about one probe timeout
// (RFC 9002 §6.2.1: smoothed RTT, 4 deviations, the 25 ms max ACK delay) to
// leave and be acknowledged before the connection is closed: quic-go drops
// stream data it has not sent when it closes, and closing at once lost every
// answer still queued in a test of Shutdown with 20 queries in flight. It
// returns early when the connection ends or stop is closed. DoH's HTTP/3
// engine closes its connections the same way.
func Linger(qc *quic.Conn, stop <-chan struct{}) {
	st := qc.ConnectionStats()
	t := time.NewTimer(st.SmoothedRTT + 4*st.MeanDeviation + 25*time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-qc.Context().Done():
	case <-stop:
	}
}

func (c *conn) watchHandshake(st *connState) {
	defer c.watch.Done()
	select {
	case <-c.qc.HandshakeComplete():
		if st != nil {
			st.handshakeDone("ok")
		}
		if c.qc.ConnectionState().Used0RTT {
			c.s.qm.zeroRTT.WithLabelValues("connection").Inc()
		}
	case <-c.qc.Context().Done():
	}
}

// rejectUniStreams closes the connection when the client opens a
// unidirectional stream (RFC 9250 §4.3.3).
func (c *conn) rejectUniStreams() {
	defer c.watch.Done()
	if _, err := c.qc.AcceptUniStream(c.qc.Context()); err == nil {
		c.protocolError("unidirectional_stream", "unidirectional streams are not used by DoQ")
	}
}

// protocolError closes the connection with DOQ_PROTOCOL_ERROR.
func (c *conn) protocolError(kind, reason string) {
	c.s.metrics.ProtocolErrors.WithLabelValues("doq", c.who.Profile.Name, kind).Inc()
	c.s.cfg.Logger.Debug("doq: protocol error", "kind", kind)
	c.qc.CloseWithError(ProtocolError, reason)
}

// cancelStream resets both directions of a stream with a DoQ error code.
func cancelStream(str *quic.Stream, code uint64) {
	str.CancelRead(quic.StreamErrorCode(code))
	str.CancelWrite(quic.StreamErrorCode(code))
}

func (c *conn) serveStream(str *quic.Stream) {
	defer c.streams.Done()
	str.SetReadDeadline(time.Now().Add(c.s.cfg.StreamTimeout))
	bp := c.s.bufs.Get().(*[]byte)
	defer c.s.bufs.Put(bp)
	raw, err := readQuery(str, (*bp)[:0])
	if err != nil {
		c.readError(str, err)
		return
	}
	req := &resolver.Request{Client: c.client, Transport: transport.DoQ, ServerName: c.sni, Profile: c.who.Profile,
		ClientID: c.who.ID, ClientListed: c.who.Listed}
	if c.replay(str, req, raw) {
		return
	}
	var wire []byte // the query as sent, for replay once answered (raw's buffer is reused for the answer)
	if c.replayer != nil {
		wire = append(wire, raw...)
	}
	q, err := frontend.Parse(raw)
	if err != nil {
		c.s.metrics.ProtocolErrors.WithLabelValues("doq", c.who.Profile.Name, "malformed").Inc()
		if r := resolver.MalformedReply(raw); r != nil {
			c.reply(str, r, bp)
		} else { // a response: nothing is sent back
			cancelStream(str, RequestCancelled)
		}
		return
	}
	if frontend.HasKeepalive(q) {
		c.protocolError("keepalive", "edns-tcp-keepalive is not used by DoQ")
		return
	}
	// The server-wide slot is taken only for a whole query: a stream that
	// is slow to send one is bounded by StreamTimeout and the per-connection
	// and per-client limits, and must not crowd out other clients.
	if n := c.s.inflight.Add(1); n > int64(c.s.cfg.MaxInflight) {
		c.s.inflight.Add(-1)
		c.s.metrics.ProtocolErrors.WithLabelValues("doq", c.who.Profile.Name, "excessive_load").Inc()
		cancelStream(str, ExcessiveLoad)
		return
	}
	defer c.s.inflight.Add(-1)
	if !c.await0RTT(q) {
		cancelStream(str, RequestCancelled)
		return
	}
	req.Msg = q
	resp, err := frontend.Resolve(c.s.base, c.s.cfg.Handler, req)
	if errors.Is(err, resolver.ErrLimited) { // RFC 9250 §4.3: the client should slow down
		c.s.metrics.ProtocolErrors.WithLabelValues("doq", c.who.Profile.Name, "rate_limited").Inc()
		cancelStream(str, ExcessiveLoad)
		return
	}
	if err != nil {
		c.s.cfg.Logger.Debug("doq: handler", frontend.ErrAttr(err))
	}
	if resp == nil { // the handler asked for no answer (resolver.ErrDrop)
		cancelStream(str, RequestCancelled)
		return
	}
	b := c.reply(str, frontend.Finish(q, resp, 0), bp) // keepalive 0: any upstream keepalive option is stripped
	if b != nil && wire != nil {
		c.replayer.Sent(req, wire, b[2:])
	}
}

// replay answers raw from the bytes sent for the same query a moment ago
// (resolver.Replayer), once the handshake is complete: 0-RTT queries take
// the full path, which holds back those that are not safe to replay.
func (c *conn) replay(str *quic.Stream, req *resolver.Request, raw []byte) bool {
	if c.replayer == nil {
		return false
	}
	select {
	case <-c.qc.HandshakeComplete():
	default:
		return false
	}
	bp := c.s.bufs.Get().(*[]byte)
	defer c.s.bufs.Put(bp)
	frame, _, ok := c.replayer.Replay(req, raw, append((*bp)[:0], 0, 0)) // 2 bytes for the length
	if !ok {
		return false
	}
	c.write(str, frontend.SetLength(frame)) // replayed answers are small; the batch writer copies them
	return true
}

// readError maps a failure to read the query to the DoQ reaction.
func (c *conn) readError(str *quic.Stream, err error) {
	var serr *quic.StreamError
	var aerr *quic.ApplicationError
	switch {
	case errors.As(err, &serr), errors.As(err, &aerr), c.qc.Context().Err() != nil:
		// the client cancelled the stream or the connection is gone
	case errors.Is(err, os.ErrDeadlineExceeded): // StreamTimeout passed
		c.s.metrics.ProtocolErrors.WithLabelValues("doq", c.who.Profile.Name, "stream_timeout").Inc()
		cancelStream(str, RequestCancelled)
	case errors.Is(err, errNonZeroID):
		c.protocolError("message_id", "message ID must be 0")
	default: // no length prefix, truncated, zero-length or trailing data
		c.protocolError("framing", err.Error())
	}
}

// await0RTT holds a query that arrived before the handshake completed until
// it does, unless the query is replay-safe. False: the connection ended.
func (c *conn) await0RTT(q *dns.Msg) bool {
	select {
	case <-c.qc.HandshakeComplete():
		return true
	default:
	}
	if replaySafe(q) {
		c.s.qm.zeroRTT.WithLabelValues("query_answered").Inc()
		return true
	}
	c.s.qm.zeroRTT.WithLabelValues("query_deferred").Inc()
	select {
	case <-c.qc.HandshakeComplete():
		return true
	case <-c.qc.Context().Done():
		return false
	}
}

// reply packs m and writes it; it returns the frame written, nil when m
// could not be packed.
func (c *conn) reply(str *quic.Stream, m *dns.Msg, bp *[]byte) []byte {
	b, err := frontend.Pack(m, (*bp)[:0])
	if err != nil {
		c.s.cfg.Logger.Debug("doq: pack", frontend.ErrAttr(err))
		cancelStream(str, InternalError)
		return nil
	}
	if cap(b) <= 64<<10 {
		*bp = b[:0]
	}
	c.write(str, b)
	return b
}

// write sends a framed answer and the FIN: small ones through the
// connection's batch writer, larger ones here, under WriteTimeout.
func (c *conn) write(str *quic.Stream, frame []byte) {
	if len(frame) <= MaxBatched {
		c.out.Add(str, frame)
		return
	}
	str.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	if _, err := str.Write(frame); err != nil {
		str.CancelWrite(quic.StreamErrorCode(RequestCancelled))
		return
	}
	str.Close()
}
