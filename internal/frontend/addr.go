package frontend

import (
	"net"
	"net/netip"
)

// AddrPort converts a TCP or UDP net.Addr to a netip.AddrPort with the IPv4
// address unmapped; any other kind gives the zero value.
func AddrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		return ap
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
