package sockets

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// kind is a socket's type: a stream (TCP) or datagram (UDP) socket.
type kind int

const (
	stream kind = iota + 1
	datagram
)

// desc says what an inherited socket is, or a configured address asks
// for: its kind and bound address.
type desc struct {
	kind kind
	addr netip.AddrPort
}

func (d desc) String() string {
	n := "udp"
	if d.kind == stream {
		n = "tcp"
	}
	return n + "/" + d.addr.String()
}

// matches reports whether d, an inherited socket, serves the configured
// address want.
func (d desc) matches(want desc) bool {
	if d.kind != want.kind || d.addr.Port() != want.addr.Port() {
		return false
	}
	return d.addr.Addr().Unmap() == want.addr.Addr().Unmap()
}

// parseConfigured reads a configured network and address; ok is false for
// what no inherited socket can serve: a host name, an empty host (the
// configuration asks for literal addresses) or port 0.
func parseConfigured(k kind, network, addr string) (desc, bool) {
	if (k == stream) != strings.HasPrefix(network, "tcp") {
		return desc{}, false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return desc{}, false
	}
	p, err := net.LookupPort(network, port)
	if err != nil || p == 0 {
		return desc{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return desc{}, false
	}
	return desc{kind: k, addr: netip.AddrPortFrom(a.WithZone(""), uint16(p))}, true // getsockname names no zone
}

// describe reads an inherited socket's type and bound address.
func describe(f *os.File) (desc, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return desc{}, err
	}
	var d desc
	var serr error
	err = rc.Control(func(fd uintptr) {
		var typ int
		if typ, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE); serr != nil {
			return
		}
		switch typ {
		case unix.SOCK_STREAM:
			d.kind = stream
		case unix.SOCK_DGRAM:
			d.kind = datagram
		default:
			serr = fmt.Errorf("socket type %d is neither stream nor datagram", typ)
			return
		}
		var sa unix.Sockaddr
		if sa, serr = unix.Getsockname(int(fd)); serr != nil {
			return
		}
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			d.addr = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
		case *unix.SockaddrInet6:
			d.addr = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
		default:
			serr = errors.New("not an IPv4 or IPv6 socket")
		}
	})
	if err = errors.Join(err, serr); err != nil {
		return desc{}, fmt.Errorf("sockets: inherited %s: %w", f.Name(), err)
	}
	return d, nil
}
