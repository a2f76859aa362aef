package h2

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/dnsward/dnsward/doh/internal/httpmsg"
	"github.com/dnsward/dnsward/internal/readahead"
)

// Sizes and windows of the HTTP/2 engine.
const (
	h2ReadBuf      = 32 << 10 // bufio size in front of the TLS connection
	h2StreamWindow = 65535    // our INITIAL_WINDOW_SIZE: one maximal DoH body
	h2ConnWindow   = 1 << 20  // our connection receive window
	h2FlushAt      = 64 << 10 // flush once this much output has piled up
	h2MaxOut       = 1 << 20  // the reader waits for the writer beyond this
	h2CloseDrain   = time.Second
	h2FlushDelay   = 200 * time.Microsecond // the longest an answer waits for others to share its write
	// h2MaxControl bounds the control frames (PING and SETTINGS
	// acknowledgements, RST_STREAM) queued in answer to a client and not
	// yet written, as x/net's maxQueuedControlFrames does: a client that
	// sends them faster than it reads their answers is flooding.
	h2MaxControl = 10000
	// h2AsyncControl control frames in one batch make the reader hand the
	// write to a goroutine (readerFlushLocked).
	h2AsyncControl = 100
)

// h2Conn is one HTTP/2 connection. A single reader goroutine (the one
// net/http hands the connection to) reads and processes frames; requests run
// on workers. Every frame written goes into out under mu and leaves in
// batches: the reader flushes before it blocks in a read, and a handler that
// completes while the reader is blocked flushes itself. Whoever flushes
// writes until out is empty, so others only append: what piles up during
// one write leaves as one TLS record and one syscall.
type h2Conn struct {
	srv    *Server
	nc     net.Conn
	br     *bufio.Reader
	fr     *http2.Framer
	hb     *headerBlock // the request header block being read
	ctx    context.Context
	tls    *tls.ConnectionState
	remote string

	mu         sync.Mutex
	wcond      sync.Cond // a write ended
	out, spare []byte    // frames not yet written; the buffer of the last write
	writing    bool      // a goroutine is writing out
	// Streams answered while the client still sends its request: each is
	// reset (NO_ERROR, RFC 9113 §8.1) in a write after its answer's, so that
	// a client reads the answer before the reset (curl 7.88 loses the
	// status otherwise). Their DATA is ignored until then.
	resetAfter   []uint32 // answers in out
	resetWriting []uint32 // answers in the write under way
	ctlOut       int      // control frames in out (h2MaxControl)
	ctlWriting   int      // control frames in the write under way
	asyncFlush   bool     // a goroutine started by readerFlushLocked is to write
	werr         error
	readerIdle   bool // the reader is blocked in a read (or gone): completions flush
	flushTimer   *time.Timer
	timerArmed   bool
	kicked       bool      // the reader's deadline was moved to wake it
	idleAt       time.Time // when an idle connection ends; zero: from the reader's next wait
	readAt       time.Time // when the reader last stopped waiting, for input or for the writer (reader only)
	closed       bool
	goingAway    bool   // GOAWAY sent (or to send): no new streams
	goAwayID     uint32 // the last stream ID the first GOAWAY named
	peerAway     bool   // the client sent GOAWAY
	sawPreface   bool   // the client's SETTINGS arrived

	enc     *hpackEncoder
	hblock  []byte          // the response header block being encoded
	scratch []byte          // a response header value being formatted
	fields  []httpmsg.Field // a response's header-map fields being encoded

	streams     map[uint32]*h2Stream // streams the client sees open
	lastID      uint32               // highest client stream ID seen
	blocked     []*h2Stream          // answers waiting for flow-control window
	queue       []*h2Stream          // requests waiting for a handler slot
	running     int                  // handlers in flight
	bodyWaiting int                  // streams still receiving a request body
	free        []*h2Stream

	sendWindow  int32 // the client's connection window for our DATA
	peerWindow  int32 // the client's INITIAL_WINDOW_SIZE
	peerFrame   int   // the client's MAX_FRAME_SIZE
	recvWindow  int32 // our connection window left for the client's DATA
	recvUnacked int32 // DATA consumed but not yet returned by WINDOW_UPDATE

	opened, resets int // streams opened and reset early by the client, decaying
}

func newH2Conn(s *Server, ctx context.Context, nc net.Conn, st *tls.ConnectionState) *h2Conn {
	c := &h2Conn{
		srv:        s,
		nc:         nc,
		br:         bufio.NewReaderSize(nc, h2ReadBuf),
		ctx:        ctx,
		tls:        st,
		remote:     nc.RemoteAddr().String(),
		streams:    map[uint32]*h2Stream{},
		sendWindow: 65535,
		peerWindow: 65535,
		peerFrame:  16384,
	}
	c.wcond.L = &c.mu
	c.fr = http2.NewFramer(frameSink{c}, c.br)
	c.hb = newHeaderBlock(uint32(s.cfg.MaxHeaderBytes))
	c.fr.SetReuseFrames()
	c.fr.SetMaxReadFrameSize(16384) // the default MAX_FRAME_SIZE we advertise
	c.enc = newHPACKEncoder()
	return c
}

// frameSink is the Framer's writer: frames go into out (mu held).
type frameSink struct{ c *h2Conn }

// Write appends p to the connection's output.
func (f frameSink) Write(p []byte) (int, error) {
	f.c.out = append(f.c.out, p...)
	return len(p), nil
}

// serve runs the connection until it ends, then closes it down.
func (c *h2Conn) serve() {
	defer c.close()
	c.mu.Lock()
	_ = c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: uint32(c.srv.cfg.MaxStreams)},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: uint32(c.srv.cfg.MaxHeaderBytes)},
	)
	_ = c.fr.WriteWindowUpdate(0, h2ConnWindow-65535)
	c.recvWindow = h2ConnWindow
	if c.goingAway { // the server is shutting down already
		_ = c.fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	}
	c.flushLocked()
	c.mu.Unlock()
	if c.tls != nil && c.tls.Version < tls.VersionTLS12 {
		c.fail(connError(http2.ErrCodeInadequateSecurity, "tls_version"))
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.ReadTimeout))
	var preface [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(c.br, preface[:]); err != nil || string(preface[:]) != http2.ClientPreface {
		c.srv.cfg.CountError("conn_PROTOCOL_ERROR_bad_preface")
		return
	}
	c.readAt = time.Now()
	for {
		for !c.frameBuffered() && !readahead.Fill(c.nc, c.br, c.frameBuffered) {
			if !c.waitInput() {
				return
			}
		}
		fh, err := c.fr.ReadFrameHeader() // checks the size and the CONTINUATION order
		var f http2.Frame
		var hp headersPayload
		switch {
		case err != nil:
		case fh.Type == http2.FrameHeaders:
			hp, err = c.readHeadersPayload(fh)
		default:
			f, err = c.fr.ReadFrameForHeader(fh)
		}
		c.mu.Lock()
		if err == nil {
			err = c.processLocked(fh, f, hp)
		} else {
			err = c.readError(fh, err)
		}
		if err != nil {
			err = c.handleLocked(err)
		}
		stop := err != nil || c.doneLocked()
		c.backpressureLocked()
		c.mu.Unlock()
		if stop {
			return
		}
	}
}

// frameBuffered reports whether the next frame is buffered whole (or its
// header, for a frame too large for the buffer, which the Framer refuses
// without reading on), so that reading it cannot block.
func (c *h2Conn) frameBuffered() bool { return c.br.Buffered() >= c.frameNeed() }

// frameNeed is how many buffered bytes frameBuffered wants.
func (c *h2Conn) frameNeed() int {
	if c.br.Buffered() < 9 {
		return 9
	}
	h, _ := c.br.Peek(9)
	if n := 9 + (int(h[0])<<16 | int(h[1])<<8 | int(h[2])); n <= h2ReadBuf {
		return n
	}
	return 9
}

// waitInput flushes, then waits for a whole frame under the idle or
// request-body deadline; a timeout leaves the partial frame buffered.
// It reports false when the connection is to end.
func (c *h2Conn) waitInput() bool {
	c.mu.Lock()
	c.readerIdle = true
	c.readerFlushLocked()
	if c.doneLocked() {
		c.mu.Unlock()
		return false
	}
	if !c.kicked {
		c.armLocked(time.Now())
	}
	c.kicked = false
	c.mu.Unlock()
	var err error
	for err == nil && !c.frameBuffered() {
		_, err = c.br.Peek(c.frameNeed())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readerIdle = false
	c.readAt = time.Now()
	if err != nil {
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return false
		}
		now := c.readAt
		c.expireParkedLocked(now)
		if c.bodyWaiting > 0 {
			if err := c.expireBodiesLocked(now); err != nil {
				_ = c.handleLocked(err)
				return false
			}
		}
		if c.idleLocked() && !c.idleAt.IsZero() && !now.Before(c.idleAt) {
			c.goAwayLocked(http2.ErrCodeNo)
			return false
		}
	}
	return !c.doneLocked()
}

// armLocked sets the read deadline: IdleTimeout from now, or the earliest
// request-body or parked-answer deadline when that comes first.
func (c *h2Conn) armLocked(now time.Time) {
	if !c.idleLocked() || c.idleAt.IsZero() {
		c.idleAt = now.Add(c.srv.cfg.IdleTimeout) // idle time counts from the last stream's end only
	}
	d := c.idleAt
	if p := c.parkedDeadline(); !p.IsZero() && p.Before(d) {
		d = p
	}
	if c.bodyWaiting > 0 {
		for _, s := range c.streams {
			if s.awaitingBody && s.bodyDeadline.Before(d) {
				d = s.bodyDeadline
			}
		}
	}
	_ = c.nc.SetReadDeadline(d)
}

// kickLocked wakes the reader from its read so it looks at the state again.
func (c *h2Conn) kickLocked() {
	c.kicked = true
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
}

// idleLocked reports whether no stream is open.
func (c *h2Conn) idleLocked() bool { return len(c.streams) == 0 && c.running == 0 }

// doneLocked reports whether the connection is to end: closed, broken, or
// going away with nothing left open.
func (c *h2Conn) doneLocked() bool {
	return c.closed || c.werr != nil || ((c.goingAway || c.peerAway) && len(c.streams) == 0)
}

// backpressureLocked flushes a large backlog and, while a writer is stuck
// on a client that does not read, stops reading more from it.
func (c *h2Conn) backpressureLocked() {
	if len(c.out) >= h2FlushAt {
		c.readerFlushLocked()
	}
	waited := false
	for (c.writing || c.asyncFlush) && len(c.out) >= h2MaxOut && c.werr == nil {
		c.wcond.Wait()
		waited = true
	}
	if waited { // what is read next is dated from now
		c.readAt = time.Now()
	}
}

// readerFlushLocked is the reader's flush. The reader writes itself,
// except output with h2AsyncControl control frames or more, which a
// goroutine writes while the reader goes on reading: a client that floods
// control frames and does not read their answers then meets h2MaxControl
// at once, instead of holding the reader in a write until WriteTimeout.
func (c *h2Conn) readerFlushLocked() {
	switch {
	case c.asyncFlush:
	case c.ctlOut < h2AsyncControl || c.writing:
		c.flushLocked()
	default:
		c.asyncFlush = true
		go func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.asyncFlush = false
			c.flushLocked()
			c.wcond.Broadcast() // for backpressureLocked, should flushLocked have left it to another writer
		}()
	}
}

// flushLocked writes out unless another goroutine is writing (it will take
// what was appended). mu is released during the write.
func (c *h2Conn) flushLocked() {
	if c.writing || c.werr != nil {
		return
	}
	c.writing = true
	for len(c.out) > 0 && c.werr == nil {
		out := c.out
		c.out = c.spare[:0]
		c.resetWriting, c.resetAfter = c.resetAfter, c.resetWriting[:0]
		c.ctlWriting, c.ctlOut = c.ctlOut, 0
		timeout := c.srv.cfg.WriteTimeout
		if c.closed {
			timeout = h2CloseDrain
		}
		c.mu.Unlock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
		_, err := c.nc.Write(out)
		c.mu.Lock()
		if err != nil {
			c.werr = err
			if !c.closed {
				c.kickLocked() // the reader ends the connection
			}
		}
		if err == nil {
			for _, id := range c.resetWriting {
				_ = c.fr.WriteRSTStream(id, http2.ErrCodeNo)
			}
		}
		c.resetWriting, c.ctlWriting = c.resetWriting[:0], 0
		if cap(out) <= h2MaxOut {
			c.spare = out[:0]
		}
	}
	c.writing = false
	c.wcond.Broadcast()
}

// flushSoonLocked flushes for a handler that completed while the reader is
// blocked. The last handler in flight flushes at once; while others still
// run, their answers likely follow within microseconds and share the write,
// so the flush waits for them, at most h2FlushDelay (a slow upstream query
// never holds up the others longer than that).
func (c *h2Conn) flushSoonLocked() {
	if c.running == 0 {
		c.flushLocked()
		return
	}
	if c.timerArmed {
		return
	}
	c.timerArmed = true
	if c.flushTimer == nil {
		c.flushTimer = time.AfterFunc(h2FlushDelay, c.timedFlush)
	} else {
		c.flushTimer.Reset(h2FlushDelay)
	}
}

// timedFlush is flushSoonLocked's timer.
func (c *h2Conn) timedFlush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timerArmed = false
	if c.readerIdle && !c.closed {
		c.flushLocked()
	}
}

// controlLocked counts a control frame queued in answer to the client; a
// client past h2MaxControl unwritten ones is told to calm down.
func (c *h2Conn) controlLocked() error {
	c.ctlOut++
	if c.ctlOut+c.ctlWriting > h2MaxControl {
		return connError(http2.ErrCodeEnhanceYourCalm, "control_frame_flood")
	}
	return nil
}

// shutdown starts a graceful close: GOAWAY now, close once open streams
// are answered.
func (c *h2Conn) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.goingAway {
		c.goingAway = true
		return
	}
	c.goAwayLocked(http2.ErrCodeNo)
	c.flushLocked()
	if c.readerIdle { // a busy reader checks doneLocked before it waits again
		c.kickLocked()
	}
}

// goAwayLocked queues a GOAWAY naming the last stream that will be served:
// the last one seen when the first GOAWAY went out (later ones never name
// more, RFC 9113 §6.8).
func (c *h2Conn) goAwayLocked(code http2.ErrCode) {
	if c.goingAway && code == http2.ErrCodeNo {
		return
	}
	if !c.goingAway {
		c.goingAway, c.goAwayID = true, c.lastID
	}
	_ = c.fr.WriteGoAway(c.goAwayID, code, nil)
}

// fail ends the connection with GOAWAY for a connection error.
func (c *h2Conn) fail(err error) {
	c.mu.Lock()
	_ = c.handleLocked(err)
	c.mu.Unlock()
}

// close cancels what is still open and sends what is buffered (a GOAWAY,
// say) for at most h2CloseDrain; net/http closes the connection after.
func (c *h2Conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.readerIdle = true
	if c.flushTimer != nil {
		c.flushTimer.Stop()
	}
	for _, s := range c.streams {
		c.removeLocked(s)
	}
	for _, s := range c.queue {
		s.queued = false
		c.releaseLocked(s)
	}
	c.queue = nil
	_ = c.nc.SetWriteDeadline(time.Now().Add(h2CloseDrain))
	for c.writing {
		c.wcond.Wait()
	}
	c.flushLocked()
}
