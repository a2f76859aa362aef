package clientaddr

import "net/netip"

// Trusted is a set of proxy networks whose claims about the client address are
// believed. The zero value trusts nobody.
type Trusted []netip.Prefix

// Contains reports whether addr (IPv4-mapped IPv6 addresses are unmapped)
// lies in one of the trusted networks.
func (t Trusted) Contains(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range t {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Admitted is the address a connection from client counts against in the
// connection bounds: a client a proxy relayed (relayed: its header named
// it) as itself, wherever its address lies; a trusted proxy's own
// connection, which carries many clients' queries, as none (the total
// only).
func (t Trusted) Admitted(client netip.Addr, relayed bool) netip.Addr {
	if !relayed && t.Contains(client) {
		return netip.Addr{}
	}
	return client
}
