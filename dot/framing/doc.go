// Package framing holds what the stream transports DoT (RFC 7858) and DoQ
// (RFC 9250) share: the 2-byte length framing, building the answer a handler
// returns into a wire message (ID, padding, keepalive), per-client connection
// limits, the transport metrics and the redaction of addresses from logged
// errors.
package framing
