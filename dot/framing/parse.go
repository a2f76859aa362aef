package framing

import (
	"encoding/binary"
	"errors"

	"github.com/miekg/dns"
)

// ErrNotQuery reports a message with the QR bit set arriving at a server.
var ErrNotQuery = errors.New("message is a response, not a query")

// Parse unpacks one query. A message that cannot be unpacked, or is a
// response, is an error; FormErr builds the answer for it.
func Parse(raw []byte) (*dns.Msg, error) {
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		return nil, err
	}
	if m.Response {
		return nil, ErrNotQuery
	}
	return m, nil
}

// FormErr builds a FORMERR answer from the header of a malformed query of at
// least 12 bytes (RFC 7766 §8 asks for an answer rather than a closed
// connection whenever the ID can be read).
func FormErr(raw []byte) *dns.Msg {
	m := new(dns.Msg)
	m.Id = binary.BigEndian.Uint16(raw)
	m.Response = true
	m.Opcode = int(raw[2]>>3) & 0xF
	m.Rcode = dns.RcodeFormatError
	return m
}
