package dot

import (
	"bufio"
	"crypto/tls"
	"net/netip"
	"time"

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/internal/frontend"
)

// acquire admits a connection from client. A trusted proxy's own
// connection (no header naming a client: relayed false) carries many
// clients' queries and counts only in the total; a relayed client counts
// as itself, even when its address lies in trusted_proxies.
func (s *Server) acquire(client netip.AddrPort, relayed bool) (release func(), ok bool) {
	a := client.Addr()
	if !relayed && s.trusted.Contains(a) {
		a = netip.Addr{}
	}
	return frontend.AcquireConn(s.cfg.Conns, "dot", a)
}

// unwrapInside reads the PROXY v2 header a trusted proxy sends as the first
// bytes inside TLS (dnsdist's DoT backends) when due (it sent none before
// the handshake), and otherwise checks that none comes there: one header
// per connection, from a trusted proxy. It returns the client and local
// addresses to use; an error closes the connection.
func (s *Server) unwrapInside(tc *tls.Conn, br *bufio.Reader, due bool, client, local netip.AddrPort) (netip.AddrPort, netip.AddrPort, error) {
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
		return client, local, err
	}
	if h.Command == clientaddr.Proxy && h.Source.IsValid() {
		return h.Source, h.Destination, nil
	}
	return client, local, nil
}
