package frontend

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// MaxMsgSize is the largest DNS message a 2-byte length prefix can carry.
const MaxMsgSize = 65535

// headerSize is the size of the fixed DNS header; shorter frames carry no ID.
const headerSize = 12

// ErrZeroLength reports a frame whose length prefix is zero (RFC 7766 §8: not a
// DNS message; the connection is closed).
var ErrZeroLength = errors.New("zero-length frame")

// ErrShortMessage reports a frame too short to hold a DNS header.
var ErrShortMessage = errors.New("frame shorter than a DNS header")

// ReadFrame reads one length-prefixed DNS message from r into buf (grown as
// needed) and returns it. io.EOF means r ended cleanly between frames; a frame
// cut short returns io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, buf []byte) ([]byte, error) {
	if cap(buf) < 2 {
		buf = make([]byte, 0, 512)
	}
	hdr := buf[:2] // in buf: a local array would escape through r and cost an allocation per frame
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr))
	if n == 0 {
		return nil, ErrZeroLength
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if n < headerSize {
		return buf, ErrShortMessage
	}
	return buf, nil
}

// FrameBuffered reports whether br holds a whole frame, so that reading it
// cannot block.
func FrameBuffered(br *bufio.Reader) bool {
	if br.Buffered() < 2 {
		return false
	}
	b, _ := br.Peek(2)
	return br.Buffered() >= 2+int(binary.BigEndian.Uint16(b))
}

// ReadAhead fills br, without waiting on the network, from what the layers
// under it have already taken off the socket, until whole reports true; it
// reports whether whole does. Clients send a query (or an HTTP/2 request) per
// TLS record and tls.Conn.Read yields one record per call, while one read of
// the socket often carries several records: a reader that writes out its
// answers whenever br runs dry would write once per query. A read deadline in
// the past stops a read that would reach the socket before it is made (the
// error is temporary: crypto/tls keeps the connection usable), and stays set:
// the caller arms its own before it waits.
func ReadAhead(conn net.Conn, br *bufio.Reader, whole func() bool) bool {
	_ = conn.SetReadDeadline(aLongTimeAgo)
	for !whole() {
		n := br.Buffered()
		if n == br.Size() {
			return false // wants more than the buffer holds: the caller's read waits for it
		}
		if _, err := br.Peek(n + 1); err != nil {
			return false
		}
	}
	return true
}

// aLongTimeAgo is a read deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

// SetLength fills the 2-byte length prefix of frame, a message appended
// after two reserved bytes (at most MaxMsgSize long), and returns frame.
func SetLength(frame []byte) []byte {
	binary.BigEndian.PutUint16(frame, uint16(len(frame)-2))
	return frame
}

// AppendFrame appends msg to dst behind its 2-byte length prefix.
func AppendFrame(dst, msg []byte) ([]byte, error) {
	if len(msg) > MaxMsgSize {
		return dst, fmt.Errorf("message of %d bytes exceeds %d", len(msg), MaxMsgSize)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(msg)))
	return append(dst, msg...), nil
}
