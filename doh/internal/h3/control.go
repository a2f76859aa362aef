package h3

import (
	"bufio"
	"errors"
	"io"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/quicvarint"
)

// Settings identifiers (RFC 9114 §7.2.4.1, RFC 9204 §5).
const (
	settingQPACKMaxTableCapacity = 0x01
	settingMaxFieldSectionSize   = 0x06
	settingQPACKBlockedStreams   = 0x07
)

// maxControlFrame bounds the SETTINGS frame we read, beyond it
// H3_EXCESSIVE_LOAD; every other control frame we accept (a client's
// GOAWAY, CANCEL_PUSH, MAX_PUSH_ID, unknown types) is skipped unread, so
// its size costs nothing (RFC 9114 §7.1).
const maxControlFrame = 4 << 10

// settingsFrame is our SETTINGS: no QPACK dynamic table, no blocked
// streams, and the largest field section we take.
func settingsFrame(maxFieldSection int) []byte {
	var p []byte
	p = quicvarint.Append(quicvarint.Append(p, settingQPACKMaxTableCapacity), 0)
	p = quicvarint.Append(quicvarint.Append(p, settingQPACKBlockedStreams), 0)
	p = quicvarint.Append(quicvarint.Append(p, settingMaxFieldSectionSize), uint64(maxFieldSection))
	b := quicvarint.Append(nil, streamControl)
	return append(appendFrame(b, frameSettings, len(p)), p...)
}

// goAwayFrame is a GOAWAY naming the first request stream not served.
func goAwayFrame(id quic.StreamID) []byte {
	p := quicvarint.Append(nil, uint64(id))
	return append(appendFrame(nil, frameGoAway, len(p)), p...)
}

// acceptUni accepts the client's unidirectional streams until the
// connection ends: its control stream is read, its QPACK streams drained,
// unknown types refused; a second control or QPACK stream of a type, or a
// push stream (a client never sends one), ends the connection (RFC 9114
// §6.2, RFC 9204 §4.2).
func (c *conn) acceptUni() {
	var control, encoder, decoder bool
	for {
		str, err := c.qc.AcceptUniStream(c.qc.Context())
		if err != nil {
			return
		}
		br := bufio.NewReaderSize(str, 256)
		typ, err := quicvarint.Read(br)
		if err != nil {
			str.CancelRead(quic.StreamErrorCode(codeStreamCreation))
			continue
		}
		var seen *bool
		var read func() error
		switch typ {
		case streamControl:
			seen, read = &control, func() error { return readControlFrames(frameReader{br}) }
		case streamQPACKEncoder:
			seen, read = &encoder, func() error { return drainQPACK(br) }
		case streamQPACKDecoder:
			seen, read = &decoder, func() error { return drainQPACK(br) }
		case streamPush:
			c.fail(connError(codeStreamCreation, "push_stream_from_client"))
			return
		default: // unknown or reserved types are ignored (§6.2)
			str.CancelRead(quic.StreamErrorCode(codeStreamCreation))
			continue
		}
		if *seen {
			c.fail(connError(codeStreamCreation, "second_critical_stream"))
			return
		}
		*seen = true
		go c.readCritical(read)
	}
}

// readCritical runs read on one of the client's critical streams (control,
// QPACK encoder or decoder), which must stay open as long as the
// connection: whatever ends read is a connection error, its own or, when
// the stream ended or was reset, H3_CLOSED_CRITICAL_STREAM (§6.2.1).
func (c *conn) readCritical(read func() error) {
	err := read()
	if c.qc.Context().Err() != nil {
		return
	}
	var he *h3Error
	if !errors.As(err, &he) {
		err = connError(codeClosedCriticalStream, "critical_stream_closed")
	}
	c.fail(err)
}

// drainQPACK reads a QPACK stream to its end: with a table capacity of 0
// neither carries anything we must act on.
func drainQPACK(br *bufio.Reader) error {
	_, err := io.Copy(io.Discard, br)
	return err
}

// readControlFrames reads the client's control stream until it breaks the
// rules or ends: SETTINGS first and once, then GOAWAY and frames of
// unknown types (§6.2.1, §7.2).
func readControlFrames(f frameReader) error {
	first := true
	var buf []byte
	for {
		typ, n, err := f.next()
		if err != nil {
			return err
		}
		if first != (typ == frameSettings) {
			if first {
				return connError(codeMissingSettings, "missing_settings")
			}
			return connError(codeFrameUnexpected, "second_settings")
		}
		first = false
		switch {
		case typ == frameSettings:
			if n > maxControlFrame {
				return connError(codeExcessiveLoad, "settings_too_large")
			}
			if buf, err = f.payload(buf, n); err != nil {
				return err
			}
			if err := checkSettings(buf); err != nil {
				return err
			}
		case typ == frameData || typ == frameHeaders || typ == framePushPromise || reservedH2(typ):
			return connError(codeFrameUnexpected, "frame_on_control_stream")
		default: // GOAWAY (a client's names push IDs, which we never use), CANCEL_PUSH, MAX_PUSH_ID, unknown
			if err := f.skip(n); err != nil {
				return err
			}
		}
	}
}

// checkSettings checks a client's SETTINGS payload: HTTP/2's settings and
// a repeated identifier are H3_SETTINGS_ERROR (§7.2.4); values need no
// action, since we never use the dynamic table and answers are small.
func checkSettings(p []byte) error {
	var seen []uint64
	for len(p) > 0 {
		id, n, err := quicvarint.Parse(p)
		if err != nil {
			return connError(codeFrame, "bad_settings")
		}
		p = p[n:]
		if _, n, err = quicvarint.Parse(p); err != nil {
			return connError(codeFrame, "bad_settings")
		}
		p = p[n:]
		if id >= 0x02 && id <= 0x05 {
			return connError(codeSettings, "http2_setting")
		}
		for _, s := range seen {
			if s == id {
				return connError(codeSettings, "duplicate_setting")
			}
		}
		seen = append(seen, id)
	}
	return nil
}
