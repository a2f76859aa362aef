package dot

import (
	"bufio"
	"crypto/tls"
	"net/netip"
	"time"

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/internal/frontend"
)

// acquire admits a connection from client, relayed or not
// (clientaddr.Trusted.Admitted).
func (s *Server) acquire(client netip.AddrPort, relayed bool) (release func(), ok bool) {
	return frontend.AcquireConn(s.cfg.Conns, "dot", s.trusted.Admitted(client.Addr(), relayed))
}

// unwrapInside reads the PROXY v2 header a trusted proxy sends as the first
// bytes inside TLS (dnsdist's DoT backends) when due (it sent none before
// the handshake), and otherwise checks that none comes there: one header
// per connection, from a trusted proxy. It returns the client and local
// addresses to use, and whether the header named the client; an error
// closes the connection.
func (s *Server) unwrapInside(tc *tls.Conn, br *bufio.Reader, due bool, client, local netip.AddrPort) (_, _ netip.AddrPort, relayed bool, _ error) {
	wait, trusted := s.cfg.IdleTimeout, clientaddr.Trusted(nil) // no header: wait for the first query
	if due {
		wait, trusted = s.cfg.HandshakeTimeout, s.trusted
	}
	tc.SetReadDeadline(time.Now().Add(wait))
	h, err := trusted.Stream(client.Addr(), br)
	if err != nil {
		if !s.closing.Load() {
			s.rejects.Add(err)
		}
		s.cfg.Logger.Debug("dot: closing connection for its PROXY v2 header", frontend.ErrAttr(err))
		return client, local, false, err
	}
	if h.Relayed() {
		return h.Source, h.Destination, true, nil
	}
	return client, local, false, nil
}
