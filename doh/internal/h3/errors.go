package h3

import (
	"errors"
	"fmt"

	"github.com/quic-go/quic-go"
)

// HTTP/3 error codes (RFC 9114 §8.1) and QPACK's (RFC 9204 §6).
const (
	codeNoError              = 0x0100
	codeInternal             = 0x0102
	codeStreamCreation       = 0x0103
	codeClosedCriticalStream = 0x0104
	codeFrameUnexpected      = 0x0105
	codeFrame                = 0x0106
	codeExcessiveLoad        = 0x0107
	codeSettings             = 0x0109
	codeMissingSettings      = 0x010a
	codeRequestRejected      = 0x010b
	codeRequestCancelled     = 0x010c
	codeRequestIncomplete    = 0x010d
	codeMessage              = 0x010e
	codeQPACKDecompression   = 0x0200
)

// h3Error is a protocol error: a connection error closes the connection
// with code, a stream error resets the request stream with it.
type h3Error struct {
	code   uint64
	conn   bool   // a connection error
	reason string // a short label, for logs
}

func (e *h3Error) Error() string {
	kind := "stream"
	if e.conn {
		kind = "connection"
	}
	return fmt.Sprintf("h3: %s error %#x: %s", kind, e.code, e.reason)
}

// connError is a connection error.
func connError(code uint64, reason string) error {
	return &h3Error{code: code, conn: true, reason: reason}
}

// streamError is a stream error.
func streamError(code uint64, reason string) error {
	return &h3Error{code: code, reason: reason}
}

// errorCode is err's HTTP/3 error and whether it ends the connection; an
// error that is not a protocol error (the stream or connection broke, a
// deadline passed) is H3_REQUEST_INCOMPLETE on the stream.
func errorCode(err error) (code uint64, conn bool) {
	var he *h3Error
	if errors.As(err, &he) {
		return he.code, he.conn
	}
	return codeRequestIncomplete, false
}

// resetStream aborts both directions of a request stream with code.
func resetStream(str *quic.Stream, code uint64) {
	str.CancelRead(quic.StreamErrorCode(code))
	str.CancelWrite(quic.StreamErrorCode(code))
}
