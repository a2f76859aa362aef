package plain

import (
	"errors"
	"log/slog"
	"net"

	"golang.org/x/sys/unix"
)

// DefaultUDPBuffer is each UDP socket's receive and send buffer when the
// configuration names none: the kernel's default (net.core.rmem_default,
// usually 208 KiB) holds about 300 queries, which a burst at normal load
// overflows.
const DefaultUDPBuffer = 8 << 20

// setUDPBuffers sizes fd's receive and send buffers to size bytes. As root
// (CAP_NET_ADMIN) SO_RCVBUFFORCE and SO_SNDBUFFORCE pass the
// net.core.rmem_max and wmem_max caps; otherwise SO_RCVBUF and SO_SNDBUF
// get what the caps allow. socketBuffers reads back the result.
func setUDPBuffers(fd, size int) error {
	return errors.Join(
		setBuffer(fd, rcvBufForce, unix.SO_RCVBUF, size),
		setBuffer(fd, sndBufForce, unix.SO_SNDBUF, size))
}

func setBuffer(fd, force, capped, size int) error {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) == nil {
		return nil
	}
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, capped, size)
}

// socketBuffers reads back c's receive and send buffer sizes. Linux
// reports twice the size that was set: the other half is its allowance for
// bookkeeping.
func socketBuffers(c *net.UDPConn) (rcv, snd int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var rerr, serr error
	err = rc.Control(func(fd uintptr) {
		rcv, rerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		snd, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	})
	return rcv, snd, errors.Join(err, rerr, serr)
}

// logUDPBuffers says in one line what buffers the UDP sockets got, as a
// warning when the kernel gave less than asked (not root, and
// net.core.rmem_max or wmem_max lower than udp_buffer).
func (s *Server) logUDPBuffers() {
	if len(s.udp) == 0 {
		return
	}
	rcv, snd, err := socketBuffers(s.udp[0]) // every socket was set alike
	if err != nil {
		s.cfg.Logger.Warn("plain: cannot read back UDP socket buffers", "err", err)
		return
	}
	level, msg := slog.LevelInfo, "plain: UDP socket buffers"
	if rcv < 2*s.cfg.UDPBuffer || snd < 2*s.cfg.UDPBuffer {
		level, msg = slog.LevelWarn, "plain: UDP socket buffers smaller than asked (raise net.core.rmem_max and wmem_max, or run with CAP_NET_ADMIN)"
	}
	s.cfg.Logger.Log(s.ctx, level, msg, "sockets", len(s.udp), "asked_bytes", s.cfg.UDPBuffer,
		"receive_bytes", rcv/2, "send_bytes", snd/2)
}
