package plain

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/dnsward/dnsward/internal/sockets"
)

// portRetries bounds the attempts to find a port free on both TCP and UDP
// when an address asks for port 0.
const portRetries = 20

// bindAddr opens the TCP listener and cfg.UDPSockets UDP sockets of one
// address, all on one port (or the sockets systemd passed for it: see
// bindUDP). With port 0 the TCP listener picks the port and
// UDP follows; if that port is taken for UDP (or a later SO_REUSEPORT socket
// loses a race), everything is closed and another port is tried.
func (s *Server) bindAddr(ap netip.AddrPort) ([]*net.UDPConn, net.Listener, error) {
	for attempt := 0; ; attempt++ {
		l, err := sockets.Listen(context.Background(), &net.ListenConfig{}, "tcp", ap.String())
		if err != nil {
			return nil, nil, fmt.Errorf("plain: tcp %s: %w", ap, err)
		}
		port := uint16(l.Addr().(*net.TCPAddr).Port)
		udp, err := s.bindUDP(netip.AddrPortFrom(ap.Addr(), port))
		if err == nil {
			return udp, l, nil
		}
		_ = l.Close()
		if ap.Port() != 0 || !errors.Is(err, syscall.EADDRINUSE) || attempt >= portRetries {
			return nil, nil, fmt.Errorf("plain: udp %s: %w", ap, err)
		}
	}
}

// bindUDP opens cfg.UDPSockets SO_REUSEPORT sockets on ap, closing them all
// if one fails; when systemd passed a socket for ap, it serves that one alone
// (still read by cfg.UDPReaders goroutines), with its buffers sized.
func (s *Server) bindUDP(ap netip.AddrPort) ([]*net.UDPConn, error) {
	c, err := sockets.TakePacket("udp", ap.String())
	if err != nil {
		return nil, err
	}
	if c != nil {
		if err := sizeBuffers(c, s.cfg.UDPBuffer); err != nil {
			_ = c.Close()
			return nil, err
		}
		return []*net.UDPConn{c}, nil
	}
	var out []*net.UDPConn
	for i := 0; i < s.cfg.UDPSockets; i++ {
		c, err := listenUDP(ap, s.cfg.UDPBuffer)
		if err != nil {
			for _, c := range out {
				_ = c.Close()
			}
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// sizeBuffers sizes an inherited socket's buffers as listenUDP does its own.
func sizeBuffers(c *net.UDPConn, size int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) { serr = setUDPBuffers(int(fd), size) })
	return errors.Join(err, serr)
}
