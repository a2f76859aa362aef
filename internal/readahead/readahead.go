// Package readahead lets a reader that batches its writes tell "more input
// is already here" from "the next read waits on the network" on a TLS
// connection, where bufio's Buffered cannot: tls.Conn.Read yields one record
// per call. The DoT server and the builtin HTTP/2 engine use it.
package readahead

import (
	"bufio"
	"net"
	"time"
)

// Fill fills br, without waiting on the network, from what the layers
// under it have already taken off the socket, until whole reports true; it
// reports whether whole does. Clients send a query (or an HTTP/2 request) per
// TLS record and tls.Conn.Read yields one record per call, while one read of
// the socket often carries several records: a reader that writes out its
// answers whenever br runs dry would write once per query. A read deadline in
// the past stops a read that would reach the socket before it is made (the
// error is temporary: crypto/tls keeps the connection usable), and stays set:
// the caller arms its own before it waits.
func Fill(conn net.Conn, br *bufio.Reader, whole func() bool) bool {
	_ = conn.SetReadDeadline(aLongTimeAgo)
	for !whole() {
		n := br.Buffered()
		if n == br.Size() {
			return false // wants more than the buffer holds: the caller's read waits for it
		}
		if _, err := br.Peek(n + 1); err != nil {
			return false
		}
	}
	return true
}

// aLongTimeAgo is a read deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)
