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
