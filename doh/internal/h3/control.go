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

// maxControlFrame bounds a control-stream frame we read (SETTINGS, GOAWAY);
// larger ones are skipped unread when unknown, else a connection error.
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
// connection ends: its control stream is read, QPACK streams and unknown
// types drained; push streams (a client never sends one) end the connection.
func (c *conn) acceptUni() {
	control := false
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
		switch typ {
		case streamControl:
			if control {
				c.fail(connError(codeStreamCreation, "second_control_stream"))
				return
			}
			control = true
			go c.readControl(frameReader{br})
		case streamPush:
			c.fail(connError(codeStreamCreation, "push_stream_from_client"))
			return
		case streamQPACKEncoder, streamQPACKDecoder:
			// With a table capacity of 0 neither carries anything we must act on.
			go func() { _, _ = io.Copy(io.Discard, br) }()
		default: // unknown or reserved types are ignored (§6.2)
			str.CancelRead(quic.StreamErrorCode(codeStreamCreation))
		}
	}
}

// readControl reads the client's control stream: SETTINGS first and once,
// then GOAWAY and frames of unknown types (§6.2.1, §7.2). Its end or a
// misplaced frame is a connection error.
func (c *conn) readControl(f frameReader) {
	err := readControlFrames(f)
	if c.qc.Context().Err() == nil {
		c.fail(err)
	}
}

// readControlFrames reads a control stream until it breaks the rules or ends.
func readControlFrames(f frameReader) error {
	first := true
	var buf []byte
	for {
		typ, n, err := f.next()
		if errors.Is(err, io.EOF) {
			return connError(codeClosedCriticalStream, "control_stream_closed")
		}
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
