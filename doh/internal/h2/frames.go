package h2

import (
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"golang.org/x/net/http2"
)

// h2Error is a protocol error of the connection (stream 0) or of one stream.
type h2Error struct {
	stream uint32
	code   http2.ErrCode
	reason string // metric label suffix
}

func (e *h2Error) Error() string { return "doh: http2: " + e.code.String() + ": " + e.reason }

func connError(code http2.ErrCode, reason string) error { return &h2Error{0, code, reason} }

func streamError(id uint32, code http2.ErrCode, reason string) error {
	return &h2Error{id, code, reason}
}

// readError translates a Framer read error; other errors (I/O) pass through.
func (c *h2Conn) readError(fh http2.FrameHeader, err error) error {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		if fh.Type == http2.FrameHeaders && se.StreamID%2 == 1 && se.StreamID > c.lastID {
			c.lastID = se.StreamID // the stream was opened, if only to fail
		}
		return streamError(se.StreamID, se.Code, "invalid_headers")
	case errors.As(err, &ce):
		return connError(http2.ErrCode(ce), "frame_"+fh.Type.String())
	case errors.Is(err, http2.ErrFrameTooLarge):
		return connError(http2.ErrCodeFrameSize, "frame_too_large")
	}
	return err
}

// handleLocked answers a protocol error: RST_STREAM for a stream error
// (nil is returned: the connection goes on), GOAWAY for a connection error.
// Other errors end the connection as they are.
func (c *h2Conn) handleLocked(err error) error {
	var he *h2Error
	if !errors.As(err, &he) {
		return err
	}
	if he.stream != 0 {
		c.srv.cfg.CountError("stream_" + he.code.String() + "_" + he.reason)
		_ = c.fr.WriteRSTStream(he.stream, he.code)
		if s := c.streams[he.stream]; s != nil {
			c.removeLocked(s)
		}
		if err := c.controlLocked(); err != nil {
			return c.handleLocked(err)
		}
		return nil
	}
	c.srv.cfg.CountError("conn_" + he.code.String() + "_" + he.reason)
	c.goAwayLocked(he.code)
	return he
}

// processLocked handles one frame from the client: a HEADERS frame as its
// header and payload (readHeadersPayload), any other as f.
func (c *h2Conn) processLocked(fh http2.FrameHeader, f http2.Frame, hp headersPayload) error {
	if !c.sawPreface {
		if fh.Type != http2.FrameSettings || fh.Flags.Has(http2.FlagSettingsAck) {
			return connError(http2.ErrCodeProtocol, "first_frame_not_settings")
		}
		c.sawPreface = true
	}
	if fh.Type == http2.FrameHeaders {
		c.hb.start(fh, hp.priority)
		return c.headerFragmentLocked(hp.frag, fh.Flags.Has(http2.FlagHeadersEndHeaders))
	}
	switch f := f.(type) {
	case *http2.ContinuationFrame: // the Framer checks that it continues the block under way
		return c.headerFragmentLocked(f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.RSTStreamFrame:
		return c.onReset(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			_ = c.fr.WritePing(true, f.Data)
			return c.controlLocked()
		}
	case *http2.GoAwayFrame:
		c.peerAway = true
	case *http2.PushPromiseFrame:
		return connError(http2.ErrCodeProtocol, "push_promise")
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return streamError(f.StreamID, http2.ErrCodeProtocol, "priority_self")
		}
	} // unknown frame types are ignored (RFC 9113 §4.1)
	return nil
}

// headersPayload is what a HEADERS frame carries past its header.
type headersPayload struct {
	frag     []byte // the header block fragment, valid until the next read
	priority http2.PriorityParam
}

// readHeadersPayload reads a HEADERS frame's payload (RFC 9113 §6.2)
// without the frame x/net's Framer would allocate for every request.
func (c *h2Conn) readHeadersPayload(fh http2.FrameHeader) (headersPayload, error) {
	var hp headersPayload
	p, err := c.br.Peek(int(fh.Length))
	if err != nil {
		return hp, err
	}
	_, _ = c.br.Discard(len(p))
	if fh.StreamID == 0 {
		return hp, connError(http2.ErrCodeProtocol, "frame_HEADERS_zero_stream")
	}
	pad := 0
	if fh.Flags.Has(http2.FlagHeadersPadded) {
		if len(p) < 1 {
			return hp, connError(http2.ErrCodeFrameSize, "frame_HEADERS_short")
		}
		pad, p = int(p[0]), p[1:]
	}
	if fh.Flags.Has(http2.FlagHeadersPriority) {
		if len(p) < 5 {
			return hp, connError(http2.ErrCodeFrameSize, "frame_HEADERS_short")
		}
		hp.priority = http2.PriorityParam{StreamDep: binary.BigEndian.Uint32(p) & 0x7fffffff, Exclusive: p[0]&0x80 != 0, Weight: p[4]}
		p = p[5:]
	}
	if pad > len(p) {
		return hp, connError(http2.ErrCodeProtocol, "frame_HEADERS_padding")
	}
	hp.frag = p[:len(p)-pad]
	return hp, nil
}

// headerFragmentLocked decodes a fragment of the header block under way
// and, at its end, handles the request's headers.
func (c *h2Conn) headerFragmentLocked(frag []byte, ended bool) error {
	if err := c.hb.add(frag); err != nil || !ended {
		return err
	}
	mh, err := c.hb.end()
	if err != nil {
		return err
	}
	return c.onHeaders(mh)
}

// onHeaders opens a stream, or takes trailers on an open one.
func (c *h2Conn) onHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return connError(http2.ErrCodeProtocol, "headers_even")
	}
	if s := c.streams[id]; s != nil {
		if s.remoteClosed {
			return streamError(id, http2.ErrCodeStreamClosed, "headers_half_closed")
		}
		if !f.StreamEnded() {
			return streamError(id, http2.ErrCodeProtocol, "trailers_not_end")
		}
		return c.endBodyLocked(s)
	}
	if id <= c.lastID {
		return connError(http2.ErrCodeProtocol, "stream_went_down")
	}
	c.lastID = id
	switch {
	case f.HasPriority() && f.Priority.StreamDep == id: // RFC 9113 §5.3.1
		return streamError(id, http2.ErrCodeProtocol, "priority_self")
	case c.goingAway:
		return streamError(id, http2.ErrCodeRefusedStream, "going_away")
	case len(c.streams) >= c.srv.cfg.MaxStreams:
		return streamError(id, http2.ErrCodeRefusedStream, "over_max_streams")
	}
	s := c.newStreamLocked(id)
	s.ctx.state.Begin(c.readAt)
	if f.Truncated { // answered 431 at once, as net/http does
		c.srv.cfg.CountError("stream_431_" + c.hb.truncation())
		c.openLocked(s)
		s.remoteClosed = f.StreamEnded()
		s.rw.Refuse(http.StatusRequestHeaderFieldsTooLarge, "request header fields too large")
		c.writeAnswerLocked(s, c.readAt)
		return nil
	}
	if err := s.build(f); err != nil {
		c.releaseLocked(s)
		return err
	}
	c.openLocked(s)
	if f.StreamEnded() {
		s.remoteClosed = true
		if c.replayLocked(s) {
			return nil
		}
		return c.startLocked(s)
	}
	s.awaitingBody = true
	s.bodyDeadline = c.readAt.Add(c.srv.cfg.ReadTimeout)
	c.bodyWaiting++
	if s.fields.DeclLen > int64(c.srv.cfg.MaxBody) {
		return c.startLocked(s) // refused at once (413) without reading
	}
	return nil
}

// replayLocked answers s here, on the reader, when replay holds its answer
// (Handler.Replay): a repeated cache hit needs no worker. s's request is
// whole: a GET, or a POST whose body has arrived. Otherwise it goes to a
// worker (with what the handler kept in its State), and the body is read
// again from its start.
func (c *h2Conn) replayLocked(s *h2Stream) (done bool) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.cfg.Logger.Error("doh: panic replaying HTTP/2 request", "panic", p, "stack", string(debug.Stack()))
			_ = c.fr.WriteRSTStream(s.id, http2.ErrCodeInternal)
			c.removeLocked(s)
			done = true
		}
	}()
	s.body.Prepare(s.req)
	if !c.srv.cfg.Handler.Replay(&s.rw, s.req) {
		s.body.Rewind()
		return false
	}
	c.bodyDoneLocked(s)
	c.writeAnswerLocked(s, c.readAt)
	c.releaseLocked(s)
	return true
}

// openLocked adds s to the open streams and counts it toward the reset
// ratio, which decays so that it describes the recent past of a long
// connection.
func (c *h2Conn) openLocked(s *h2Stream) {
	c.streams[s.id] = s
	s.inMap = true
	c.opened++
	if c.opened >= 2*c.resetWindow() {
		c.opened, c.resets = c.opened/2, c.resets/2
	}
}

func (c *h2Conn) resetWindow() int { return max(128, 4*c.srv.cfg.MaxStreams) }

// onData takes request body bytes, within both receive windows.
func (c *h2Conn) onData(f *http2.DataFrame) error {
	id, n := f.StreamID, int32(f.Length)
	if n > c.recvWindow {
		return connError(http2.ErrCodeFlowControl, "data_over_conn_window")
	}
	c.recvWindow -= n
	c.returnConnWindowLocked(n)
	s := c.streams[id]
	if s == nil {
		switch {
		case id > c.lastID:
			return connError(http2.ErrCodeProtocol, "data_on_idle")
		case slices.Contains(c.resetAfter, id) || slices.Contains(c.resetWriting, id):
			return nil // answered; its reset is on the way
		}
		return streamError(id, http2.ErrCodeStreamClosed, "data_on_closed")
	}
	if s.remoteClosed {
		return streamError(id, http2.ErrCodeStreamClosed, "data_half_closed")
	}
	if n > s.recvWindow {
		return streamError(id, http2.ErrCodeFlowControl, "data_over_stream_window")
	}
	s.recvWindow -= n
	data := f.Data()
	s.bodyLen += int64(len(data))
	if s.awaitingBody {
		room := c.srv.cfg.MaxBody + 1 - len(s.body.B) // one byte more tells an oversized body apart
		s.body.B = append(s.body.B, data[:min(len(data), room)]...)
	}
	if f.StreamEnded() {
		return c.endBodyLocked(s)
	}
	if n > 0 {
		s.recvWindow += n
		_ = c.fr.WriteWindowUpdate(id, uint32(n))
	}
	if s.awaitingBody && len(s.body.B) > c.srv.cfg.MaxBody {
		return c.startLocked(s) // the handler answers 413
	}
	return nil
}

// returnConnWindowLocked gives consumed DATA back to the client's
// connection window, in steps of half the window.
func (c *h2Conn) returnConnWindowLocked(n int32) {
	c.recvUnacked += n
	if c.recvUnacked >= h2ConnWindow/2 {
		_ = c.fr.WriteWindowUpdate(0, uint32(c.recvUnacked))
		c.recvWindow += c.recvUnacked
		c.recvUnacked = 0
	}
}

// endBodyLocked closes the client's side of s and starts its handler.
func (c *h2Conn) endBodyLocked(s *h2Stream) error {
	s.remoteClosed = true
	if !s.awaitingBody {
		if s.localClosed {
			c.removeLocked(s)
		}
		return nil
	}
	if s.fields.DeclLen >= 0 && s.bodyLen != s.fields.DeclLen {
		return streamError(s.id, http2.ErrCodeProtocol, "content_length_mismatch")
	}
	if c.replayLocked(s) {
		return nil
	}
	return c.startLocked(s)
}

// expireBodiesLocked starts the handlers of streams whose body did not
// arrive within ReadTimeout: their body reads fail, which the handler
// answers with 400.
func (c *h2Conn) expireBodiesLocked(now time.Time) error {
	for _, s := range c.streams {
		if s.awaitingBody && !now.Before(s.bodyDeadline) {
			s.body.Err = errBodyTimeout
			if err := c.startLocked(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// onReset cancels a stream; a client that resets most of what it opens is
// told to go away (CVE-2023-44487, rapid reset).
func (c *h2Conn) onReset(f *http2.RSTStreamFrame) error {
	s := c.streams[f.StreamID]
	if s == nil {
		if f.StreamID > c.lastID {
			return connError(http2.ErrCodeProtocol, "reset_idle_stream")
		}
		return nil // already closed on our side
	}
	c.removeLocked(s)
	c.resets++
	if c.resets >= c.resetWindow()/2 && 2*c.resets > c.opened {
		return connError(http2.ErrCodeEnhanceYourCalm, "too_many_early_resets")
	}
	return nil
}

// onWindowUpdate grows a send window and sends what waited for it.
func (c *h2Conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		if int64(c.sendWindow)+inc > math.MaxInt32 {
			return connError(http2.ErrCodeFlowControl, "window_update_overflow")
		}
		c.sendWindow += int32(inc)
		c.sendBlockedLocked()
		return nil
	}
	s := c.streams[f.StreamID]
	if s == nil {
		if f.StreamID > c.lastID {
			return connError(http2.ErrCodeProtocol, "window_update_idle")
		}
		return nil
	}
	if int64(s.sendWindow)+inc > math.MaxInt32 {
		return streamError(s.id, http2.ErrCodeFlowControl, "window_update_overflow")
	}
	s.sendWindow += int32(inc)
	if len(s.pending) > 0 {
		c.sendDataLocked(s)
	}
	return nil
}

// onSettings applies the client's settings and acknowledges them.
func (c *h2Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	grew := false
	err := f.ForeachSetting(func(st http2.Setting) error {
		if err := st.Valid(); err != nil {
			return connError(http2.ErrCode(err.(http2.ConnectionError)), "settings_"+st.ID.String())
		}
		switch st.ID {
		case http2.SettingInitialWindowSize:
			delta := int64(st.Val) - int64(c.peerWindow)
			for _, s := range c.streams {
				if int64(s.sendWindow)+delta > math.MaxInt32 {
					return connError(http2.ErrCodeFlowControl, "settings_window_overflow")
				}
				s.sendWindow += int32(delta)
			}
			c.peerWindow = int32(st.Val)
			grew = delta > 0
		case http2.SettingMaxFrameSize:
			c.peerFrame = int(st.Val)
		case http2.SettingHeaderTableSize:
			c.enc.setPeerTableSize(st.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	_ = c.fr.WriteSettingsAck()
	if grew {
		c.sendBlockedLocked()
	}
	return c.controlLocked()
}
