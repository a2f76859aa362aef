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

	"github.com/dnsward/dnsward/ratelimit"
	"github.com/dnsward/dnsward/resolver"
)

// listenUDP opens a UDP socket with SO_REUSEPORT so that several sockets, each
// read by its own set of goroutines, share one address and the kernel spreads
// packets across them.
func listenUDP(ap netip.AddrPort) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
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

// readUDP reads queries from c and answers each before reading the next.
// UDPMaxInflight such readers share each socket: a query that waits on an
// upstream holds one reader while the others go on, and when all of them
// wait, the kernel queues (and in the end drops) further queries, which is
// the back-pressure a flood of misses deserves. Answering in the reader that
// read the packet costs no goroutine start or hand-off per query.
func (s *Server) readUDP(c *net.UDPConn, local netip.Addr) {
	defer s.wg.Done()
	// Real queries are far smaller; a longer datagram arrives cut short and
	// is answered FORMERR.
	buf := make([]byte, maxUDPQuery)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.draining.Err() != nil {
				return
			}
			continue
		}
		if s.cfg.LimitUDP {
			switch s.cfg.Limiter.AllowVia(resolver.UDP, from.Addr()) {
			case ratelimit.Drop:
				continue
			case ratelimit.Slip:
				s.slip(c, buf[:n], from)
				continue
			}
		}
		s.answerUDP(c, buf[:n], from, local)
	}
}

func (s *Server) answerUDP(c *net.UDPConn, wire []byte, from netip.AddrPort, local netip.Addr) {
	out := packetPool.Get().(*[]byte)
	defer packetPool.Put(out)
	req := s.request(from, local, resolver.UDP)
	if b, ok := s.replay(req, wire, *out); ok {
		*out = b[:0]
		c.WriteToUDPAddrPort(b, from)
		return
	}
	q, resp := s.resolve(wire, req)
	if resp == nil {
		return
	}
	resp.Truncate(udpLimit(q))
	b, err := resp.PackBuffer((*out)[:cap(*out)])
	if err != nil {
		s.cfg.Logger.Warn("plain: cannot pack answer", "err", err)
		return
	}
	*out = b[:0]
	s.sent(req, wire, b)
	c.WriteToUDPAddrPort(b, from)
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
