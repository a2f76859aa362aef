package h3

import (
	"bufio"
	"errors"
	"io"

	"github.com/quic-go/quic-go/quicvarint"
)

// Frame types (RFC 9114 §7.2; 0x02, 0x06, 0x08 and 0x09 are HTTP/2's,
// reserved by §7.2.8).
const (
	frameData        = 0x00
	frameHeaders     = 0x01
	frameCancelPush  = 0x03
	frameSettings    = 0x04
	framePushPromise = 0x05
	frameGoAway      = 0x07
	frameMaxPushID   = 0x0d
)

// Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2).
const (
	streamControl      = 0x00
	streamPush         = 0x01
	streamQPACKEncoder = 0x02
	streamQPACKDecoder = 0x03
)

// reservedH2 reports whether t is a frame type HTTP/2 used, which must not
// appear on any HTTP/3 stream (§7.2.8).
func reservedH2(t uint64) bool { return t == 0x02 || t == 0x06 || t == 0x08 || t == 0x09 }

// frameReader reads HTTP/3 frames from a stream.
type frameReader struct {
	br *bufio.Reader
}

// next reads a frame's type and length. io.EOF means the stream ended
// cleanly between frames; a stream that ends inside a frame header is
// H3_FRAME_ERROR (§7.1).
func (f frameReader) next() (typ, length uint64, err error) {
	typ, err = quicvarint.Read(f.br)
	if err != nil {
		return 0, 0, err // io.EOF before any byte of a frame: the stream ended
	}
	length, err = quicvarint.Read(f.br)
	if err != nil {
		return 0, 0, truncated(err)
	}
	return typ, length, nil
}

// payload reads a frame payload of n bytes into buf's storage.
func (f frameReader) payload(buf []byte, n uint64) ([]byte, error) {
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(f.br, buf); err != nil {
		return buf, truncated(err)
	}
	return buf, nil
}

// skip discards a frame payload of n bytes.
func (f frameReader) skip(n uint64) error {
	for n > 0 {
		step := min(n, 1<<20)
		if _, err := f.br.Discard(int(step)); err != nil {
			return truncated(err)
		}
		n -= step
	}
	return nil
}

// truncated maps the end of the stream inside a frame to H3_FRAME_ERROR.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return connError(codeFrame, "truncated_frame")
	}
	return err
}

// appendFrame appends a frame header for a payload of n bytes.
func appendFrame(b []byte, typ uint64, n int) []byte {
	return quicvarint.Append(quicvarint.Append(b, typ), uint64(n))
}
