package h2

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"time"

	"github.com/dnsward/dnsward/doh/internal/httpmsg"
	"golang.org/x/net/http2"
)

// errBodyTimeout fails the body read of a request whose body did not
// arrive within ReadTimeout.
var errBodyTimeout = errors.New("doh: request body not received in time: " + os.ErrDeadlineExceeded.Error())

// h2Stream is one request and its answer. Streams are recycled per
// connection (with their request, header maps, context and buffers) once
// both the reader and the handler are done with them. Fields without a note
// are guarded by the connection's mu.
type h2Stream struct {
	c  *h2Conn
	id uint32

	recycled     bool      // in c.free
	inMap        bool      // open in c.streams
	running      bool      // its handler is in flight
	queued       bool      // in c.queue
	parked       bool      // in c.blocked
	parkedAt     time.Time // when the answer first waited for window
	remoteClosed bool      // END_STREAM received
	localClosed  bool      // END_STREAM or RST_STREAM sent
	awaitingBody bool      // the handler waits for the body
	bodyDeadline time.Time
	bodyLen      int64 // DATA bytes received
	sendWindow   int32
	recvWindow   int32
	pending      []byte // answer DATA not yet sent

	// Owned by the handler while running.
	req    *http.Request
	url    url.URL
	fields httpmsg.Fields // the request's regular fields and content-length
	body   httpmsg.Body
	rw     httpmsg.Response
	ctx    *streamCtx
}

// newStreamLocked takes a recycled stream or makes one.
func (c *h2Conn) newStreamLocked(id uint32) *h2Stream {
	var s *h2Stream
	if n := len(c.free); n > 0 {
		s, c.free = c.free[n-1], c.free[:n-1]
	} else {
		s = &h2Stream{c: c, fields: httpmsg.NewFields(), rw: httpmsg.Response{Hdr: http.Header{}}, req: &http.Request{}}
	}
	if s.ctx == nil {
		s.ctx = &streamCtx{parent: c.ctx, key: c.srv.cfg.StateKey, state: c.srv.cfg.NewState(c.ctx, c.remote)}
		s.req = s.req.WithContext(s.ctx)
	}
	s.id, s.recycled = id, false
	s.sendWindow, s.recvWindow = c.peerWindow, h2StreamWindow
	return s
}

// releaseLocked recycles s once nothing refers to it any more.
func (c *h2Conn) releaseLocked(s *h2Stream) {
	if s.inMap || s.running || s.queued || s.recycled {
		return
	}
	s.recycled = true
	s.reset()
	if !c.closed {
		c.free = append(c.free, s)
	}
}

// reset clears s for its next request, dropping buffers that grew large.
func (s *h2Stream) reset() {
	s.remoteClosed, s.localClosed, s.awaitingBody, s.parked = false, false, false, false
	s.bodyLen, s.pending, s.parkedAt = 0, nil, time.Time{}
	s.fields.Reset()
	s.body.Reset()
	s.rw.Reset()
	if !s.ctx.reusable() {
		s.ctx = nil
	}
	r := s.req
	r.Header, r.Body, r.URL, r.TLS, r.Trailer, r.Form, r.PostForm, r.MultipartForm = nil, nil, nil, nil, nil, nil, nil, nil
}

// removeLocked closes s on both sides: it leaves the open streams, and a
// handler still running sees its context cancelled.
func (c *h2Conn) removeLocked(s *h2Stream) {
	if !s.inMap {
		return
	}
	delete(c.streams, s.id)
	s.inMap = false
	c.bodyDoneLocked(s)
	if s.parked {
		for i, b := range c.blocked {
			if b == s {
				c.blocked = append(c.blocked[:i], c.blocked[i+1:]...)
				break
			}
		}
		s.parked = false
	}
	if s.running {
		s.ctx.cancel()
	}
	if c.idleLocked() {
		c.idleAt = time.Time{} // idle from here: armLocked starts the clock
	}
	c.releaseLocked(s)
}

// bodyDoneLocked notes that s no longer waits for its request body.
func (c *h2Conn) bodyDoneLocked(s *h2Stream) {
	if s.awaitingBody {
		s.awaitingBody = false
		c.bodyWaiting--
	}
}

// startLocked runs s's handler, or queues it while MaxStreams handlers are
// in flight (streams reset by the client keep their handler's slot until
// it returns). A queue of 4×MaxStreams ends the connection.
func (c *h2Conn) startLocked(s *h2Stream) error {
	c.bodyDoneLocked(s)
	s.body.Prepare(s.req)
	if c.running >= c.srv.cfg.MaxStreams {
		if len(c.queue) >= 4*c.srv.cfg.MaxStreams {
			return connError(http2.ErrCodeEnhanceYourCalm, "queue_full")
		}
		c.queue = append(c.queue, s)
		s.queued = true
		return nil
	}
	c.runLocked(s)
	return nil
}

func (c *h2Conn) runLocked(s *h2Stream) {
	c.running++
	s.running = true
	if !c.srv.cfg.Dispatch(s) {
		go s.Run()
	}
}

// startQueuedLocked runs queued requests while handler slots are free;
// those reset meanwhile are dropped unrun.
func (c *h2Conn) startQueuedLocked() {
	for len(c.queue) > 0 && c.running < c.srv.cfg.MaxStreams {
		s := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		s.queued = false
		if s.inMap {
			c.runLocked(s)
		} else {
			c.releaseLocked(s)
		}
	}
	if len(c.queue) == 0 {
		c.queue = c.queue[:0:0]
	}
}

// Run serves the request on a worker and answers it.
func (s *h2Stream) Run() {
	ok := false
	defer func() {
		if !ok {
			p := recover()
			if p != http.ErrAbortHandler {
				s.c.srv.cfg.Logger.Error("doh: panic serving HTTP/2 request", "panic", p, "stack", string(debug.Stack()))
			}
		}
		s.c.finish(s, ok)
	}()
	s.c.srv.cfg.Handler.ServeHTTP(&s.rw, s.req)
	ok = true
}

// finish writes s's answer (or resets it after a panic) unless the client
// reset it, frees the handler slot and flushes if the reader is blocked.
func (c *h2Conn) finish(s *h2Stream, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running--
	s.running = false
	switch {
	case !s.inMap || c.closed:
	case ok:
		c.writeAnswerLocked(s, time.Now())
	default:
		_ = c.fr.WriteRSTStream(s.id, http2.ErrCodeInternal)
		c.removeLocked(s)
	}
	c.releaseLocked(s)
	if c.closed {
		return
	}
	c.startQueuedLocked()
	if c.readerIdle {
		c.flushSoonLocked()
		switch {
		case c.doneLocked():
			c.kickLocked()
		case c.idleLocked():
			c.armLocked(time.Now())
		}
	}
}

// build fills s's request from the HEADERS of a new stream (RFC 9113 §8.3.1).
func (s *h2Stream) build(f *http2.MetaHeadersFrame) error {
	var method, path, scheme, authority string
	for _, hf := range f.PseudoFields() {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":path":
			path = hf.Value
		case ":scheme":
			scheme = hf.Value
		case ":authority":
			authority = hf.Value
		default: // :protocol: extended CONNECT is not offered
			return streamError(s.id, http2.ErrCodeProtocol, "bad_pseudo_header")
		}
	}
	if why := httpmsg.CheckPseudo(method, scheme, path, authority); why != "" {
		return streamError(s.id, http2.ErrCodeProtocol, why)
	}
	for _, hf := range f.RegularFields() {
		if why := s.fields.Add(hf.Name, hf.Value); why != "" {
			return streamError(s.id, http2.ErrCodeProtocol, why)
		}
	}
	r := s.req
	if why := s.fields.Fill(r, &s.url, method, path, authority); why != "" {
		return streamError(s.id, http2.ErrCodeProtocol, why)
	}
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	r.RemoteAddr, r.TLS = s.c.remote, s.c.tls
	if f.StreamEnded() {
		r.ContentLength = 0
	}
	s.rw.Head = method == http.MethodHead
	return nil
}
