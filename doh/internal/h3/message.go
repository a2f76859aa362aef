package h3

import (
	"errors"
	"io"
	"net/http"
)

// message is what a request stream carries (RFC 9114 §4.1).
type message struct {
	fields []byte // the HEADERS payload
	body   []byte // DATA payloads, at most maxBody+1 bytes
	rest   bool   // the stream was not read to its end: the body went on, or the headers were refused
}

func (m *message) reset() {
	m.fields, m.body, m.rest = m.fields[:0], m.body[:0], false
}

// readMessage reads a request stream until its end: HEADERS, then DATA,
// then optional trailers, which are skipped, as are frames of unknown
// types. It stops early, setting m.rest, once the body passes maxBody (one
// byte more tells an oversized body apart) or the HEADERS payload passes
// maxFields (a *refusal with 431). Frames that belong on the control stream
// or nowhere, and DATA outside the body, are H3_FRAME_UNEXPECTED (§4.1, §7.2).
func readMessage(f frameReader, m *message, maxFields, maxBody int) error {
	const (
		beforeHeaders = iota
		inBody
		afterTrailers
	)
	state := beforeHeaders
	for {
		typ, n, err := f.next()
		if errors.Is(err, io.EOF) {
			if state == beforeHeaders {
				return streamError(codeRequestIncomplete, "no_headers")
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case typ == frameHeaders && state == beforeHeaders:
			if n > uint64(maxFields) {
				m.rest = true
				return &refusal{http.StatusRequestHeaderFieldsTooLarge, "request header fields too large"}
			}
			if m.fields, err = f.payload(m.fields, n); err != nil {
				return err
			}
			state = inBody
		case typ == frameHeaders && state == inBody: // trailers: nothing in them is used
			if err := f.skip(n); err != nil {
				return err
			}
			state = afterTrailers
		case typ == frameData && state == inBody:
			room := uint64(maxBody + 1 - len(m.body))
			if n > room {
				m.body, err = appendPayload(f, m.body, room)
				m.rest = true
				return err
			}
			if m.body, err = appendPayload(f, m.body, n); err != nil {
				return err
			}
		case typ == frameHeaders, typ == frameData, typ == frameCancelPush, typ == frameSettings,
			typ == framePushPromise, typ == frameGoAway, typ == frameMaxPushID, reservedH2(typ):
			return connError(codeFrameUnexpected, "unexpected_frame_on_request_stream")
		default: // unknown types are ignored (§9)
			if err := f.skip(n); err != nil {
				return err
			}
		}
	}
}

// appendPayload reads n payload bytes onto b.
func appendPayload(f frameReader, b []byte, n uint64) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, n)...)
	if _, err := io.ReadFull(f.br, b[start:]); err != nil {
		return b, truncated(err)
	}
	return b, nil
}
