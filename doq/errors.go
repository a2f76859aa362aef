package doq

// DoQ error codes (RFC 9250 §4.3), used to close connections and reset
// streams (they convert to quic.ApplicationErrorCode and quic.StreamErrorCode).
const (
	NoError          = 0x0 // DOQ_NO_ERROR
	InternalError    = 0x1 // DOQ_INTERNAL_ERROR
	ProtocolError    = 0x2 // DOQ_PROTOCOL_ERROR
	RequestCancelled = 0x3 // DOQ_REQUEST_CANCELLED
	ExcessiveLoad    = 0x4 // DOQ_EXCESSIVE_LOAD
)
