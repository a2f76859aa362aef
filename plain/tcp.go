package plain

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/resolver"
)

func (s *Server) serveTCP(l net.Listener) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: back off instead of spinning
			continue
		}
		peer := c.RemoteAddr().(*net.TCPAddr).AddrPort()
		var release func() // a trusted proxy's connection is admitted once its header names the client
		if !s.viaProxy(peer.Addr()) {
			var ok bool
			if release, ok = frontend.AcquireConn(s.cfg.Conns, "tcp", peer.Addr()); !ok { // counted by Conns
				c.Close()
				continue
			}
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c, release)
		}()
	}
}

// serveConn reads pipelined queries and answers each from its own goroutine,
// in whatever order they complete (RFC 7766 §6.2.1.1). With ProxyProtocol,
// the PROXY v2 header is read first; release is nil for a trusted proxy's
// connection, admitted then for the client its header names.
func (s *Server) serveConn(c net.Conn, release func()) {
	defer c.Close()
	stop := s.trackConn(c)
	defer stop()
	base := s.request(c.RemoteAddr().(*net.TCPAddr).AddrPort(), c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(), transport.TCP)
	r := bufio.NewReader(c)
	if s.trusted != nil {
		c.SetReadDeadline(time.Now().Add(s.cfg.TCPIdleTimeout))
		relayed, err := s.unwrapTCP(&base, r)
		if err != nil {
			s.cfg.Logger.Debug("plain: closing TCP connection for its PROXY v2 header", frontend.ErrAttr(err))
			if release != nil {
				release()
			}
			return
		}
		if release == nil {
			var ok bool
			if release, ok = frontend.AcquireConn(s.cfg.Conns, "tcp", s.trusted.Admitted(base.Client.Addr(), relayed)); !ok {
				return
			}
		}
	}
	defer release()
	var wmu sync.Mutex
	var inflight sync.WaitGroup
	sem := make(chan struct{}, s.cfg.TCPMaxInflight)
	for {
		c.SetReadDeadline(time.Now().Add(s.cfg.TCPIdleTimeout))
		if s.draining.Err() != nil { // checked after the deadline: a drain racing it still ends the loop
			break
		}
		// Each query gets its own buffer: its goroutine outlives this read.
		wire, err := frontend.ReadFrame(r, nil)
		if errors.Is(err, frontend.ErrShortMessage) {
			err = nil // answered FORMERR (or dropped) like any unparsable message
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, frontend.ErrZeroLength) && !errors.Is(err, os.ErrDeadlineExceeded) {
				s.cfg.Metrics.Malformed(transport.TCP, "framing")
			}
			break
		}
		sem <- struct{}{} // back-pressure: stop reading while the connection is at its bound
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			defer func() { <-sem }()
			s.answerTCP(c, &wmu, wire, base)
		}()
	}
	inflight.Wait()
}

func (s *Server) answerTCP(c net.Conn, wmu *sync.Mutex, wire []byte, base resolver.Request) {
	req := &base
	buf := make([]byte, 2, 512) // the length prefix, then the answer
	frame, ok := s.replay(req, wire, buf)
	if ok {
		frontend.SetLength(frame) // replayed answers are small
	} else {
		_, resp := s.resolve(s.ctx, wire, req)
		if resp == nil {
			return
		}
		resp.Compress = true
		var err error
		if frame, err = frontend.Pack(resp, buf); err != nil {
			s.cfg.Logger.Warn("plain: cannot pack answer", "err", err)
			return
		}
		s.sent(req, wire, frame[2:])
	}
	wmu.Lock()
	defer wmu.Unlock()
	c.SetWriteDeadline(time.Now().Add(s.cfg.TCPIdleTimeout))
	c.Write(frame)
}

// trackConn makes Shutdown able to end c's read loop (in-flight answers are
// still written) and a forced stop able to close it. The returned func
// forgets c.
func (s *Server) trackConn(c net.Conn) func() {
	stopDrain := context.AfterFunc(s.draining, func() { c.SetReadDeadline(time.Now()) })
	stopKill := context.AfterFunc(s.ctx, func() { c.Close() })
	return func() { stopDrain(); stopKill() }
}
