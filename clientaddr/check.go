package clientaddr

import (
	"bufio"
	"errors"
	"net/netip"
)

// ErrUntrusted is the error for a PROXY v2 header sent by a peer that is
// not a trusted proxy: such a peer could otherwise claim any client address.
var ErrUntrusted = errors.New("clientaddr: PROXY v2 header from a peer that is not a trusted proxy")

// Datagram checks a datagram b from peer on a listener that expects PROXY
// v2 from the trusted proxies. A trusted peer's datagram must begin with a
// header (ErrNoSignature when it does not); the header and the DNS payload
// after it are returned. Any other peer's datagram is returned whole with
// a zero Header, unless it begins with the signature (ErrUntrusted).
func (t Trusted) Datagram(peer netip.Addr, b []byte) (Header, []byte, error) {
	if !t.Contains(peer) {
		if HasSignature(b) {
			return Header{}, nil, ErrUntrusted
		}
		return Header{}, b, nil
	}
	return ParseHeader(b)
}

// Stream is Datagram for a byte stream read through br (plain TCP, or the
// bytes inside a TLS session): a trusted peer's stream must begin with a
// header, which is consumed; any other peer's is left unread, unless it
// begins with the signature (ErrUntrusted). An untrusted stream that ends
// or fails before its first bytes is no error here: the caller's next read
// sees it.
func (t Trusted) Stream(peer netip.Addr, br *bufio.Reader) (Header, error) {
	if t.Contains(peer) {
		return ReadHeader(br)
	}
	if b, err := br.Peek(1); err != nil || b[0] != signature[0] {
		return Header{}, nil // the common case: one byte, already buffered for the caller
	}
	if b, _ := br.Peek(len(signature)); HasSignature(b) {
		return Header{}, ErrUntrusted
	}
	return Header{}, nil
}
