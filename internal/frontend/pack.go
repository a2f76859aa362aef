package frontend

import (
	"encoding/binary"
	"fmt"

	"github.com/miekg/dns"
)

// Pack packs m behind its 2-byte length prefix, using buf's capacity when it
// is large enough so that a pooled buffer avoids an allocation.
func Pack(m *dns.Msg, buf []byte) ([]byte, error) {
	if cap(buf) < 2+headerSize {
		buf = make([]byte, 0, 512)
	}
	buf = buf[:cap(buf)]
	b, err := m.PackBuffer(buf[2:])
	if err != nil {
		return nil, err
	}
	if len(b) > MaxMsgSize {
		return nil, fmt.Errorf("answer of %d bytes exceeds %d", len(b), MaxMsgSize)
	}
	if &b[0] != &buf[2] { // PackBuffer needed more room and allocated
		return AppendFrame(make([]byte, 0, 2+len(b)), b)
	}
	binary.BigEndian.PutUint16(buf, uint16(len(b)))
	return buf[:2+len(b)], nil
}
