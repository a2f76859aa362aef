package h2

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/dnsward/dnsward/doh/internal/httpmsg"
	"golang.org/x/net/http2"
)

// writeAnswerLocked encodes s's answer, dated now: HEADERS, then the body
// as DATA within the client's flow-control windows.
func (c *h2Conn) writeAnswerLocked(s *h2Stream, now time.Time) {
	w := &s.rw
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	body := w.Body
	if w.Head {
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
func (c *h2Conn) headerBlockLocked(w *httpmsg.Response, now time.Time) []byte {
	b := c.enc.begin(c.hblock[:0])
	b = c.enc.status(b, w.Status)
	if w.Answer {
		b = c.enc.field(b, "content-type", w.ContentType, true)
		c.scratch = httpmsg.AppendCacheControl(c.scratch[:0], w.MaxAge)
		b = c.enc.literal(b, "cache-control", c.scratch)
	}
	fields, hasLength, hasDate := w.AppendFields(c.fields[:0])
	for _, f := range fields {
		b = c.enc.field(b, f.Name, f.Value, f.Name != "content-length")
	}
	clear(fields)
	c.fields = fields[:0]
	if !hasLength {
		c.scratch = strconv.AppendInt(c.scratch[:0], int64(len(w.Body)), 10)
		b = c.enc.literal(b, "content-length", c.scratch)
	}
	if !hasDate {
		b = c.enc.field(b, "date", httpmsg.HTTPDate(now), true)
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
