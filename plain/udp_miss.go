package plain

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/resolver"
)

// udpJob is a UDP query replay could not answer, for one of its socket's
// workers. It is also the context the chain resolves the query in, so that
// MissAware finds it when the query reaches the upstreams.
type udpJob struct {
	context.Context // the server's: a forced shutdown cancels it
	s               *Server
	sock            *udpSocket
	buf             *[]byte // from packetPool, holding the query
	req             resolver.Request
	peer            netip.AddrPort // where the answer goes: req.Client, or the proxy that relayed the query
	state           atomic.Uint32  // jobHit, then jobPending or jobRefused, then jobDone
}

// udpJob states.
const (
	jobHit     uint32 = iota // answered without the upstreams so far
	jobPending               // waiting on the upstreams, no longer one of the socket's workers
	jobRefused               // would have waited on the upstreams with UDPMaxPending already waiting
	jobDone                  // answered
)

type udpJobKey struct{}

// Value finds the job itself under udpJobKey, other keys in the server's context.
func (j *udpJob) Value(key any) any {
	if key == (udpJobKey{}) {
		return j
	}
	return j.Context.Value(key)
}

// errTooManyPending fails a miss refused because UDPMaxPending misses wait already.
var errTooManyPending = fmt.Errorf("plain: UDP: %w", resolver.ErrBusy)

// MissAware wraps the upstream the resolver chain forwards to, so that a
// plain-DNS UDP query that misses the cache stops holding one of its
// socket's workers, which answer cache hits: when the query reaches the
// upstream, a new worker takes its worker's place and the query waits on
// as one of the server's pending misses (Config.UDPMaxPending). With that
// many pending already, the query is not sent but answered SERVFAIL with
// EDE 0 at once, and counted in dnsward_udp_misses_refused_total. Queries
// from other transports, prefetches and probes pass through untouched.
func MissAware(u resolver.Upstream) resolver.Upstream { return missAware{u} }

type missAware struct{ resolver.Upstream }

// Exchange moves a UDP query to the pending misses, then asks the upstream.
func (m missAware) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	if j, ok := ctx.Value(udpJobKey{}).(*udpJob); ok {
		if err := j.goPending(); err != nil {
			return nil, err
		}
	}
	return m.Upstream.Exchange(ctx, q)
}

// goPending makes j a pending miss and starts a worker in its worker's
// place; it fails when UDPMaxPending misses are pending already. A job that
// is pending, refused or answered already (a second upstream exchange for
// one query, say) passes.
func (j *udpJob) goPending() error {
	s := j.s
	if j.state.Load() != jobHit {
		return nil
	}
	if s.pending.Add(1) > int64(s.cfg.UDPMaxPending) {
		s.pending.Add(-1)
		if j.state.CompareAndSwap(jobHit, jobRefused) {
			s.missesRefused.Inc()
			return errTooManyPending
		}
		return nil
	}
	if !j.state.CompareAndSwap(jobHit, jobPending) {
		s.pending.Add(-1)
		return nil
	}
	s.wg.Add(1) // this job's worker still holds its own count
	go s.workUDP(j.sock)
	return nil
}

// finish marks j answered and reports whether its worker must end: it was
// a pending miss, whose place a new worker took.
func (j *udpJob) finish() (end bool) {
	if j.state.Swap(jobDone) == jobPending {
		j.s.pending.Add(-1)
		return true
	}
	return false
}
