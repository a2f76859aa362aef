package doq

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/dnsward/dnsward/dot/framing"
)

// errTrailing reports bytes after the query on a stream (RFC 9250 §4.2: one
// message per stream, then FIN).
var errTrailing = errors.New("data after the query on the stream")

// errNonZeroID reports a query whose Message ID is not 0 (RFC 9250 §4.2.1).
var errNonZeroID = errors.New("message ID is not 0")

// readQuery reads the one length-prefixed query a stream carries and checks
// that the client's FIN follows it and that its Message ID is 0.
func readQuery(r io.Reader, buf []byte) ([]byte, error) {
	raw, err := framing.ReadFrame(r, buf)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // FIN before any query
		}
		return nil, err
	}
	var one [1]byte
	for {
		n, err := r.Read(one[:])
		if n > 0 {
			return nil, errTrailing
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if binary.BigEndian.Uint16(raw) != 0 {
		return nil, errNonZeroID
	}
	return raw, nil
}
