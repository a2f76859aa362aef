package dot

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/readahead"
	"github.com/dnsward/dnsward/resolver"
)

// conn is one client connection: a read loop that answers replayable queries
// itself and hands each other one to its own goroutine, and a batch writer
// so answers go out whole, in completion order.
type conn struct {
	s       *Server
	tc      *tls.Conn
	profile *resolver.Profile
	ctx     context.Context
	sem     chan struct{} // bounds queries in flight
	wg      sync.WaitGroup
	w       *batchWriter

	// Replay (resolver.Replayer): repeated queries are answered on the read
	// loop from packed bytes, and their answers go out with the next flush.
	replayer resolver.Replayer // nil: the handler does not replay
	req      resolver.Request  // offered to replay; copied for the full chain
	ans      []byte            // replayed answer
}

// serve runs one accepted TCP connection to its end.
func (s *Server) serve(nc net.Conn) {
	defer s.life.WG.Done()
	client, local := frontend.AddrPort(nc.RemoteAddr()), frontend.AddrPort(nc.LocalAddr())
	// A trusted proxy that sent no header before TLS sends it inside
	// (dnsdist): the connection is admitted once that names the client.
	inside := s.cfg.ProxyProtocol && !clientaddr.Proxied(nc) && s.trusted.Contains(client.Addr())
	release := func() {}
	if !inside {
		var ok bool
		if release, ok = s.acquire(client, clientaddr.Relayed(nc)); !ok { // counted by Conns
			nc.Close()
			return
		}
	}
	defer func() { release() }()
	tc := tls.Server(nc, s.cfg.TLS)
	defer tc.Close()
	if !s.life.Track(tc) {
		return
	}
	defer s.life.Untrack(tc)
	hctx, cancel := context.WithTimeout(s.base, s.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		s.metrics.ProtocolErrors.WithLabelValues("dot", "", "handshake").Inc()
		s.cfg.Logger.Debug("dot: handshake", frontend.ErrAttr(err))
		return
	}
	br := bufio.NewReaderSize(tc, 4096)
	relayed := false
	if s.cfg.ProxyProtocol {
		if client, local, relayed, err = s.unwrapInside(tc, br, inside, client, local); err != nil {
			return
		}
	}
	if inside {
		r, ok := s.acquire(client, relayed)
		if !ok {
			return
		}
		release = r
	}
	sni := tc.ConnectionState().ServerName
	who, err := s.cfg.Profiles.Identify(resolver.Ingress{ServerName: sni, Local: local.Addr()})
	if err != nil { // refused since the handshake passed (SIGHUP changed clients)
		s.cfg.Logger.Debug("dot: client refused", frontend.ErrAttr(err))
		return
	}
	c := &conn{
		s:       s,
		tc:      tc,
		profile: who.Profile,
		sem:     make(chan struct{}, s.cfg.MaxInflightPerConn),
		w:       newBatchWriter(tc, s.cfg.WriteTimeout),
	}
	c.replayer, _ = s.cfg.Handler.(resolver.Replayer)
	c.req = resolver.Request{Client: client, Transport: transport.DoT, ServerName: sni, Profile: c.profile,
		ClientID: who.ID, ClientListed: who.Listed}
	ctx, cancelConn := context.WithCancel(s.base)
	defer cancelConn()
	c.ctx = ctx
	s.metrics.Connections.WithLabelValues("dot", c.profile.Name).Inc()
	s.metrics.Active.WithLabelValues("dot").Inc()
	defer s.metrics.Active.WithLabelValues("dot").Dec()
	c.readLoop(br)
	c.w.flush() // replayed answers still pending when the loop ended
	if c.w.failed() {
		cancelConn() // no answer can be sent any more: stop resolving
	}
	c.wg.Wait()
	if c.w.failed() {
		nc.Close() // skip close_notify: it would block 5 s on a peer that does not read
	}
}

// readLoop reads queries until the client closes, the idle timeout passes
// with nothing in flight, a framing error occurs, an answer cannot be written
// or the server shuts down.
func (c *conn) readLoop(br *bufio.Reader) {
	buf := make([]byte, 0, 512)
	var req resolver.Request // offered to replay; one variable, so that it is not allocated per query
	for {
		if !frontend.FrameBuffered(br) && !readahead.Fill(c.tc, br, func() bool { return frontend.FrameBuffered(br) }) {
			// reading may wait for the client: send what was replayed, arm the idle timer
			if c.w.flush() != nil {
				return
			}
			c.tc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
		}
		if c.s.closing.Load() {
			return
		}
		if _, err := br.Peek(1); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && len(c.sem) > 0 && !c.s.closing.Load() && !c.w.failed() {
				continue // not idle: answers are still being worked on
			}
			return
		}
		raw, err := frontend.ReadFrame(br, buf)
		if err != nil {
			if errors.Is(err, frontend.ErrZeroLength) || errors.Is(err, frontend.ErrShortMessage) {
				c.protocolError("framing")
			}
			return
		}
		if cap(raw) > cap(buf) {
			buf = raw[:0]
		}
		req = c.req // afresh: replay may record the rate limiter's decision on it
		if c.replayer != nil {
			ans, _, ok := c.replayer.Replay(&req, raw, c.ans[:0])
			if ok {
				c.ans = ans
				if c.w.add(c.ans) != nil {
					return
				}
				continue
			}
		}
		q, err := frontend.Parse(raw)
		if err != nil {
			c.protocolError("malformed")
			if r := resolver.MalformedReply(raw); r != nil { // nil: a response, never answered
				c.write(r, nil, nil)
			}
			continue
		}
		select {
		case c.sem <- struct{}{}:
		case <-c.ctx.Done():
			return
		}
		full := req // for the chain, with the rate limiter's decision if replay was offered
		full.Msg = q
		var wire []byte // the query as sent, for replay once answered
		if c.replayer != nil {
			wire = append([]byte(nil), raw...)
		}
		c.wg.Add(1)
		go c.answer(&full, wire)
	}
}

func (c *conn) answer(req *resolver.Request, wire []byte) {
	defer func() {
		<-c.sem
		c.wg.Done()
	}()
	q := req.Msg
	resp, err := frontend.Resolve(c.ctx, c.s.cfg.Handler, req)
	if err != nil {
		c.s.cfg.Logger.Debug("dot: handler", "name", questionName(q), frontend.ErrAttr(err))
	}
	if resp == nil {
		return // the handler asked for no answer (resolver.ErrDrop)
	}
	c.write(frontend.Finish(q, resp, c.s.keepalive), req, wire)
}

// write sends one answer whole and offers it for replay when wire, the
// query req was resolved from, is set. A failed write ends the connection:
// the read loop is woken and further answers are dropped.
func (c *conn) write(m *dns.Msg, req *resolver.Request, wire []byte) {
	bp := c.s.bufs.Get().(*[]byte)
	defer c.s.bufs.Put(bp)
	b, err := frontend.Pack(m, *bp)
	if err != nil {
		c.s.cfg.Logger.Debug("dot: pack", frontend.ErrAttr(err))
		if b, err = frontend.Pack(resolver.NewReply(m, dns.RcodeServerFailure), *bp); err != nil {
			return
		}
	}
	if cap(b) <= 64<<10 {
		*bp = b[:0]
	}
	if wire != nil {
		c.replayer.Sent(req, wire, b[2:])
	}
	if err := c.w.write(b); err != nil {
		c.tc.SetReadDeadline(time.Now())
	}
}

func (c *conn) protocolError(kind string) {
	c.s.metrics.ProtocolErrors.WithLabelValues("dot", c.profile.Name, kind).Inc()
	c.s.cfg.Logger.Debug("dot: protocol error", "kind", kind)
}

func questionName(q *dns.Msg) string {
	if len(q.Question) == 0 {
		return ""
	}
	return q.Question[0].Name
}
