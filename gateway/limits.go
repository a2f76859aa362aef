package gateway

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/dnsward/dnsward/ratelimit"
	"github.com/dnsward/dnsward/xdp"
)

// newLimits builds the connection admission every transport shares (always
// on), the userspace query limiter when rate_limit sets query rates and,
// where configured, attaches the XDP program to the plain-UDP port. When XDP
// attaches, it polices UDP and the userspace limiter only sees TCP, DoT, DoH
// and DoQ; when it cannot attach, the reason is logged in one line and
// userspace polices UDP too. Either way the state is reported on GET
// /debug/limits.
func (g *Gateway) newLimits() error {
	conns, err := ratelimit.NewConns(ratelimit.ConnsConfig{Limits: g.cfg.ConnLimits(), Logger: g.log, Metrics: g.registry})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.conns = conns
	limits, on := g.cfg.QueryLimits()
	if !on {
		return nil
	}
	lim, err := ratelimit.New(ratelimit.Config{Limits: limits, Logger: g.log, Metrics: g.registry})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.limiter = lim // the chain's admission step (resolver.New)
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
		Limits: g.limiter.Limits(), Logger: g.log, Metrics: g.registry,
	})
	if err != nil {
		g.log.Warn("gateway: XDP not attached, limiting UDP in userspace", "err", err)
		return nil
	}
	return f // xdp logs each attachment
}
