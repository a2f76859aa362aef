package h3

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/doq"
)

// keepIdle is how many recycled requests a connection keeps once it has
// been idle for trimAfter. Until then it keeps every one: under load a
// connection's requests in flight often fall to none for a moment, and
// trimming then made most requests allocate their state afresh (25–29 against
// 21–23 µs of server CPU per DoH/3 query, bench/quic/run.sh's load).
const (
	keepIdle  = 4
	trimAfter = time.Second
)

// conn is one HTTP/3 connection: one goroutine accepts its request
// streams and hands each to a worker, which reads it, runs the handler and
// answers; another goroutine reads the client's unidirectional streams.
type conn struct {
	srv    *Server
	qc     *quic.Conn
	ctx    context.Context // qc's, with net/http's LocalAddrContextKey
	local  net.Addr
	tls    *tls.ConnectionState
	remote string
	out    *doq.BatchWriter // writes the small answers
	ctrl   *quic.SendStream // our control stream
	accept context.Context  // the accept loop's: cancelled to end it
	stop   context.CancelFunc

	mu        sync.Mutex
	free      []*request
	active    int           // requests being served
	nextID    quic.StreamID // one past the highest request stream accepted
	goingAway bool          // GOAWAY sent: streams from nextID on are refused
	closing   bool          // the accept loop is ending: idle, or drained after GOAWAY
	idle      *time.Timer
	trim      *time.Timer // drops the recycled requests past keepIdle once idle for trimAfter
	requests  sync.WaitGroup
}

func newConn(s *Server, qc *quic.Conn) *conn {
	st := qc.ConnectionState().TLS
	c := &conn{srv: s, qc: qc, local: qc.LocalAddr(), tls: &st, remote: qc.RemoteAddr().String()}
	c.ctx = context.WithValue(qc.Context(), http.LocalAddrContextKey, c.local)
	c.accept, c.stop = context.WithCancel(qc.Context())
	return c
}

// serve runs the connection until it ends.
func (c *conn) serve() {
	ctrl, err := c.qc.OpenUniStream()
	if err == nil {
		_, err = ctrl.Write(c.srv.settings)
	}
	if err != nil {
		c.qc.CloseWithError(codeInternal, "")
		return
	}
	c.mu.Lock()
	c.ctrl = ctrl
	c.idle = time.AfterFunc(c.srv.cfg.IdleTimeout, c.idleOut)
	c.trim = time.AfterFunc(trimAfter, c.trimFree)
	c.trim.Stop()
	if c.goingAway { // Shutdown came first
		c.goingAway = false
		c.goAwayLocked()
	}
	c.mu.Unlock()
	c.out = doq.NewBatchWriter(codeRequestCancelled)
	go c.acceptUni()
	for {
		str, err := c.qc.AcceptStream(c.accept)
		if err != nil {
			break
		}
		r := c.admit(str)
		if r == nil {
			resetStream(str, codeRequestRejected)
			continue
		}
		if !c.srv.cfg.Dispatch(r) {
			go r.Run()
		}
	}
	c.requests.Wait()
	c.out.Close()
	c.mu.Lock()
	graceful := c.closing
	c.idle.Stop()
	c.trim.Stop()
	c.mu.Unlock()
	if graceful {
		doq.Linger(c.qc, c.srv.closed)
		c.qc.CloseWithError(codeNoError, "")
	}
}

// admit takes a request stream in, or returns nil when the connection is
// going away and the stream came after the GOAWAY's ID.
func (c *conn) admit(str *quic.Stream) *request {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := str.StreamID()
	if c.closing || c.goingAway && id >= c.nextID {
		return nil
	}
	c.nextID = max(c.nextID, id+4)
	c.active++
	if c.active == 1 {
		c.idle.Stop()
		c.trim.Stop()
	}
	c.requests.Add(1)
	var r *request
	if n := len(c.free); n > 0 {
		r, c.free = c.free[n-1], c.free[:n-1]
	} else {
		r = newRequest(c)
	}
	r.str = str
	return r
}

// done recycles r once its answer is on its way.
func (c *conn) done(r *request) {
	r.reset()
	c.mu.Lock()
	c.free = append(c.free, r)
	c.active--
	if c.active == 0 {
		c.trim.Reset(trimAfter)
		if c.goingAway {
			c.closeLocked()
		} else {
			c.idle.Reset(c.srv.cfg.IdleTimeout)
		}
	}
	c.mu.Unlock()
	c.requests.Done()
}

// trimFree leaves an idle connection a few requests' state, not a burst's.
func (c *conn) trimFree() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active == 0 {
		clear(c.free[min(len(c.free), keepIdle):])
		c.free = c.free[:min(len(c.free), keepIdle)]
	}
}

// idleOut ends a connection that has had no request for IdleTimeout with
// GOAWAY first, so that a request racing the timer is either answered or,
// past the GOAWAY's ID, known to the client as unprocessed (RFC 9114 §5.2).
func (c *conn) idleOut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active == 0 {
		c.goAwayLocked()
	}
}

// goAway sends GOAWAY (RFC 9114 §5.2): requests already accepted are
// answered, later ones refused, and the connection closes when none is left.
func (c *conn) goAway() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.goAwayLocked()
}

func (c *conn) goAwayLocked() {
	if c.goingAway || c.ctrl == nil { // without a control stream yet, serve sends it
		c.goingAway = true
		return
	}
	c.goingAway = true
	_, _ = c.ctrl.Write(goAwayFrame(c.nextID))
	if c.active == 0 {
		c.closeLocked()
	}
}

// closeLocked ends the accept loop; serve then closes the connection.
func (c *conn) closeLocked() {
	c.closing = true
	c.stop()
}

// fail closes the connection on a connection error.
func (c *conn) fail(err error) {
	code, _ := errorCode(err)
	var he *h3Error
	if errors.As(err, &he) {
		c.srv.cfg.Logger.Debug("doh: HTTP/3 connection error", "reason", he.reason)
	}
	c.qc.CloseWithError(quic.ApplicationErrorCode(code), "")
}
