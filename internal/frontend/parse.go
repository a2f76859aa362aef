package frontend

import (
	"errors"

	"github.com/miekg/dns"
)

// ErrNotQuery reports a message with the QR bit set arriving at a server.
var ErrNotQuery = errors.New("message is a response, not a query")

// Parse unpacks one query. A message that cannot be unpacked, or is a
// response, is an error; resolver.MalformedReply builds the answer for it
// (none for a response).
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
