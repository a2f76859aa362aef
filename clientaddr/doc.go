// Package clientaddr recovers the real client address of a connection or an
// HTTP request that reached dnsward through a proxy or load balancer.
//
// Two mechanisms are supported, and both are honoured only when the peer that
// speaks them is a trusted proxy (a configured CIDR):
//
//   - the PROXY protocol version 2 binary header that HAProxy, nginx, Envoy and
//     cloud load balancers prepend to a TCP stream (Listener, ReadHeader), and
//     dnsdist to each UDP datagram (Trusted.Datagram), each TCP stream
//     (Trusted.Stream) and, towards DoT, the bytes inside TLS;
//   - the X-Forwarded-For and Forwarded (RFC 7239) HTTP headers (ClientFromHeaders).
//
// Where PROXY v2 is expected, a trusted proxy must send a header (LOCAL for
// its own health checks) and nobody else may: either mistake drops the
// datagram or closes the connection, counted in Rejects.
//
// The text PROXY protocol version 1 is not supported.
package clientaddr
