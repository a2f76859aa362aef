package frontend

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
