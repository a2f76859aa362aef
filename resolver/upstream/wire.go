package upstream

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/miekg/dns"
)

// maxMsg is the largest DNS message (RFC 1035 §4.2.2 framing limit).
const maxMsg = 65535

// bufPool holds buffers big enough for any framed message.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 2+maxMsg+1)
	return &b
}}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

// packFrame packs q with message ID id into buf (from getBuf) behind a 2-byte
// length prefix (RFC 1035 §4.2.2) and returns the frame; frame[2:] is the
// bare message. q itself is not modified.
func packFrame(q *dns.Msg, id uint16, buf []byte) ([]byte, error) {
	msg, err := q.PackBuffer(buf[2:])
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	if len(msg) > maxMsg {
		return nil, fmt.Errorf("pack query: %d bytes is over the %d-byte limit", len(msg), maxMsg)
	}
	if &msg[0] != &buf[2] {
		copy(buf[2:], msg)
	}
	binary.BigEndian.PutUint16(buf, uint16(len(msg)))
	binary.BigEndian.PutUint16(buf[2:], id)
	return buf[:2+len(msg)], nil
}

// randomID returns an unpredictable message ID (RFC 5452 §9.2).
func randomID() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return binary.BigEndian.Uint16(b[:])
}
