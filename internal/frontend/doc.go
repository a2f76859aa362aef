// Package frontend is the kit every front-end (plain DNS, DoT, DoH, DoQ)
// shares: the 2-byte length framing of the stream transports, building the
// answer a handler returns into a wire message (ID, padding, keepalive), the
// transport metrics and the redaction of addresses from logged errors.
// Transports frame bytes and call one resolver.Handler; what they have in
// common lives here rather than in any one of them.
package frontend
