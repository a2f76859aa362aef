package frontend

import "net/netip"

// ConnAdmitter admits client connections; ratelimit.Conns is the one
// implementation, shared by every transport, so a client's connections on
// all of them count against one bound. A transport asks it at accept, before
// any TLS or QUIC work is spent, names itself ("tcp", "dot", "doh", "doq")
// for the metrics, and calls release when the connection ends. An invalid
// client address (a trusted proxy's connection) counts only in the total.
type ConnAdmitter interface {
	Acquire(transport string, client netip.Addr) (release func(), ok bool)
}

// AcquireConn asks c to admit a connection; a nil c admits every one.
func AcquireConn(c ConnAdmitter, transport string, client netip.Addr) (release func(), ok bool) {
	if c == nil {
		return func() {}, true
	}
	return c.Acquire(transport, client)
}
