package plain

import (
	"bufio"
	"net/netip"

	"github.com/dnsward/dnsward/clientaddr"
	"github.com/dnsward/dnsward/resolver"
)

// unwrapUDP checks the PROXY v2 header of a datagram req.Client sent
// (Config.ProxyProtocol) and returns the DNS message after it; false drops
// the datagram. A trusted proxy's header names the client and the address
// it queried, which then chooses the profile as the local address would.
func (s *Server) unwrapUDP(req *resolver.Request, wire []byte) ([]byte, bool) {
	h, payload, err := s.trusted.Datagram(req.Client.Addr(), wire)
	if err != nil {
		s.rejectsUDP.Add(err)
		return nil, false
	}
	s.proxied(req, h)
	return payload, true
}

// unwrapTCP reads the PROXY v2 header at the start of a TCP connection
// from req.Client (Config.ProxyProtocol) and sets req from it; relayed
// says the header named a client. The error closes the connection.
func (s *Server) unwrapTCP(req *resolver.Request, r *bufio.Reader) (relayed bool, _ error) {
	h, err := s.trusted.Stream(req.Client.Addr(), r)
	if err != nil {
		if s.draining.Err() == nil { // a drain cuts a wait short: no fault of the proxy's
			s.rejectsTCP.Add(err)
		}
		return false, err
	}
	s.proxied(req, h)
	return h.Relayed(), nil
}

// proxied makes req the relayed client's: its address, and the profile of
// the address it queried. A LOCAL header (the proxy's own health check)
// and no header change nothing.
func (s *Server) proxied(req *resolver.Request, h clientaddr.Header) {
	if !h.Relayed() {
		return
	}
	req.Client = h.Source
	req.Profile = s.cfg.Profiles.Select(resolver.Ingress{Local: h.Destination.Addr()})
}

// viaProxy reports whether peer is a trusted proxy that must send headers.
func (s *Server) viaProxy(peer netip.Addr) bool { return s.trusted.Contains(peer) }
