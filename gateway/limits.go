package gateway

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/ratelimit"
	"github.com/dnsward/dnsward/resolver"
	"github.com/dnsward/dnsward/xdp"
)

// newLimits builds the userspace limiter and, where configured, attaches the
// XDP program to the plain-UDP port. When XDP attaches, it polices UDP and
// the userspace limiter only sees TCP, DoT, DoH and DoQ; when it cannot
// attach, the reason is logged in one line and userspace polices UDP too.
// Either way the state is reported on GET /debug/limits.
func (g *Gateway) newLimits() error {
	if g.cfg.RateLimit == nil {
		return nil
	}
	lim, err := ratelimit.New(ratelimit.Config{Limits: *g.cfg.RateLimit, Logger: g.log, Metrics: g.registry})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.limiter = lim
	g.handler = newLimitedHandler(g.handler, lim)
	g.xdp = g.attachXDP()
	if g.xdp != nil {
		g.closers = append(g.closers, g.xdp)
	}
	return nil
}

// attachXDP attaches the XDP program when configured; nil when it is not
// configured or the kernel refused it (logged).
func (g *Gateway) attachXDP() *xdp.Filter {
	if g.cfg.XDP == nil {
		return nil
	}
	var ports []uint16
	for _, a := range g.cfg.Listen.DNS {
		ports = append(ports, netip.MustParseAddrPort(a).Port()) // validated by config
	}
	slices.Sort(ports)
	ports = slices.Compact(ports) // several addresses may share a port
	f, err := xdp.Attach(xdp.Config{
		Interfaces: g.cfg.XDP.Interfaces, Mode: xdp.Mode(g.cfg.XDP.Mode), Ports: ports,
		Limits: *g.cfg.RateLimit, Logger: g.log, Metrics: g.registry,
	})
	if err != nil {
		g.log.Warn("gateway: XDP not attached, limiting UDP in userspace", "err", err)
		return nil
	}
	return f // xdp logs each attachment
}

// limitedHandler charges every query that reached the resolver to its
// client's bucket. Plain UDP is charged earlier, right after the read (or in
// XDP), so the UDP transport skips this charge. An excess query on TCP or
// DoT is answered REFUSED with EDE 18 (Prohibited); on DoH and DoQ the
// handler returns ratelimit.ErrLimited, which they turn into HTTP 429 and
// DOQ_EXCESSIVE_LOAD.
type limitedHandler struct {
	next     resolver.Handler
	replayer resolver.Replayer // next, when it replays; else nil
	limiter  *ratelimit.Limiter
}

func newLimitedHandler(next resolver.Handler, lim *ratelimit.Limiter) *limitedHandler {
	h := &limitedHandler{next: next, limiter: lim}
	h.replayer, _ = next.(resolver.Replayer)
	return h
}

func (h *limitedHandler) ServeDNS(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
	if h.admit(req) {
		return h.next.ServeDNS(ctx, req)
	}
	switch req.Transport {
	case transport.DoH1, transport.DoH2, transport.DoH3, transport.DoQ:
		return nil, ratelimit.ErrLimited
	}
	resp := resolver.NewReply(req.Msg, dns.RcodeRefused)
	resolver.AddEDE(req.Msg, resp, resolver.EDEProhibited, "rate limited")
	return resp, nil
}

// admit charges req's client once, however often it is asked (Replay, then ServeDNS).
func (h *limitedHandler) admit(req *resolver.Request) bool {
	if req.Transport == transport.UDP {
		return true
	}
	if req.Admission == resolver.NotAdmitted {
		req.Admission = resolver.Refused
		if h.limiter.AllowVia(req.Transport, req.Client.Addr()) == ratelimit.Pass {
			req.Admission = resolver.Admitted
		}
	}
	return req.Admission == resolver.Admitted
}

// Replay charges the client as ServeDNS would, once the chain found q to be
// a query it could replay, and replays only for an admitted one: ServeDNS
// then answers the refused one as it always does. A query replay cannot
// parse is not charged here: ServeDNS charges it if it parses at all.
func (h *limitedHandler) Replay(req *resolver.Request, q, dst []byte, _ func(*resolver.Request) bool) ([]byte, uint32, bool) {
	if h.replayer == nil {
		return nil, 0, false
	}
	return h.replayer.Replay(req, q, dst, h.admit)
}

// Sent implements resolver.Replayer.
func (h *limitedHandler) Sent(req *resolver.Request, q, ans []byte) {
	if h.replayer != nil {
		h.replayer.Sent(req, q, ans)
	}
}
