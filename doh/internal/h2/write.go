package h2

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// h2ResponseWriter collects a handler's answer; when the handler returns it
// leaves as one HEADERS frame and its DATA, the last with END_STREAM.
type h2ResponseWriter struct {
	hdr    http.Header
	status int
	body   []byte
	head   bool // a HEAD request: no body goes out

	// A DNS answer's headers, set by WriteAnswer instead of hdr entries.
	answer      bool
	contentType string
	maxAge      int64 // Cache-Control max-age, or no-store when negative
}

// Header returns the response header map.
func (w *h2ResponseWriter) Header() http.Header { return w.hdr }

// WriteHeader sets the status; informational (1xx) statuses are not sent.
func (w *h2ResponseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("doh: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}

// Write adds to the body.
func (w *h2ResponseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		return 0, http.ErrBodyNotAllowed
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// WriteAnswer takes a 200 answer with its Content-Type and Cache-Control
// max-age (no-store when negative), encoded without header-map entries.
func (w *h2ResponseWriter) WriteAnswer(contentType string, maxAge int64, body []byte) {
	w.status, w.answer, w.contentType, w.maxAge = http.StatusOK, true, contentType, maxAge
	w.body = append(w.body, body...)
}

// refuse answers status with a short plain-text reason.
func (w *h2ResponseWriter) refuse(status int, msg string) {
	w.hdr["Content-Type"] = []string{"text/plain; charset=utf-8"}
	w.hdr["X-Content-Type-Options"] = []string{"nosniff"}
	w.hdr["Cache-Control"] = []string{"no-store"}
	w.status = status
	w.body = append(append(w.body, msg...), '\n')
}

func (w *h2ResponseWriter) reset() {
	clear(w.hdr)
	w.status, w.body, w.head, w.answer = 0, trimBuf(w.body), false, false
}

// writeAnswerLocked encodes s's answer, dated now: HEADERS, then the body
// as DATA within the client's flow-control windows.
func (c *h2Conn) writeAnswerLocked(s *h2Stream, now time.Time) {
	w := &s.rw
	if w.status == 0 {
		w.status = http.StatusOK
	}
	body := w.body
	if w.head {
		body = nil
	}
	c.writeHeaderBlockLocked(s.id, c.headerBlockLocked(w, now), len(body) == 0)
	if len(body) == 0 {
		c.localDoneLocked(s)
		return
	}
	s.pending = body
	c.sendDataLocked(s)
}

// headerBlockLocked HPACK-encodes w's status and header fields. A DNS
// answer's fields come first, from values; header-map fields are indexed in
// the dynamic table (their values repeat across responses) except a
// content-length, which changes with every answer.
func (c *h2Conn) headerBlockLocked(w *h2ResponseWriter, now time.Time) []byte {
	b := c.enc.begin(c.hblock[:0])
	b = c.enc.status(b, w.status)
	if w.answer {
		b = c.enc.field(b, "content-type", w.contentType, true)
		c.scratch = appendCacheControl(c.scratch[:0], w.maxAge)
		b = c.enc.literal(b, "cache-control", c.scratch)
	}
	hasLength, hasDate := false, false
	for k, vv := range w.hdr {
		name := lowerKey(k)
		switch name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			continue
		case "content-length":
			hasLength = true
		case "date":
			hasDate = true
		}
		for _, v := range vv {
			b = c.enc.field(b, name, v, name != "content-length")
		}
	}
	if !hasLength {
		c.scratch = strconv.AppendInt(c.scratch[:0], int64(len(w.body)), 10)
		b = c.enc.literal(b, "content-length", c.scratch)
	}
	if !hasDate {
		b = c.enc.field(b, "date", httpDate(now), true)
	}
	c.hblock = b
	return b
}

// writeHeaderBlockLocked writes a header block as HEADERS and, beyond the
// client's MAX_FRAME_SIZE, CONTINUATION frames.
func (c *h2Conn) writeHeaderBlockLocked(id uint32, block []byte, endStream bool) {
	typ, flags := http2.FrameHeaders, http2.Flags(0)
	if endStream {
		flags = http2.FlagHeadersEndStream
	}
	for {
		frag := block[:min(len(block), c.peerFrame)]
		block = block[len(frag):]
		if len(block) == 0 {
			flags |= http2.FlagHeadersEndHeaders
		}
		c.appendFrame(typ, flags, id, frag)
		if len(block) == 0 {
			return
		}
		typ, flags = http2.FrameContinuation, 0
	}
}

// appendFrame appends a frame (RFC 9113 §4.1) to the output: the answers'
// HEADERS and DATA go out this way, without the Framer's copy.
func (c *h2Conn) appendFrame(typ http2.FrameType, flags http2.Flags, id uint32, payload []byte) {
	n := len(payload)
	c.out = append(c.out, byte(n>>16), byte(n>>8), byte(n), byte(typ), byte(flags),
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	c.out = append(c.out, payload...)
}

// sendDataLocked writes as much of s's pending answer as both send windows
// allow; the rest waits in c.blocked for WINDOW_UPDATE.
func (c *h2Conn) sendDataLocked(s *h2Stream) {
	for len(s.pending) > 0 {
		n := min(len(s.pending), c.peerFrame, int(s.sendWindow), int(c.sendWindow))
		if n <= 0 {
			if !s.parked {
				s.parked = true
				c.blocked = append(c.blocked, s)
			}
			if s.parkedAt.IsZero() {
				s.parkedAt = time.Now()
			}
			return
		}
		chunk := s.pending[:n]
		s.pending = s.pending[n:]
		s.sendWindow -= int32(n)
		c.sendWindow -= int32(n)
		var flags http2.Flags
		if len(s.pending) == 0 {
			flags = http2.FlagDataEndStream
		}
		c.appendFrame(http2.FrameData, flags, s.id, chunk)
	}
	c.localDoneLocked(s)
}

// sendBlockedLocked resumes answers that waited for window.
func (c *h2Conn) sendBlockedLocked() {
	if len(c.blocked) == 0 || c.sendWindow <= 0 {
		return
	}
	waiting := c.blocked
	c.blocked = nil
	for _, s := range waiting {
		s.parked = false
	}
	for _, s := range waiting {
		if s.inMap && len(s.pending) > 0 {
			c.sendDataLocked(s)
		}
	}
}

// expireParkedLocked resets the answers that waited for window longer than
// the write timeout: a client that never grants window must not hold them
// (and their memory) for the connection's life.
func (c *h2Conn) expireParkedLocked(now time.Time) {
	for _, s := range slices.Clone(c.blocked) {
		if now.Sub(s.parkedAt) >= c.srv.cfg.WriteTimeout {
			c.srv.cfg.CountError("stream_CANCEL_flow_control_stalled")
			_ = c.fr.WriteRSTStream(s.id, http2.ErrCodeCancel)
			c.removeLocked(s)
		}
	}
}

// parkedDeadline is when the longest-waiting parked answer expires; zero if none.
func (c *h2Conn) parkedDeadline() time.Time {
	var d time.Time
	for _, s := range c.blocked {
		if e := s.parkedAt.Add(c.srv.cfg.WriteTimeout); d.IsZero() || e.Before(d) {
			d = e
		}
	}
	return d
}

// localDoneLocked ends our side of s; a client still sending its request
// is told to stop (RFC 9113 §8.1: RST_STREAM NO_ERROR after a full answer).
func (c *h2Conn) localDoneLocked(s *h2Stream) {
	s.localClosed = true
	if !s.remoteClosed {
		c.resetAfter = append(c.resetAfter, s.id)
	}
	c.removeLocked(s)
}

// appendCacheControl appends the Cache-Control value for maxAge.
func appendCacheControl(b []byte, maxAge int64) []byte {
	if maxAge < 0 {
		return append(b, "no-store"...)
	}
	return strconv.AppendInt(append(b, "max-age="...), maxAge, 10)
}

// lowerKey is HTTP/2's lower-case form of a header name the handler set,
// without allocating for the names it sets.
func lowerKey(k string) string {
	switch k {
	case "Access-Control-Allow-Origin":
		return "access-control-allow-origin"
	case "Allow":
		return "allow"
	case "Alt-Svc":
		return "alt-svc"
	case "Cache-Control":
		return "cache-control"
	case "Content-Length":
		return "content-length"
	case "Content-Type":
		return "content-type"
	case "Date":
		return "date"
	case "Vary":
		return "vary"
	case "X-Content-Type-Options":
		return "x-content-type-options"
	}
	return strings.ToLower(k)
}

// dateCache holds the Date header of the current second.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	sec int64
	val string
}

// httpDate is the Date header value for now.
func httpDate(now time.Time) string {
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.val
	}
	d := &cachedDate{now.Unix(), now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.val
}
