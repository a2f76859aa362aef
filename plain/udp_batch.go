package plain

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/dnsward/dnsward/internal/transport"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/dnsward/dnsward/ratelimit"
	"github.com/dnsward/dnsward/resolver"
)

// udpBatch is how many datagrams one recvmmsg reads and one sendmmsg writes.
const udpBatch = 32

// batchConn reads and writes datagrams in batches (recvmmsg, sendmmsg).
// ipv4.Message and ipv6.Message are the same type.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

func newBatchConn(c *net.UDPConn, local netip.Addr) batchConn {
	if local.Is4() {
		return ipv4.NewPacketConn(c)
	}
	return ipv6.NewPacketConn(c)
}

// udpSocket is one UDP socket and the hand-off from its readers to its
// workers.
type udpSocket struct {
	c       *net.UDPConn
	jobs    chan *udpJob // unbuffered: a hand-off succeeds only to an idle worker
	readers atomic.Int32 // still reading; the last to stop closes jobs
}

// readUDP reads queries from c in batches of up to udpBatch per system
// call. The replayable ones (resolver.Replayer: cache hits repeated within a
// second) are answered on the spot, the whole batch's answers in one
// sendmmsg; the rest go to UDPMaxInflight workers. A query that misses the
// cache leaves its worker to a new one (MissAware), so the workers are busy
// only with work that needs no upstream; when all are, reading stops and the
// kernel queues further queries. Shutdown's read deadline ends the loop;
// the last of a socket's readers to end closes jobs, and the queries already
// handed to workers are still answered.
func (s *Server) readUDP(sock *udpSocket, local netip.Addr) {
	defer s.wg.Done()
	defer func() {
		if sock.readers.Add(-1) == 0 {
			close(sock.jobs)
		}
	}()

	c := sock.c
	bc := newBatchConn(c, local)
	in, out := make([]ipv4.Message, udpBatch), make([]ipv4.Message, udpBatch)
	for i := range in {
		// Real queries are far smaller; a longer datagram arrives cut short
		// and is answered FORMERR.
		in[i].Buffers = [][]byte{make([]byte, maxUDPQuery)}
		out[i].Buffers = [][]byte{make([]byte, 0, resolver.AdvertisedUDPSize)}
	}
	base := s.request(netip.AddrPort{}, local, transport.UDP)
	var req resolver.Request // offered to replay; one variable, so that it is not allocated per query
	for {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.draining.Err() != nil {
				return
			}
			continue
		}
		replies := 0
		for i := range in[:n] {
			m := &in[i]
			ua, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			from, wire := ua.AddrPort(), m.Buffers[0][:m.N]
			req = base
			req.Client = from
			limit := s.cfg.LimitUDP
			if s.trusted != nil {
				var ok bool
				if wire, ok = s.unwrapUDP(&req, wire); !ok {
					continue
				}
				limit = limit || (req.Client != from && s.cfg.Limiter != nil)
			}
			if limit {
				switch s.cfg.Limiter.AllowVia(transport.UDP, req.Client.Addr()) {
				case ratelimit.Drop:
					continue
				case ratelimit.Slip:
					s.slip(c, wire, from)
					continue
				}
			}
			o := &out[replies]
			if ans, ok := s.replay(&req, wire, o.Buffers[0][:0]); ok {
				o.Buffers[0], o.Addr = ans, m.Addr
				replies++
				continue
			}
			bp := packetPool.Get().(*[]byte)
			*bp = append((*bp)[:0], wire...)
			j := &udpJob{Context: s.ctx, s: s, sock: sock, buf: bp, req: req, peer: from}
			select {
			case sock.jobs <- j:
			default: // every worker is busy: send this batch's replays before waiting for one
				writeBatch(bc, out[:replies])
				replies = 0
				sock.jobs <- j
			}
		}
		writeBatch(bc, out[:replies])
	}
}

// workUDP answers the queries readUDP hands over until it closes jobs, or
// until the query it answers waited on the upstreams: a new worker has
// taken its place then (udpJob.goPending).
func (s *Server) workUDP(sock *udpSocket) {
	defer s.wg.Done()
	for j := range sock.jobs {
		s.answerUDP(j)
		packetPool.Put(j.buf)
		if j.finish() {
			return
		}
	}
}

// writeBatch sends ms, skipping a datagram the kernel refuses.
func writeBatch(bc batchConn, ms []ipv4.Message) {
	for len(ms) > 0 {
		k, err := bc.WriteBatch(ms, 0)
		if err != nil && k <= 0 {
			k = 1
		}
		ms = ms[k:]
	}
}
