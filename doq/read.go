package doq

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/dnsward/dnsward/internal/frontend"
)

// errTrailing reports bytes after the message on a stream (RFC 9250 §4.2:
// one message per stream, then FIN).
var errTrailing = errors.New("data after the message on the stream")

// errNonZeroID reports a query whose Message ID is not 0 (RFC 9250 §4.2.1).
var errNonZeroID = errors.New("message ID is not 0")

// minReadBuf is the buffer ReadMessage starts with when given a smaller one:
// room for most messages, their prefix and the byte that shows trailing data.
const minReadBuf = 512

// ReadMessage reads the one length-prefixed DNS message a DoQ stream carries
// and the FIN after it (RFC 9250 §4.2), and returns the message without its
// prefix, in buf when buf is large enough. Errors: io.ErrUnexpectedEOF for a
// FIN before the whole message, frontend.ErrZeroLength, errTrailing for bytes
// after the message, frontend.ErrShortMessage for less than a DNS header, or
// the stream's own error.
//
// It reads as much as the stream holds at each call: quic-go returns a whole
// small message with its FIN in one Read, where reading the prefix, the body
// and then checking for FIN took three (and two small allocations).
func ReadMessage(r io.Reader, buf []byte) ([]byte, error) {
	if cap(buf) < minReadBuf {
		buf = make([]byte, minReadBuf)
	}
	buf = buf[:cap(buf)]
	n, want := 0, -1 // bytes read; prefix plus message length, once known
	for {
		m, err := r.Read(buf[n:])
		n += m
		if want < 0 && n >= 2 {
			want = 2 + int(binary.BigEndian.Uint16(buf))
			if want == 2 {
				return nil, frontend.ErrZeroLength
			}
			if len(buf) <= want { // keep one byte spare to see trailing data
				buf = append(buf[:n], make([]byte, want+1-n)...)
			}
		}
		if want >= 0 && n > want {
			return nil, errTrailing
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if want < 0 || n < want {
		return nil, io.ErrUnexpectedEOF
	}
	if want-2 < 12 {
		return nil, frontend.ErrShortMessage
	}
	return buf[2:want], nil
}

// readQuery reads the one query a stream carries with ReadMessage and checks
// that its Message ID is 0.
func readQuery(r io.Reader, buf []byte) ([]byte, error) {
	raw, err := ReadMessage(r, buf)
	if err != nil {
		return nil, err
	}
	if binary.BigEndian.Uint16(raw) != 0 {
		return nil, errNonZeroID
	}
	return raw, nil
}
