package plain

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/dnsward/dnsward/resolver"
)

// listenUDP opens a UDP socket with SO_REUSEPORT so that several sockets, each
// read by its own set of goroutines, share one address and the kernel spreads
// packets across them; its buffers are sized to buffer bytes.
func listenUDP(ap netip.AddrPort, buffer int) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr, berr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			berr = setUDPBuffers(int(fd), buffer)
		})
		return errors.Join(err, serr, berr)
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", ap.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// maxUDPQuery bounds the size of a query read over UDP.
const maxUDPQuery = 4096

// packetPool holds answer buffers.
var packetPool = sync.Pool{New: func() any { b := make([]byte, 0, 1500); return &b }}

// answerUDP resolves a query that replay could not answer through the
// chain and sends the answer, truncated to the client's limit.
func (s *Server) answerUDP(j *udpJob) {
	wire, req := *j.buf, &j.req
	q, resp := s.resolve(j, wire, req)
	if resp == nil {
		return
	}
	out := packetPool.Get().(*[]byte) // taken after the wait upstream, which may be long
	defer packetPool.Put(out)
	resp.Truncate(udpLimit(q))
	b, err := resp.PackBuffer((*out)[:cap(*out)])
	if err != nil {
		s.cfg.Logger.Warn("plain: cannot pack answer", "err", err)
		return
	}
	*out = b[:0]
	s.sent(req, wire, b)
	j.sock.c.WriteToUDPAddrPort(b, j.peer)
}

// udpLimit is the largest answer sent over UDP for q (resolver.UDPLimit).
func udpLimit(q *dns.Msg) int {
	if q != nil {
		if opt := q.IsEdns0(); opt != nil {
			return resolver.UDPLimit(int(opt.UDPSize()))
		}
	}
	return resolver.UDPLimit(0)
}

// slip answers a rate-limited query with an empty TC=1 reply so that a real
// client retries over TCP, where spoofed sources cannot follow.
func (s *Server) slip(c *net.UDPConn, wire []byte, from netip.AddrPort) {
	q := new(dns.Msg)
	if q.Unpack(wire) != nil || q.Response || len(q.Question) != 1 {
		return
	}
	resp := resolver.NewReply(q, dns.RcodeSuccess)
	resp.Truncated = true
	if b, err := resp.Pack(); err == nil {
		c.WriteToUDPAddrPort(b, from)
	}
}
